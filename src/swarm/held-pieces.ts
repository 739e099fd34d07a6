import { pieceSize } from './metainfo.js'
import type { Metainfo } from './metainfo.js'

/**
 * The last file this peer downloaded and verified, addressed by piece hash. A later torrent copies the pieces
 * whose SHA-1 it already holds instead of downloading them: between rounds, tensors that did not change (frozen
 * layers, adapters around a fixed base) keep their bytes, offsets and so their piece hashes. The pieces are then
 * announced like any other, so peers may fetch them from us.
 */
export class HeldPieces {
  readonly bytes: Uint8Array
  readonly infoHash: string
  private readonly at = new Map<string, { offset: number, length: number }>()

  constructor (meta: Metainfo, bytes: Uint8Array) {
    this.bytes = bytes
    this.infoHash = meta.infoHash
    for (let i = 0; i < meta.pieceCount; i++) {
      this.at.set(hex(meta.pieceHashes.subarray(i * 20, i * 20 + 20)), { offset: i * meta.pieceLength, length: pieceSize(meta, i) })
    }
  }

  /** The held bytes whose SHA-1 is `hash` and whose length is `length`, if any. */
  find (hash: Uint8Array, length: number): Uint8Array | undefined {
    const p = this.at.get(hex(hash))
    return p != null && p.length === length ? this.bytes.subarray(p.offset, p.offset + length) : undefined
  }
}

function hex (bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')
}
