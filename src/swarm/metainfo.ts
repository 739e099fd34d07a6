import { createHash } from 'node:crypto'
import { bdecode, bencode, isDict } from './bencode.js'
import { InvalidInputError } from '../errors.js'

/** What a peer needs to know of a single-file v1 torrent. `info` is the bencoded info dictionary itself. */
export interface Metainfo {
  infoHash: string
  name: string
  length: number
  pieceLength: number
  pieceCount: number
  /** 20 bytes of SHA-1 per piece */
  pieceHashes: Uint8Array
  info: Uint8Array
}

/** Largest info dictionary accepted from a peer (2^20 pieces' hashes). */
export const MAX_INFO_BYTES = 20 * 1024 * 1024 + 4096

export const sha1 = (bytes: Uint8Array): Buffer => createHash('sha1').update(bytes).digest()

/** Whether piece `index` of `store` has the SHA-1 that `pieceHashes` (20 bytes a piece) gives it. */
export function pieceMatches (store: Uint8Array, pieceLength: number, pieceHashes: Uint8Array, index: number): boolean {
  const at = index * pieceLength
  return sha1(store.subarray(at, Math.min(store.byteLength, at + pieceLength))).equals(pieceHashes.subarray(index * 20, index * 20 + 20))
}

export function pieceSize (meta: Pick<Metainfo, 'length' | 'pieceLength'>, index: number): number {
  return Math.min(meta.pieceLength, meta.length - index * meta.pieceLength)
}

/** The metainfo of `bytes` as one file called `name`, pieces of `pieceLength` bytes. */
export function createMetainfo (bytes: Uint8Array, name: string, pieceLength: number): Metainfo {
  const pieceCount = Math.max(1, Math.ceil(bytes.byteLength / pieceLength))
  const pieceHashes = new Uint8Array(pieceCount * 20)
  for (let i = 0; i < pieceCount; i++) pieceHashes.set(sha1(bytes.subarray(i * pieceLength, (i + 1) * pieceLength)), i * 20)
  // Keys in sorted order, as bencoding requires; the encoder sorts too.
  const info = bencode({ length: bytes.byteLength, name: new TextEncoder().encode(name), 'piece length': pieceLength, pieces: pieceHashes })
  return { infoHash: sha1(info).toString('hex'), name, length: bytes.byteLength, pieceLength, pieceCount, pieceHashes, info }
}

const bad = (field: string, message: string): never => { throw new InvalidInputError('METAINFO_INVALID', field, message) }

/** Parses a bencoded info dictionary from a peer, checking it hashes to `infoHash` when given. */
export function parseInfo (info: Uint8Array, infoHash?: string): Metainfo {
  if (info.byteLength > MAX_INFO_BYTES) bad('info', `larger than ${MAX_INFO_BYTES} bytes`)
  const hash = sha1(info).toString('hex')
  if (infoHash !== undefined && hash !== infoHash) bad('info', `hashes to ${hash}, expected ${infoHash}`)
  const dict = bdecode(info, 'info')
  if (!isDict(dict)) return bad('info', 'not a dictionary')
  if ('files' in dict) bad('info.files', 'multi-file torrents are not models')
  const { length, 'piece length': pieceLength, pieces, name } = dict
  if (typeof length !== 'number' || !Number.isSafeInteger(length) || length <= 0) bad('info.length', `expected a positive integer, got ${String(length)}`)
  if (typeof pieceLength !== 'number' || !Number.isSafeInteger(pieceLength) || pieceLength < 16384 || pieceLength > 64 * 1024 * 1024) bad('info.piece length', `expected 16 KiB..64 MiB, got ${String(pieceLength)}`)
  if (!(pieces instanceof Uint8Array) || pieces.byteLength % 20 !== 0) return bad('info.pieces', 'expected a multiple of 20 bytes')
  const pieceCount = Math.ceil((length as number) / (pieceLength as number))
  if (pieces.byteLength !== pieceCount * 20) bad('info.pieces', `${pieces.byteLength / 20} hashes for ${pieceCount} pieces`)
  if (!(name instanceof Uint8Array) || name.byteLength === 0 || name.byteLength > 255) return bad('info.name', 'expected 1..255 bytes')
  const text = new TextDecoder().decode(name)
  if (/[/\\\0]|^\.\.?$/.test(text)) bad('info.name', `not a plain file name: ${JSON.stringify(text)}`)
  return { infoHash: hash, name: text, length: length as number, pieceLength: pieceLength as number, pieceCount, pieceHashes: pieces, info }
}

/** A .torrent file for `meta` with `announce` as its trackers. */
export function torrentFile (meta: Metainfo, announce: string[]): Uint8Array {
  const te = new TextEncoder()
  const info = bdecode(meta.info)
  return bencode({ announce: te.encode(announce[0] ?? ''), 'announce-list': announce.map(a => [te.encode(a)]), 'created by': te.encode('bt-ps'), info })
}

export function magnetUri (meta: Pick<Metainfo, 'infoHash' | 'name'>, announce: string[]): string {
  return `magnet:?xt=urn:btih:${meta.infoHash}&dn=${encodeURIComponent(meta.name)}` + announce.map(a => `&tr=${encodeURIComponent(a)}`).join('')
}

/** The info hash and trackers of a magnet link (hex `btih` only: bt-ps writes no other kind). */
export function parseMagnet (uri: string): { infoHash: string, name?: string, trackers: string[] } {
  if (typeof uri !== 'string' || !uri.startsWith('magnet:?') || uri.length > 8192) return bad('magnet', 'not a magnet link')
  const params = new URLSearchParams(uri.slice('magnet:?'.length))
  const xt = params.getAll('xt').map(x => /^urn:btih:([0-9a-fA-F]{40})$/.exec(x)?.[1]).find(x => x != null)
  if (xt == null) return bad('magnet.xt', 'expected urn:btih:<40 hex digits>')
  return { infoHash: xt.toLowerCase(), name: params.get('dn') ?? undefined, trackers: params.getAll('tr') }
}

/** The info hash of a round's magnet link; undefined when there is none or it is not one bt-ps can read. */
export function magnetInfoHash (uri: string | undefined): string | undefined {
  if (uri == null) return undefined
  try {
    return parseMagnet(uri).infoHash
  } catch {
    return undefined
  }
}
