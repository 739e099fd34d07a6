import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { parseModel, parseModelHeader, serializeModel, assertSameLayout } from '../../../src/model/serialize.js'
import type { NamedTensor } from '../../../src/model/serialize.js'
import { InvalidInputError } from '../../../src/errors.js'

const tensors = (): NamedTensor[] => [
  { name: 'fc1/kernel', shape: [3, 2], dtype: 'float32', data: Float32Array.from([1, -2, 3.5, 4, 5, 6e-8]) },
  { name: 'fc1/bias', shape: [2], dtype: 'float32', data: Float32Array.from([0.25, -0.5]) },
  { name: 'steps', shape: [], dtype: 'int32', data: Int32Array.from([7]) }
]

const code = (fn: () => unknown): string => {
  try { fn() } catch (err) { return err instanceof InvalidInputError ? `${err.code} ${err.field}` : `untyped: ${String(err)}` }
  return 'no error'
}

test('a model round-trips bit-exactly with its names, shapes, dtypes, job and round', () => {
  const bytes = serializeModel({ jobId: 'job-a', round: 12 }, tensors())
  const back = parseModel(bytes)
  assert.is(back.header.jobId, 'job-a')
  assert.is(back.header.round, 12)
  assert.equal(back.tensors.map(t => [t.name, t.shape, t.dtype]), tensors().map(t => [t.name, t.shape, t.dtype]))
  back.tensors.forEach((t, i) => { assert.equal(Array.from(t.data), Array.from(tensors()[i].data)) })
  assert.is(new TextDecoder().decode(bytes.subarray(0, 4)), 'BTPS')
  assert.is(parseModelHeader(bytes).dataStart % 8, 0, 'tensor data is 8-byte aligned')
})

test('the tensor data keeps its offset whatever the round, so unchanged tensors keep their bytes in the file', () => {
  const at = (round: number): { dataStart: number, bytes: Uint8Array } => {
    const bytes = serializeModel({ jobId: 'job-a', round }, tensors())
    return { dataStart: parseModelHeader(bytes).dataStart, bytes }
  }
  const first = at(1)
  for (const round of [9, 10, 12345, Number.MAX_SAFE_INTEGER]) {
    const later = at(round)
    assert.is(later.dataStart, first.dataStart, `round ${round}`)
    assert.ok(Buffer.from(later.bytes.subarray(later.dataStart)).equals(Buffer.from(first.bytes.subarray(first.dataStart))), `round ${round}: same data bytes`)
    assert.is(parseModel(later.bytes).header.round, round)
  }
})

test('a model written over an earlier file of the same size has the bytes of a fresh one, padding included', () => {
  const first = serializeModel({ jobId: 'job-a', round: 1 }, tensors())
  first.fill(0xee, first.byteLength - 8) // stale bytes where the next file has padding
  const moved = tensors()
  moved[0].data[0] = 42
  const over = serializeModel({ jobId: 'job-a', round: 2 }, moved, first)
  assert.ok(over === first, 'the buffer of the same size is reused')
  assert.equal(over, serializeModel({ jobId: 'job-a', round: 2 }, moved), 'identical to a fresh serialization')
  const other = serializeModel({ jobId: 'job-a', round: 3 }, moved, new Uint8Array(5))
  assert.is(parseModel(other).header.round, 3, 'a buffer of another size is left alone')
})

test('a model read from a file (a Node Buffer inside a larger pool) parses to tensors of their own size', () => {
  const bytes = serializeModel({ jobId: 'job-a', round: 1 }, tensors())
  const pooled = Buffer.concat([Buffer.alloc(100, 7), Buffer.from(bytes), Buffer.alloc(100, 7)]).subarray(100, 100 + bytes.byteLength)
  const back = parseModel(pooled)
  back.tensors.forEach((t, i) => { assert.equal(Array.from(t.data), Array.from(tensors()[i].data)) })
})

