import { endianness } from 'node:os'
import { InvalidInputError } from '../errors.js'

/**
 * One self-describing binary per model (and per update):
 *   "BTPS" | u16 version | u16 reserved | u32 header length | header JSON | pad to 8 | raw little-endian tensor data
 * The header names every tensor with its shape, dtype and offset, plus the job and round.
 */
export const MAGIC = 'BTPS'
export const FORMAT_VERSION = 1
const PREFIX = 12
const MAX_HEADER = 1 << 20
export const DTYPES = { float32: 4, int32: 4 } as const
export type DType = keyof typeof DTYPES

export interface NamedTensor {
  name: string
  shape: number[]
  dtype: DType
  data: Float32Array | Int32Array
}

export interface TensorEntry { name: string, shape: number[], dtype: DType, offset: number, byteLength: number }
export interface ModelHeader { jobId: string, round: number, tensors: TensorEntry[] }
export interface ModelFile { header: ModelHeader, tensors: NamedTensor[] }

if (endianness() !== 'LE') throw new Error('bt-ps model files are little-endian; this host is big-endian')

const align8 = (n: number): number => Math.ceil(n / 8) * 8
const bad = (field: string, message: string): InvalidInputError => new InvalidInputError('MODEL_INVALID', `model.${field}`, message)

export function tensorSize (shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1)
}

/** Tensors to start on a piece boundary of a file seeded in pieces of `pieceLength` bytes (see serializeModel). */
export interface PieceAlignment { pieceLength: number, tensors: readonly number[] }

/** Where each tensor's data goes: offsets from the data's start, which is at `dataStart` in the file. */
function placeTensors (tensors: readonly NamedTensor[], dataStart: number, align?: PieceAlignment): { entries: TensorEntry[], end: number } {
  let offset = 0
  const entries = tensors.map((t, i) => {
    const byteLength = tensorSize(t.shape) * DTYPES[t.dtype]
    if (t.data.byteLength !== byteLength) throw bad(t.name, `data has ${t.data.byteLength} bytes, shape ${JSON.stringify(t.shape)} needs ${byteLength}`)
    if (align != null && align.tensors.includes(i)) offset += (align.pieceLength - (dataStart + offset) % align.pieceLength) % align.pieceLength
    const entry = { name: t.name, shape: [...t.shape], dtype: t.dtype, offset, byteLength }
    offset += align8(byteLength)
    return entry
  })
  return { entries, end: offset }
}

/**
 * `into`, when it has the file's exact size, is written over instead of a new buffer: a model-sized buffer costs a
 * page fault per 4 KiB the first time it is written (about 1 s for 256 MiB on the 2-core test machine).
 *
 * `align`: these tensors start a piece (zeros fill the gap, less than a piece each). Where a tensor that changes
 * between rounds follows one that does not (a trained layer after frozen ones), the frozen one's last piece is then
 * its own, keeps its hash, and is not downloaded again by a client that holds it.
 */
export function serializeModel (meta: { jobId: string, round: number }, tensors: readonly NamedTensor[], into?: Uint8Array, align?: PieceAlignment): Uint8Array {
  // Spaces pad the round number to its widest, so the data keeps its offsets from round to round and the pieces of
  // tensors that did not change keep their hashes (a peer reuses the pieces it holds).
  const pad = ' '.repeat(Math.max(0, String(Number.MAX_SAFE_INTEGER).length - String(meta.round).length))
  // Aligned offsets depend on where the data starts, which depends on the header that lists them: the start only
  // moves forward until the header fits before it (spaces fill the rest), so this ends.
  let dataStart = 0
  let placed: ReturnType<typeof placeTensors>
  let header: Uint8Array
  for (;;) {
    placed = placeTensors(tensors, dataStart, align)
    const text = JSON.stringify({ jobId: meta.jobId, round: meta.round, tensors: placed.entries }) + pad
    header = new TextEncoder().encode(text)
    const needed = align8(PREFIX + header.byteLength)
    if (needed === dataStart) break
    if (needed < dataStart) {
      header = new TextEncoder().encode(text + ' '.repeat(dataStart - PREFIX - header.byteLength))
      break
    }
    dataStart = needed
  }
  const { entries, end: offset } = placed
  const reuse = into != null && into.byteLength === dataStart + offset
  const out = reuse ? into : new Uint8Array(dataStart + offset)
  out.set(new TextEncoder().encode(MAGIC), 0)
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength)
  view.setUint16(4, FORMAT_VERSION, true)
  view.setUint16(6, 0, true)
  view.setUint32(8, header.byteLength, true)
  out.set(header, PREFIX)
  if (reuse) out.fill(0, PREFIX + header.byteLength, dataStart)
  tensors.forEach((t, i) => {
    const at = dataStart + entries[i].offset
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), at)
    // The bytes after a tensor, up to the next one's start (alignment), are zero in a reused buffer too.
    if (reuse) out.fill(0, at + t.data.byteLength, i + 1 < entries.length ? dataStart + entries[i + 1].offset : out.byteLength)
  })
  return out
}

