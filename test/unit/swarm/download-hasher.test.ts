import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { createHash, randomFillSync } from 'node:crypto'
import { DownloadHasher } from '../../../src/swarm/download-hasher.js'
import { sha1 } from '../../../src/swarm/metainfo.js'
import { BtpsError } from '../../../src/errors.js'

const PIECE = 64 * 1024

function download (shared: boolean, bytes: number): Uint8Array {
  const store = shared ? new Uint8Array(new SharedArrayBuffer(bytes)) : new Uint8Array(bytes)
  randomFillSync(store)
  return store
}

/** The pieces' SHA-1s, as a torrent's metainfo lists them. */
function pieceHashes (store: Uint8Array): Uint8Array {
  const n = Math.ceil(store.byteLength / PIECE)
  const out = new Uint8Array(n * 20)
  for (let i = 0; i < n; i++) out.set(sha1(store.subarray(i * PIECE, (i + 1) * PIECE)), i * 20)
  return out
}

const ignore = (): void => {}

test('pieces are checked on the worker as they complete: a good one holds, a corrupt one is named, and the file\'s SHA-256 follows', async () => {
  const hasher = new DownloadHasher(() => 0) // a stopped clock: pieces come as fast as can be
  try {
    const store = download(true, 6 * PIECE + 7)
    const hashes = pieceHashes(store)
    store[2 * PIECE + 5] ^= 0xff // piece 2 arrived corrupt
    const answers = new Map<number, boolean>()
    let wanted = 7
    let done: () => void = ignore
    const all = new Promise<void>(resolve => { done = resolve })
    const { sink, finish } = hasher.track()
    sink.start(store, PIECE, hashes, (i, ok) => { answers.set(i, ok); if (answers.size === wanted) done() })
    for (const i of [5, 2, 0, 6, 1, 3, 4]) assert.ok(sink.verify(i), 'handed to the worker')
    await all
    assert.equal([...answers].sort((a, b) => a[0] - b[0]), [[0, true], [1, true], [2, false], [3, true], [4, true], [5, true], [6, true]])
    // Fetched again, right this time.
    store[2 * PIECE + 5] ^= 0xff
    answers.clear()
    wanted = 1
    const redone = new Promise<void>(resolve => { done = resolve })
    assert.ok(sink.verify(2))
    await redone
    assert.equal([...answers], [[2, true]], 'piece 2, fetched again, holds')
    assert.is(await finish(store), createHash('sha256').update(store).digest('hex'))
    const plain = download(false, 2 * PIECE)
    const here = hasher.track()
    here.sink.start(plain, PIECE, pieceHashes(plain), ignore)
    assert.not.ok(here.sink.verify(0), 'a store that is not shared memory: the caller checks its pieces')
  } finally {
    await hasher.stop()
  }
})

test('pieces held in any order give the file\'s SHA-256, computed on the worker from shared memory', async () => {
  const hasher = new DownloadHasher()
  try {
    const store = download(true, 10 * PIECE + 123)
    const { sink, finish } = hasher.track()
    sink.start(store, PIECE, pieceHashes(store), ignore)
    for (const i of [3, 0, 10, 1, 2, 9, 4, 8, 5, 7, 6]) sink.held(i)
    assert.is(await finish(store), createHash('sha256').update(store).digest('hex'))
    const plain = download(false, 3 * PIECE)
    const here = hasher.track()
    here.sink.start(plain, PIECE, pieceHashes(plain), ignore)
    assert.is(await here.finish(plain), createHash('sha256').update(plain).digest('hex'), 'a store that is not shared memory is hashed here')
  } finally {
    await hasher.stop()
  }
})

test('pieces that complete slowly are left to the caller to check, and the file\'s SHA-256 still covers them', async () => {
  let clock = 0
  const hasher = new DownloadHasher(() => clock)
  try {
    const store = download(true, 8 * PIECE)
    const { sink, finish } = hasher.track()
    let done: () => void = ignore
    const first = new Promise<void>(resolve => { done = resolve })
    sink.start(store, PIECE, pieceHashes(store), () => { done() })
    assert.ok(sink.verify(0), 'the first piece goes to the worker')
    await first
    // One piece every 50 ms: 1.3 MB/s, the pace of a 10 Mbit/s link.
    const handed: boolean[] = []
    for (let i = 1; i < 8; i++) {
      clock += 50
      const toWorker = sink.verify(i)
      handed.push(toWorker)
      if (!toWorker) sink.held(i) // checked by the caller, as the swarm does
    }
    assert.equal(handed.slice(-4), [false, false, false, false], `slow pieces stay with the caller: ${JSON.stringify(handed)}`)
    assert.is(await finish(store), createHash('sha256').update(store).digest('hex'))
  } finally {
    await hasher.stop()
  }
})

test('a file whose pieces were not all reported held gives a typed error, not a digest of part of it', async () => {
  const hasher = new DownloadHasher()
  try {
    const store = download(true, 4 * PIECE)
    const { sink, finish } = hasher.track()
    sink.start(store, PIECE, pieceHashes(store), ignore)
    for (const i of [0, 1, 3]) sink.held(i)
    const err = await finish(store).then(() => undefined, (e: unknown) => e)
    assert.ok(err instanceof BtpsError && err.code === 'MODEL_HASH_MISMATCH', String(err))
  } finally {
    await hasher.stop()
  }
})

test.run()
