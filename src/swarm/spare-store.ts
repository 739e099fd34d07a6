/** Bytes touched per slice while warming: a few ms of page faults at a time, so the event loop keeps answering. */
const SLICE_BYTES = 1 << 20

/**
 * One model-sized buffer made ready before it is needed. A fresh buffer costs a page fault per 4 KiB the first
 * time each page is written; in virtual machines that is several ms per MB (1.1 s for 256 MiB on the 2-core test
 * machine), paid inside the next download and capping it near 200 MB/s. After each download a buffer of the same
 * size is allocated and touched a slice at a time while the peer is idle (training, waiting for the next round),
 * and the next download of that size writes into it. Its contents do not matter: a download writes every byte
 * before it reads any.
 */
export class SpareStore {
  private spare?: Uint8Array
  private warmed = 0
  private timer?: NodeJS.Immediate

  /** A buffer of `bytes` for a download: the spare when it has that size (warm or not), else a new one. */
  take (bytes: number): Uint8Array {
    const s = this.spare
    if (s == null || s.byteLength !== bytes) return sharedBytes(bytes)
    this.cancel()
    this.spare = undefined
    return s
  }

  /** Prepares a spare of `bytes` in the background (replacing one of another size). */
  prepare (bytes: number): void {
    if (this.spare?.byteLength === bytes) return
    this.cancel()
    this.spare = sharedBytes(bytes)
    this.warmed = 0
    const step = (): void => {
      const s = this.spare
      if (s == null) return
      s.fill(0, this.warmed, Math.min(s.byteLength, this.warmed + SLICE_BYTES))
      this.warmed += SLICE_BYTES
      this.timer = this.warmed < s.byteLength ? setImmediate(step) : undefined
    }
    this.timer = setImmediate(step)
  }

  /** Makes `bytes`, a buffer no longer used (its pages already touched), the spare. */
  recycle (bytes: Uint8Array): void {
    this.cancel()
    this.spare = bytes
    this.warmed = bytes.byteLength
  }

  /** Drops the spare (the peer is stopping). */
  clear (): void {
    this.cancel()
    this.spare = undefined
  }

  private cancel (): void {
    if (this.timer != null) clearImmediate(this.timer)
    this.timer = undefined
  }
}

/** Shared memory, so a worker thread can hash the download in place while it arrives (FileDigest). */
function sharedBytes (n: number): Uint8Array {
  return new Uint8Array(new SharedArrayBuffer(n))
}
