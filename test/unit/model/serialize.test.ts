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
