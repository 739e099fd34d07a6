import { InvalidInputError } from '../errors.js'
import { bdecode, bdecodePrefix, bencode, isDict } from './bencode.js'
import { MAX_INFO_BYTES } from './metainfo.js'

/**
 * The extension handshake (BEP 10) and metadata exchange (BEP 9): how a peer that has only a magnet link gets the
 * info dictionary from the swarm. Metadata travels in 16 KiB pieces.
 */
export const METADATA_PIECE_BYTES = 16 * 1024
/** The id under which this peer accepts ut_metadata messages. */
export const LOCAL_UT_METADATA = 1

/** `listenPort`: where the peer accepts connections (BEP 10's `p`). */
export interface ExtHandshake { utMetadata?: number, metadataSize?: number, listenPort?: number }
export type MetadataMessage = { type: 'request' | 'reject', piece: number } | { type: 'data', piece: number, totalSize: number, data: Uint8Array }

const bad = (field: string, message: string): never => { throw new InvalidInputError('WIRE_PROTOCOL', field, message) }

/** `reqq`: requests we queue from one peer before dropping more. `listenPort`: the port we accept connections on. */
export function encodeExtHandshake (metadataSize?: number, reqq?: number, listenPort?: number): Uint8Array {
  return bencode({ m: { ut_metadata: LOCAL_UT_METADATA }, ...(metadataSize != null ? { metadata_size: metadataSize } : {}), ...(reqq != null ? { reqq } : {}), ...(listenPort != null ? { p: listenPort } : {}), v: new TextEncoder().encode('bt-ps') })
}

export function parseExtHandshake (payload: Uint8Array): ExtHandshake {
  const d = bdecode(payload, 'extended handshake')
  if (!isDict(d)) return bad('extended handshake', 'not a dictionary')
  const m = d.m
  const id = isDict(m) ? m.ut_metadata : undefined
  const size = d.metadata_size
  const port = d.p
  return {
    utMetadata: typeof id === 'number' && id > 0 && id < 256 ? id : undefined,
    metadataSize: typeof size === 'number' && size > 0 && size <= MAX_INFO_BYTES ? size : undefined,
    listenPort: typeof port === 'number' && Number.isInteger(port) && port > 0 && port < 65536 ? port : undefined
  }
}

export function encodeMetadataMessage (msg: MetadataMessage): Uint8Array {
  const type = { request: 0, data: 1, reject: 2 }[msg.type]
  if (msg.type !== 'data') return bencode({ msg_type: type, piece: msg.piece })
  return Buffer.concat([bencode({ msg_type: type, piece: msg.piece, total_size: msg.totalSize }), msg.data])
}

export function parseMetadataMessage (payload: Uint8Array): MetadataMessage {
  const { value, end } = bdecodePrefix(payload, 'ut_metadata')
  if (!isDict(value)) return bad('ut_metadata', 'not a dictionary')
  const { msg_type: type, piece, total_size: totalSize } = value
  if (typeof piece !== 'number' || piece < 0 || piece * METADATA_PIECE_BYTES >= MAX_INFO_BYTES) return bad('ut_metadata.piece', `bad piece ${String(piece)}`)
  if (type === 0) return { type: 'request', piece }
  if (type === 2) return { type: 'reject', piece }
  if (type !== 1) return bad('ut_metadata.msg_type', `unknown type ${String(type)}`)
  if (typeof totalSize !== 'number' || totalSize <= 0 || totalSize > MAX_INFO_BYTES) return bad('ut_metadata.total_size', `bad size ${String(totalSize)}`)
  const data = payload.subarray(end)
  if (data.byteLength > METADATA_PIECE_BYTES) bad('ut_metadata.data', `${data.byteLength} bytes in one piece`)
  return { type: 'data', piece, totalSize, data }
}

/** Collects metadata pieces from one peer at a time. */
export class MetadataAssembly {
  readonly size: number
  private readonly pieces: Array<Uint8Array | undefined>

  constructor (size: number) {
    this.size = size
    this.pieces = new Array(Math.ceil(size / METADATA_PIECE_BYTES)).fill(undefined)
  }

  get count (): number { return this.pieces.length }

  /** Stores one piece; returns the whole info dictionary once every piece is in. */
  add (piece: number, data: Uint8Array): Uint8Array | undefined {
    const expected = Math.min(METADATA_PIECE_BYTES, this.size - piece * METADATA_PIECE_BYTES)
    if (piece >= this.pieces.length || data.byteLength !== expected) bad('ut_metadata.data', `piece ${piece} has ${data.byteLength} bytes, expected ${expected}`)
    this.pieces[piece] = Uint8Array.from(data)
    if (this.pieces.some(p => p == null)) return undefined
    return Buffer.concat(this.pieces as Uint8Array[])
  }
}