/** Reads only the header; throws MODEL_INVALID naming what is wrong. */
export function parseModelHeader (bytes: Uint8Array): { header: ModelHeader, dataStart: number } {
  if (bytes.byteLength < PREFIX) throw bad('length', `${bytes.byteLength} bytes is shorter than the ${PREFIX}-byte prefix`)
  if (new TextDecoder().decode(bytes.subarray(0, 4)) !== MAGIC) throw bad('magic', 'not a bt-ps model file')
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const version = view.getUint16(4, true)
  if (version !== FORMAT_VERSION) throw bad('version', `unsupported format version ${version}`)
  const headerLength = view.getUint32(8, true)
  if (headerLength > MAX_HEADER || PREFIX + headerLength > bytes.byteLength) throw bad('headerLength', `${headerLength} does not fit in ${bytes.byteLength} bytes`)
  let raw: unknown
  try {
    raw = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(PREFIX, PREFIX + headerLength)))
  } catch {
    throw bad('header', 'is not valid UTF-8 JSON')
  }
  return { header: parseHeaderFields(raw), dataStart: align8(PREFIX + headerLength) }
}

function parseHeaderFields (raw: unknown): ModelHeader {
  if (raw == null || typeof raw !== 'object') throw bad('header', 'expected an object')
  const h = raw as Record<string, unknown>
  if (typeof h.jobId !== 'string') throw bad('jobId', 'expected a string')
  if (!Number.isSafeInteger(h.round) || (h.round as number) < 0) throw bad('round', `expected a non-negative integer, got ${JSON.stringify(h.round)}`)
  if (!Array.isArray(h.tensors) || h.tensors.length === 0 || h.tensors.length > 100000) throw bad('tensors', 'expected a non-empty list')
  let expectedOffset = 0
  const tensors = h.tensors.map((t: unknown, i: number): TensorEntry => {
    const e = (t ?? {}) as Record<string, unknown>
    const f = `tensors[${i}]`
    if (typeof e.name !== 'string' || e.name.length === 0 || e.name.length > 256) throw bad(`${f}.name`, 'expected a name')
    if (typeof e.dtype !== 'string' || !(e.dtype in DTYPES)) throw bad(`${f}.dtype`, `unsupported dtype ${JSON.stringify(e.dtype)}`)
    if (!Array.isArray(e.shape) || e.shape.length > 8 || !e.shape.every(d => Number.isSafeInteger(d) && d >= 0 && d <= 2 ** 31)) throw bad(`${f}.shape`, `invalid shape ${JSON.stringify(e.shape)}`)
    const dtype = e.dtype as DType
    const byteLength = tensorSize(e.shape as number[]) * DTYPES[dtype]
    if (e.byteLength !== byteLength) throw bad(`${f}.byteLength`, `${JSON.stringify(e.byteLength)} does not match shape (${byteLength})`)
    // In order and apart: at or after the end of the tensor before, on an 8-byte boundary (a gap is alignment).
    if (!Number.isSafeInteger(e.offset) || (e.offset as number) < expectedOffset || (e.offset as number) % 8 !== 0) throw bad(`${f}.offset`, `${JSON.stringify(e.offset)}, expected a multiple of 8 from ${expectedOffset}`)
    const offset = e.offset as number
    expectedOffset = offset + align8(byteLength)
    return { name: e.name, shape: e.shape as number[], dtype, offset, byteLength }
  })
  return { jobId: h.jobId, round: h.round as number, tensors }
}

export function modelByteLength (header: ModelHeader, dataStart: number): number {
  const last = header.tensors[header.tensors.length - 1]
  return dataStart + last.offset + align8(last.byteLength)
}

/** Parses a whole model file; the tensors are copies, so `bytes` may be reused. */
export function parseModel (bytes: Uint8Array): ModelFile {
  const { header, dataStart } = parseModelHeader(bytes)
  const total = modelByteLength(header, dataStart)
  if (total !== bytes.byteLength) throw bad('length', `file has ${bytes.byteLength} bytes, header describes ${total}`)
  const tensors = header.tensors.map(e => {
    // A copy of its own, aligned for the typed array (Buffer#slice would share the file's pooled buffer).
    const copy = new Uint8Array(e.byteLength)
    copy.set(bytes.subarray(dataStart + e.offset, dataStart + e.offset + e.byteLength))
    const data = e.dtype === 'float32' ? new Float32Array(copy.buffer) : new Int32Array(copy.buffer)
    return { name: e.name, shape: e.shape, dtype: e.dtype, data }
  })
  return { header, tensors }
}

/** Checks that `got` has exactly the tensors (names, shapes, dtypes, order) of `want`. */
export function assertSameLayout (want: readonly TensorEntry[], got: readonly TensorEntry[], field = 'update'): void {
  if (want.length !== got.length) throw new InvalidInputError('UPDATE_LAYOUT', `${field}.tensors`, `has ${got.length} tensors, model has ${want.length}`)
  want.forEach((w, i) => {
    const g = got[i]
    if (g.name !== w.name) throw new InvalidInputError('UPDATE_LAYOUT', `${field}.tensors[${i}].name`, `${JSON.stringify(g.name)}, expected ${JSON.stringify(w.name)}`)
    if (g.dtype !== w.dtype) throw new InvalidInputError('UPDATE_LAYOUT', `${field}.tensors[${i}].dtype`, `${g.dtype}, expected ${w.dtype}`)
    if (g.shape.join('x') !== w.shape.join('x')) throw new InvalidInputError('UPDATE_LAYOUT', `${field}.tensors[${i}].shape`, `${JSON.stringify(g.shape)}, expected ${JSON.stringify(w.shape)}`)
  })
}
