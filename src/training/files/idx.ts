import { readFileSync } from 'node:fs'
import { basename } from 'node:path'
import { gunzipSync } from 'node:zlib'
import { InvalidInputError } from '../../errors.js'

/** One IDX file (the MNIST and EMNIST format, optionally gzipped): its dimensions and unsigned-byte data. */
export interface IdxArray { dims: number[], data: Uint8Array }

const UBYTE = 0x08

/**
 * Reads an IDX file: two zero bytes, the element type, the number of dimensions, each dimension as a big-endian
 * u32, then the data. Only unsigned bytes (type 0x08), what MNIST and EMNIST use, are accepted.
 */
export function readIdx (path: string): IdxArray {
  const field = `job.data_path (${basename(path)})`
  let bytes: Buffer = readFileSync(path)
  if (path.endsWith('.gz')) {
    try { bytes = gunzipSync(bytes) } catch (err) { throw new InvalidInputError('DATA_INVALID', field, `is not gzip data: ${(err as Error).message}`) }
  }
  if (bytes.length < 4 || bytes[0] !== 0 || bytes[1] !== 0) throw new InvalidInputError('DATA_INVALID', field, 'is not an IDX file (it must start with two zero bytes)')
  if (bytes[2] !== UBYTE) throw new InvalidInputError('DATA_INVALID', field, `holds element type 0x${bytes[2].toString(16)}; only unsigned bytes (0x08) are supported`)
  const ndims = bytes[3]
  if (ndims < 1 || bytes.length < 4 + 4 * ndims) throw new InvalidInputError('DATA_INVALID', field, `has ${ndims} dimensions and a ${bytes.length}-byte file`)
  const dims = Array.from({ length: ndims }, (_v, i) => bytes.readUInt32BE(4 + 4 * i))
  const count = dims.reduce((a, b) => a * b, 1)
  const start = 4 + 4 * ndims
  if (bytes.length - start !== count) throw new InvalidInputError('DATA_INVALID', field, `dimensions ${dims.join('×')} need ${count} bytes of data, the file has ${bytes.length - start}`)
  return { dims, data: new Uint8Array(bytes.buffer, bytes.byteOffset + start, count) }
}