test('raw data is little-endian float32 at the offsets the header gives', () => {
  const bytes = serializeModel({ jobId: 'j', round: 0 }, tensors())
  const { header, dataStart } = parseModelHeader(bytes)
  const bias = header.tensors[1]
  const view = new DataView(bytes.buffer, bytes.byteOffset + dataStart + bias.offset, 8)
  assert.is(view.getFloat32(0, true), 0.25)
  assert.is(view.getFloat32(4, true), -0.5)
})

test('aligned for fine-tuning: the first trained tensor starts a piece, so no piece of the frozen ones changes', () => {
  const PIECE = 64 * 1024
  const filled = (name: string, floats: number, v: number): NamedTensor => ({ name, shape: [floats], dtype: 'float32', data: new Float32Array(floats).fill(v) })
  // fc1 frozen (20.3 pieces and a bias), fc2 trained: only its values move from round to round
  const model = (v: number): NamedTensor[] => [filled('fc1/kernel', 333000, 1), filled('fc1/bias', 64, 2), filled('fc2/kernel', 640, v), filled('fc2/bias', 10, v)]
  const align = { pieceLength: PIECE, tensors: [2] }
  const file = (round: number, v: number, a?: typeof align): Uint8Array => serializeModel({ jobId: 'j', round }, model(v), undefined, a)
  const changedPieces = (x: Uint8Array, y: Uint8Array): number[] => Array.from({ length: Math.ceil(x.byteLength / PIECE) }, (_v, k) => k)
    .filter(k => !Buffer.from(x.subarray(k * PIECE, (k + 1) * PIECE)).equals(Buffer.from(y.subarray(k * PIECE, (k + 1) * PIECE))))
  const changedBytes = (x: Uint8Array, y: Uint8Array): number => changedPieces(x, y).reduce((n, k) => n + Math.min(PIECE, x.byteLength - k * PIECE), 0)

  const first = file(1, 5, align)
  const { header, dataStart } = parseModelHeader(first)
  assert.is((dataStart + header.tensors[2].offset) % PIECE, 0, 'fc2/kernel starts a piece')
  assert.is(header.tensors[1].offset, header.tensors[0].offset + 333000 * 4, 'the frozen tensors stay packed')
  parseModel(first).tensors.forEach((t, i) => { assert.equal(Array.from(t.data), Array.from(model(5)[i].data), t.name) })
  const padding = first.byteLength - file(1, 5).byteLength
  assert.ok(padding > 0 && padding < PIECE, `padding ${padding} B: less than a piece`)

  const later = file(2, 6, align)
  const pieces = Math.ceil(first.byteLength / PIECE)
  assert.equal(changedPieces(first, later), [0, pieces - 1], 'round 2 changes the header\'s piece and fc2\'s alone')
  const aligned = changedBytes(first, later)
  const unaligned = changedBytes(file(1, 5), file(2, 6))
  assert.is(aligned, PIECE + (640 + 10) * 4, 'what changed: the header\'s piece and fc2\'s bytes')
  assert.ok(unaligned > aligned, `without alignment the last piece also carries fc1's tail: ${unaligned} B changed against ${aligned} B`)
})

test('a header may leave gaps between tensors but not let them overlap or sit off 8-byte boundaries', () => {
  const file = (offsets: number[]): Uint8Array => {
    const body = new TextEncoder().encode(JSON.stringify({ jobId: 'j', round: 1, tensors: offsets.map((offset, i) => ({ name: `t${i}`, shape: [2], dtype: 'float32', offset, byteLength: 8 })) }))
    const dataStart = Math.ceil((12 + body.length) / 8) * 8
    const out = new Uint8Array(dataStart + offsets[offsets.length - 1] + 8)
    out.set(new TextEncoder().encode('BTPS')); new DataView(out.buffer).setUint16(4, 1, true); new DataView(out.buffer).setUint32(8, body.length, true); out.set(body, 12)
    return out
  }
  assert.is(parseModel(file([0, 64])).tensors.length, 2, 'a gap is alignment')
  assert.is(code(() => parseModel(file([0, 4]))), 'MODEL_INVALID model.tensors[1].offset')
  assert.is(code(() => parseModel(file([8, 12]))), 'MODEL_INVALID model.tensors[1].offset')
  assert.is(code(() => parseModel(file([16, 8]))), 'MODEL_INVALID model.tensors[1].offset')
})

