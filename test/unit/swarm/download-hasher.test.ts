import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { createHash, randomFillSync } from 'node:crypto'
import { DownloadHasher } from '../../../src/swarm/download-hasher.js'
import { BtpsError } from '../../../src/errors.js'

const PIECE = 64 * 1024

function download (shared: boolean, bytes: number): Uint8Array {
  const store = shared ? new Uint8Array(new SharedArrayBuffer(bytes)) : new Uint8Array(bytes)
  randomFillSync(store)
  return store
}

test('pieces held in any order give the file\'s SHA-256, computed on the worker from shared memory', async () => {
  const hasher = new DownloadHasher()
  try {
    const store = download(true, 10 * PIECE + 123)
    const { sink, finish } = hasher.track()
    sink.start(store, PIECE, 11)
    for (const i of [3, 0, 10, 1, 2, 9, 4, 8, 5, 7, 6]) sink.held(i)
    assert.is(await finish(store), createHash('sha256').update(store).digest('hex'))
    const plain = download(false, 3 * PIECE)
    const here = hasher.track()
    here.sink.start(plain, PIECE, 3)
    assert.is(await here.finish(plain), createHash('sha256').update(plain).digest('hex'), 'a store that is not shared memory is hashed here')
  } finally {
    await hasher.stop()
  }
})

test('a file whose pieces were not all reported held gives a typed error, not a digest of part of it', async () => {
  const hasher = new DownloadHasher()
  try {
    const store = download(true, 4 * PIECE)
    const { sink, finish } = hasher.track()
    sink.start(store, PIECE, 4)
    for (const i of [0, 1, 3]) sink.held(i)
    const err = await finish(store).then(() => undefined, (e: unknown) => e)
    assert.ok(err instanceof BtpsError && err.code === 'MODEL_HASH_MISMATCH', String(err))
  } finally {
    await hasher.stop()
  }
})

test.run()
