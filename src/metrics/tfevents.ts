import { InvalidInputError } from '../errors.js'
import { maskedCrc32c } from './crc32c.js'

/**
 * The subset of TensorBoard's event format bt-ps writes and reads: TFRecord framing
 * (u64 length, masked CRC32C of it, payload, masked CRC32C of it) around `Event` protobufs
 * (wall_time = 1 double, step = 2 int64, file_version = 3 string, summary = 5) whose `Summary`
 * holds `Value`s (tag = 1 string, simple_value = 2 float).
 */
export interface ScalarEvent { wallTime: number, step: number, tag: string, value: number }

function varint (n: number | bigint): number[] {
  let v = BigInt(n)
  if (v < 0n) v += 1n << 64n
  const out: number[] = []
  do {
    let byte = Number(v & 0x7fn)
    v >>= 7n
    if (v > 0n) byte |= 0x80
    out.push(byte)
  } while (v > 0n)
  return out
}

const key = (field: number, wire: number): number[] => varint((field << 3) | wire)
function lengthDelimited (field: number, bytes: Uint8Array): number[] { return [...key(field, 2), ...varint(bytes.length), ...bytes] }

function encodeEvent (wallTime: number, step: number, body: number[]): Uint8Array {
  const wt = new Uint8Array(8)
  new DataView(wt.buffer).setFloat64(0, wallTime, true)
  return Uint8Array.from([...key(1, 1), ...wt, ...key(2, 0), ...varint(step), ...body])
}

export function encodeFileVersionEvent (wallTime: number): Uint8Array {
  return encodeEvent(wallTime, 0, lengthDelimited(3, new TextEncoder().encode('brain.Event:2')))
}

export function encodeScalarEvent (e: ScalarEvent): Uint8Array {
  const f = new Uint8Array(4)
  new DataView(f.buffer).setFloat32(0, e.value, true)
  const value = Uint8Array.from([...lengthDelimited(1, new TextEncoder().encode(e.tag)), ...key(2, 5), ...f])
  const summary = Uint8Array.from(lengthDelimited(1, value))
  return encodeEvent(e.wallTime, e.step, lengthDelimited(5, summary))
}

export function frameRecord (payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + payload.length + 4)
  const view = new DataView(out.buffer)
  view.setBigUint64(0, BigInt(payload.length), true)
  view.setUint32(8, maskedCrc32c(out.subarray(0, 8)), true)
  out.set(payload, 12)
  view.setUint32(12 + payload.length, maskedCrc32c(payload), true)
  return out
}

const bad = (message: string): InvalidInputError => new InvalidInputError('TFEVENTS_INVALID', 'tfevents', message)

/** Splits a TFRecord file into payloads, checking both CRCs of every record. */
export function readRecords (file: Uint8Array): Uint8Array[] {
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength)
  const out: Uint8Array[] = []
  let pos = 0
  while (pos < file.length) {
    if (pos + 12 > file.length) throw bad(`truncated record header at byte ${pos}`)
    const len = Number(view.getBigUint64(pos, true))
    if (view.getUint32(pos + 8, true) !== maskedCrc32c(file.subarray(pos, pos + 8))) throw bad(`length CRC mismatch at byte ${pos}`)
    if (pos + 12 + len + 4 > file.length) throw bad(`truncated record at byte ${pos}`)
    const payload = file.subarray(pos + 12, pos + 12 + len)
    if (view.getUint32(pos + 12 + len, true) !== maskedCrc32c(payload)) throw bad(`data CRC mismatch at byte ${pos}`)
    out.push(payload)
    pos += 12 + len + 4
  }
  return out
}

interface Field { field: number, wire: number, value: bigint | Uint8Array, at: number }

function* fields (buf: Uint8Array): Generator<Field> {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
  let pos = 0
  const readVarint = (): bigint => {
    let result = 0n
    for (let shift = 0n; shift < 70n; shift += 7n) {
      if (pos >= buf.length) throw bad('truncated varint')
      const b = buf[pos++]
      result |= BigInt(b & 0x7f) << shift
      if ((b & 0x80) === 0) return result
    }
    throw bad('varint too long')
  }
  while (pos < buf.length) {
    const k = Number(readVarint())
    const field = k >>> 3
    const wire = k & 7
    const at = pos
    if (wire === 0) yield { field, wire, value: readVarint(), at }
    else if (wire === 1) { if (pos + 8 > buf.length) throw bad('truncated fixed64'); yield { field, wire, value: view.getBigUint64(pos, true), at }; pos += 8 } else if (wire === 5) { if (pos + 4 > buf.length) throw bad('truncated fixed32'); yield { field, wire, value: BigInt(view.getUint32(pos, true)), at }; pos += 4 } else if (wire === 2) {
      const len = Number(readVarint())
      if (pos + len > buf.length) throw bad('truncated bytes field')
      yield { field, wire, value: buf.subarray(pos, pos + len), at }
      pos += len
    } else throw bad(`unsupported wire type ${wire}`)
  }
}

const f64 = (v: bigint): number => { const d = new DataView(new ArrayBuffer(8)); d.setBigUint64(0, v, true); return d.getFloat64(0, true) }
const f32 = (v: bigint): number => { const d = new DataView(new ArrayBuffer(4)); d.setUint32(0, Number(v), true); return d.getFloat32(0, true) }

/** Scalar summaries in one event payload (none for file_version and other events). */
export function decodeScalarEvents (payload: Uint8Array): ScalarEvent[] {
  let wallTime = 0
  let step = 0
  const summaries: Uint8Array[] = []
  for (const f of fields(payload)) {
    if (f.field === 1 && f.wire === 1) wallTime = f64(f.value as bigint)
    else if (f.field === 2 && f.wire === 0) step = Number(BigInt.asIntN(64, f.value as bigint))
    else if (f.field === 5 && f.wire === 2) summaries.push(f.value as Uint8Array)
  }
  const out: ScalarEvent[] = []
  for (const summary of summaries) {
    for (const v of fields(summary)) {
      if (v.field !== 1 || v.wire !== 2) continue
      let tag = ''
      let value: number | undefined
      for (const x of fields(v.value as Uint8Array)) {
        if (x.field === 1 && x.wire === 2) tag = new TextDecoder().decode(x.value as Uint8Array)
        else if (x.field === 2 && x.wire === 5) value = f32(x.value as bigint)
      }
      if (value !== undefined) out.push({ wallTime, step, tag, value })
    }
  }
  return out
}