test('damaged files are refused with a typed error naming what is wrong', () => {
  const good = serializeModel({ jobId: 'j', round: 1 }, tensors())
  assert.is(code(() => parseModel(good.subarray(0, 5))), 'MODEL_INVALID model.length')
  const badMagic = good.slice(); badMagic[0] = 0x58
  assert.is(code(() => parseModel(badMagic)), 'MODEL_INVALID model.magic')
  const badVersion = good.slice(); badVersion[4] = 9
  assert.is(code(() => parseModel(badVersion)), 'MODEL_INVALID model.version')
  assert.is(code(() => parseModel(good.subarray(0, good.length - 4))), 'MODEL_INVALID model.length')
  const huge = good.slice(); new DataView(huge.buffer).setUint32(8, 0xffffffff, true)
  assert.is(code(() => parseModel(huge)), 'MODEL_INVALID model.headerLength')
  const json = (h: unknown): Uint8Array => {
    const body = new TextEncoder().encode(JSON.stringify(h))
    const out = new Uint8Array(16 + body.length + 64)
    out.set(new TextEncoder().encode('BTPS')); new DataView(out.buffer).setUint16(4, 1, true); new DataView(out.buffer).setUint32(8, body.length, true); out.set(body, 12)
    return out
  }
  assert.is(code(() => parseModel(json({ jobId: 'j', round: -1, tensors: [] }))), 'MODEL_INVALID model.round')
  assert.is(code(() => parseModel(json({ jobId: 'j', round: 1, tensors: [{ name: 'a', shape: [2], dtype: 'float64', offset: 0, byteLength: 16 }] }))), 'MODEL_INVALID model.tensors[0].dtype')
  assert.is(code(() => parseModel(json({ jobId: 'j', round: 1, tensors: [{ name: 'a', shape: [2], dtype: 'float32', offset: 0, byteLength: 12 }] }))), 'MODEL_INVALID model.tensors[0].byteLength')
})

test('random bytes never crash the parser: they give MODEL_INVALID', () => {
  let seed = 42
  const rnd = (): number => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed / 0x7fffffff }
  const good = serializeModel({ jobId: 'j', round: 1 }, tensors())
  for (let i = 0; i < 2000; i++) {
    const b = i % 2 === 0 ? Uint8Array.from({ length: Math.floor(rnd() * 300) }, () => Math.floor(rnd() * 256)) : good.slice()
    if (i % 2 === 1) for (let k = 0; k < 3; k++) b[Math.floor(rnd() * b.length)] = Math.floor(rnd() * 256)
    try { parseModel(b) } catch (err) { assert.ok(err instanceof InvalidInputError && err.code === 'MODEL_INVALID', `input ${i}: ${String(err)}`) }
  }
})

test('layout check names the first tensor that differs', () => {
  const a = parseModelHeader(serializeModel({ jobId: 'j', round: 1 }, tensors())).header.tensors
  const b = a.map(t => ({ ...t }))
  b[1] = { ...b[1], shape: [3] }
  assert.is(code(() => { assertSameLayout(a, b) }), 'UPDATE_LAYOUT update.tensors[1].shape')
  assert.is(code(() => { assertSameLayout(a, a.slice(0, 2)) }), 'UPDATE_LAYOUT update.tensors')
  assert.is(code(() => { assertSameLayout(a, a) }), 'no error')
})

test.run()
