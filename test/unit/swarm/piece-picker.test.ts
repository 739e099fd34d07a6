import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { PiecePicker, blockKey } from '../../../src/swarm/piece-picker.js'
import { BLOCK_BYTES } from '../../../src/swarm/wire.js'

const PIECE = 4 * BLOCK_BYTES
const all = (n: number): Uint8Array => new Uint8Array(n).fill(1)
const only = (n: number, ...idx: number[]): Uint8Array => { const a = new Uint8Array(n); for (const i of idx) a[i] = 1; return a }
const none = { has: () => false }

test('rarest piece first, and a piece is fetched from one peer at a time', () => {
  const p = new PiecePicker<string>({ pieceCount: 4, pieceLength: PIECE, length: 4 * PIECE, random: () => 0.99 })
  p.availability.set([3, 1, 2, 3])
  const a = p.pick('a', all(4), 4, none)
  assert.equal(a.map(r => r.index), [1, 1, 1, 1], 'all four blocks of the rarest piece')
  assert.equal(a.map(r => r.begin), [0, BLOCK_BYTES, 2 * BLOCK_BYTES, 3 * BLOCK_BYTES])
  const b = p.pick('b', all(4), 4, none)
  assert.equal(b.map(r => r.index), [2, 2, 2, 2], 'the next rarest, not the piece a is fetching')
})

test('the last piece is short; its last block asks only for what is there', () => {
  const p = new PiecePicker<string>({ pieceCount: 2, pieceLength: PIECE, length: PIECE + BLOCK_BYTES + 100 })
  const r = p.pick('a', only(2, 1), 10, none)
  assert.equal(r.map(x => [x.begin, x.length]), [[0, BLOCK_BYTES], [BLOCK_BYTES, 100]])
})

test('blocks complete a piece; unasked or repeated blocks are unwanted; the whole piece is reported once', () => {
  const p = new PiecePicker<string>({ pieceCount: 1, pieceLength: 2 * BLOCK_BYTES, length: 2 * BLOCK_BYTES })
  assert.is(p.received('a', 0, 0, BLOCK_BYTES), 'unwanted', 'nothing asked yet')
  p.pick('a', all(1), 2, none)
  assert.is(p.received('a', 0, 0, BLOCK_BYTES), 'block')
  assert.is(p.received('a', 0, 0, BLOCK_BYTES), 'unwanted', 'the same block twice')
  assert.is(p.received('a', 0, BLOCK_BYTES, 7), 'unwanted', 'wrong length')
  assert.is(p.received('a', 0, BLOCK_BYTES, BLOCK_BYTES), 'piece')
  assert.equal([...p.settle(0)], ['a'])
  p.markHave(0)
  assert.ok(p.complete)
})

test('a peer that leaves releases its piece: another peer takes it over, keeping the blocks already in', () => {
  const p = new PiecePicker<string>({ pieceCount: 2, pieceLength: PIECE, length: 2 * PIECE })
  p.pick('a', only(2, 0), 4, none)
  p.received('a', 0, 0, BLOCK_BYTES)
  assert.equal(p.pick('b', only(2, 0), 4, none), [], 'not endgame (piece 1 is untouched): b may not take a\'s piece')
  p.release('a', [blockKey(0, 1), blockKey(0, 2), blockKey(0, 3)])
  const r = p.pick('b', only(2, 0), 4, none)
  assert.equal(r.map(x => x.begin / BLOCK_BYTES), [1, 2, 3], 'only the blocks still missing')
})

test('endgame: once every missing piece is under way, a second peer is asked for the blocks still missing', () => {
  const p = new PiecePicker<string>({ pieceCount: 2, pieceLength: PIECE, length: 2 * PIECE })
  p.markHave(0)
  const a = p.pick('a', all(2), 2, none)
  assert.equal(a.map(x => x.begin / BLOCK_BYTES), [0, 1])
  assert.ok(p.endgame)
  const inflightB = new Set<number>()
  const b = p.pick('b', all(2), 10, inflightB)
  assert.equal(b.map(x => x.begin / BLOCK_BYTES), [2, 3, 0, 1], 'unrequested blocks first, then duplicates of a\'s')
  for (const r of b) inflightB.add(blockKey(r.index, r.begin / BLOCK_BYTES))
  assert.equal(p.pick('b', all(2), 10, inflightB), [], 'never the same block twice from one peer')
  assert.equal(p.pick('c', all(2), 10, none).map(x => x.begin / BLOCK_BYTES), [2, 3], 'at most two requests per block: only b\'s blocks are left to double')
  assert.equal(p.pick('d', all(2), 10, none), [])
})

test('endgame: a peer holds at most two second requests at a time, and takes another once one is answered', () => {
  const p = new PiecePicker<string>({ pieceCount: 2, pieceLength: PIECE, length: 2 * PIECE, random: () => 0.99 })
  p.pick('a', all(2), 8, none) // a is asked for every block: endgame, with nothing left unasked
  assert.ok(p.endgame)
  const inflightB = new Set<number>()
  const take = (): number[] => p.pick('b', all(2), 10, inflightB).map(r => { inflightB.add(blockKey(r.index, r.begin / BLOCK_BYTES)); return r.index * 4 + r.begin / BLOCK_BYTES })
  assert.equal(take(), [0, 1], 'two of a\'s eight blocks, not all eight')
  assert.equal(take(), [], 'no third while both are open')
  assert.is(p.received('a', 0, 0, BLOCK_BYTES), 'block', 'a answers the first block before b does')
  assert.equal(take(), [2], 'one of its two second requests was answered (by a): b may ask for one more')
  p.release('b', [blockKey(0, 1)])
  inflightB.delete(blockKey(0, 1))
  assert.equal(take(), [1], 'a given-up second request frees its place')
  assert.equal(p.pick('c', all(2), 10, none).map(r => r.index * 4 + r.begin / BLOCK_BYTES), [3, 4], 'c has two of its own')
})

test('a failed piece starts over and names every peer that supplied it', () => {
  const p = new PiecePicker<string>({ pieceCount: 2, pieceLength: 2 * BLOCK_BYTES, length: 4 * BLOCK_BYTES })
  p.markHave(1)
  p.pick('a', only(2, 0), 1, none)
  p.received('a', 0, 0, BLOCK_BYTES)
  p.pick('b', only(2, 0), 2, none) // endgame: b may take the second block
  assert.is(p.received('b', 0, BLOCK_BYTES, BLOCK_BYTES), 'piece')
  assert.equal([...p.settle(0)].sort(), ['a', 'b'])
  assert.equal(p.pick('c', only(2, 0), 4, none).length, 2, 'both blocks are asked for again')
})

test.run()
