import { createHash } from 'node:crypto'
import { Worker } from 'node:worker_threads'
import { BtpsError } from '../errors.js'
import { pieceMatches } from './metainfo.js'

/**
 * The worker: checks each downloaded piece's SHA-1 and follows the pieces held in file order, hashing the
 * contiguous prefix into the file's SHA-256, reading the download's buffer (a SharedArrayBuffer) in place. Plain
 * JavaScript, so it runs without the TypeScript loader.
 */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads')
const { createHash } = require('node:crypto')
const files = new Map()
const piece = (f, i) => f.bytes.subarray(i * f.pieceLength, Math.min(f.bytes.byteLength, (i + 1) * f.pieceLength))
const advance = (f) => {
  while (f.next < f.held.length && f.held[f.next] === 1) f.hash.update(piece(f, f.next++))
}
parentPort.on('message', (m) => {
  const f = files.get(m.id)
  if (m.type === 'start') {
    files.set(m.id, { bytes: new Uint8Array(m.buffer), pieceLength: m.pieceLength, hashes: m.hashes, held: new Uint8Array(m.hashes.byteLength / 20), next: 0, hash: createHash('sha256') })
  } else if (m.type === 'verify' && f != null) {
    const ok = []
    const bad = []
    for (const i of m.pieces) {
      if (createHash('sha1').update(piece(f, i)).digest().equals(f.hashes.subarray(i * 20, i * 20 + 20))) {
        f.held[i] = 1
        ok.push(i)
      } else bad.push(i)
    }
    // The answer first: the peer announces the pieces and asks for more while this thread goes on hashing.
    parentPort.postMessage({ type: 'checked', id: m.id, ok, bad })
    advance(f)
  } else if (m.type === 'held' && f != null) {
    for (const i of m.pieces) f.held[i] = 1
    advance(f)
  } else if (m.type === 'finish') {
    parentPort.postMessage({ type: 'digest', id: m.id, digest: f != null && f.next === f.held.length ? f.hash.digest('hex') : null })
    files.delete(m.id)
  } else if (m.type === 'drop') {
    files.delete(m.id)
  }
})
`

/** Bytes of pieces held (checked here, or copied from an earlier download) told to the worker at once; the rest at the end. */
const HELD_BATCH_BYTES = 4 * 1024 * 1024
/**
 * Pieces that complete slower than this are checked on the caller's thread: SHA-1 of a 64 KiB piece there takes
 * ~0.1 ms, less than a message to the worker and its answer, which also wake a second thread. At this rate hashing
 * here takes ~4% of a core. (N = 16 clients at 20 Mbit/s on the 2-core machine: 3–5% less CPU per client per round.)
 */
const INLINE_BELOW_BYTES_PER_S = 32 * 1024 * 1024

/** One download's side of the hashing: where the download lies, its pieces' SHA-1s, and what it holds. */
export interface DigestSink {
  /** `checked` gets the answer for every piece `verify` took. */
  start: (store: Uint8Array, pieceLength: number, pieceHashes: Uint8Array, checked: (index: number, ok: boolean) => void) => void
  /** A piece the caller checked, or copied from one verified before. */
  held: (index: number) => void
  /** Checks a downloaded piece's SHA-1 on the worker; false when there is none, or pieces come slowly (the caller checks it). */
  verify: (index: number) => boolean
}

interface WorkerAnswer { type: 'checked' | 'digest', id: number, ok?: number[], bad?: number[], digest?: string | null }

/**
 * Each download's piece checks and SHA-256, on a worker thread while the download goes on, so the event loop that
 * reads the sockets neither hashes every piece (a fifth of its time on a 256 MiB loopback download) nor makes a
 * second pass over every byte at the end (a third of the time). Pieces go to the worker as they complete; while
 * it checks some, the next ones wait and go together. Pieces that come slowly are checked by the caller and told
 * to the worker in batches, for the SHA-256 only. A store that is not shared memory, or whose worker failed,
 * is hashed on the caller's thread, and pieces the worker had not answered for are checked there.
 */
export class DownloadHasher {
  private worker?: Worker
  /** counts workers started: a download started on a worker that failed is hashed on the caller's thread */
  private generation = 0
  private nextId = 1
  private readonly digests = new Map<number, { resolve: (digest: string | null) => void, reject: (err: Error) => void }>()
  private readonly checks = new Map<number, { answered: (ok: number[], bad: number[]) => void, lost: () => void }>()

  /** `now`: the clock that times pieces to check (ms), injectable for tests. */
  constructor (private readonly now: () => number = () => performance.now()) {}

  /** A sink for one download; `finish` resolves with the file's SHA-256 once every piece is held. */
  track (): { sink: DigestSink, finish: (bytes: Uint8Array) => Promise<string>, drop: () => void } {
    const id = this.nextId++
    let gen = -1
    const live = (): Worker | undefined => gen === this.generation ? this.worker : undefined
    let file: { store: Uint8Array, pieceLength: number, pieceHashes: Uint8Array, checked: (index: number, ok: boolean) => void } | undefined
    /** pieces waiting for the worker, and those it is checking */
    const waiting: number[] = []
    let checking: number[] = []
    /** when `verify` was last called, and the mean time between its calls (ms; 0 until there are two) */
    let lastVerifyAt: number | undefined
    let verifyGapMs = 0
    const sendChecks = (): void => {
      const w = live()
      if (w == null || checking.length > 0 || waiting.length === 0) return
      checking = waiting.splice(0)
      w.postMessage({ type: 'verify', id, pieces: checking })
    }
    const sink: DigestSink = {
      start: (store, pieceLength, pieceHashes, checked) => {
        file = { store, pieceLength, pieceHashes, checked }
        if (!(store.buffer instanceof SharedArrayBuffer) || store.byteOffset !== 0 || store.byteLength !== store.buffer.byteLength) return
        this.need().postMessage({ type: 'start', id, buffer: store.buffer, pieceLength, hashes: pieceHashes.slice() })
        gen = this.generation
        this.checks.set(id, {
          answered: (ok, bad) => {
            checking = []
            for (const i of ok) file?.checked(i, true)
            for (const i of bad) file?.checked(i, false)
            sendChecks()
          },
          lost: () => {
            const f = file
            const unanswered = [...checking, ...waiting.splice(0)]
            checking = []
            if (f == null) return
            for (const i of unanswered) f.checked(i, pieceMatches(f.store, f.pieceLength, f.pieceHashes, i))
          }
        })
      },
      held: (index) => {
        if (live() == null || file == null) return
        // Told in batches: a message per piece cost the event loop more than the hashing it moved away.
        held.push(index)
        if (held.length * file.pieceLength >= HELD_BATCH_BYTES) post()
      },
      verify: (index) => {
        if (live() == null || file == null) return false
        const now = this.now()
        if (lastVerifyAt != null) verifyGapMs += (now - lastVerifyAt - verifyGapMs) / 4
        lastVerifyAt = now
        if (file.pieceLength * 1000 < INLINE_BELOW_BYTES_PER_S * verifyGapMs) return false
        // Pieces checked here go first, so the worker's SHA-256 does not stop at one of them until the end.
        post()
        waiting.push(index)
        sendChecks()
        return true
      }
    }
    const held: number[] = []
    const post = (): void => {
      if (held.length > 0) live()?.postMessage({ type: 'held', id, pieces: held.splice(0) })
    }
    const finish = async (bytes: Uint8Array): Promise<string> => {
      post()
      this.checks.delete(id)
      const w = live()
      if (w == null) return createHash('sha256').update(bytes).digest('hex')
      const digest = await new Promise<string | null>((resolve, reject) => {
        this.digests.set(id, { resolve, reject })
        w.postMessage({ type: 'finish', id })
      })
      if (digest == null) throw new BtpsError('MODEL_HASH_MISMATCH', 'the hashing worker did not see every piece of the file')
      return digest
    }
    const drop = (): void => {
      this.checks.delete(id)
      file = undefined
      live()?.postMessage({ type: 'drop', id })
    }
    return { sink, finish, drop }
  }

  private need (): Worker {
    if (this.worker != null) return this.worker
    const worker = this.worker = new Worker(WORKER_SOURCE, { eval: true })
    this.generation++
    worker.unref()
    worker.on('message', (m: WorkerAnswer) => {
      if (m.type === 'checked') {
        this.checks.get(m.id)?.answered(m.ok ?? [], m.bad ?? [])
        return
      }
      this.digests.get(m.id)?.resolve(m.digest ?? null)
      this.digests.delete(m.id)
    })
    const fail = (why: string): void => {
      if (this.worker !== worker) return
      this.worker = undefined
      // Downloads waiting for a digest fail (and fall back); later ones are hashed on the caller's thread, and so
      // are the pieces the worker was checking.
      for (const d of this.digests.values()) d.reject(new BtpsError('MODEL_HASH_MISMATCH', `the hashing worker failed: ${why}`))
      this.digests.clear()
      const checks = [...this.checks.values()]
      this.checks.clear()
      for (const c of checks) c.lost()
    }
    worker.on('error', (err) => { fail(err.message) })
    worker.on('exit', (code) => { fail(`exited with code ${code}`) })
    return worker
  }

  async stop (): Promise<void> {
    const w = this.worker
    this.worker = undefined
    this.checks.clear()
    for (const d of this.digests.values()) d.reject(new BtpsError('ABORTED', 'the peer is stopping'))
    this.digests.clear()
    if (w != null) await w.terminate()
  }
}
