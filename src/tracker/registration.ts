import { createHmac, timingSafeEqual } from 'node:crypto'

/**
 * A private job's tracker serves only torrents its server registered: `POST /bt-ps/torrents/<infohash>` with
 * `Authorization: Bearer <HMAC-SHA256 of the infohash under the job's pre-shared key>`. The key never travels.
 */
export const REGISTER_PATH = '/bt-ps/torrents/'

const INFO_HASH = /^[0-9a-f]{40}$/

/** What a private tracker's `/stats` takes as `Authorization: Bearer <token>`: derived from the job's key, never the key. */
export function statsToken (psk: Uint8Array): string {
  return createHmac('sha256', psk).update('bt-ps tracker stats').digest('hex')
}

export function checkStatsToken (psk: Uint8Array, authorization: string | undefined): boolean {
  const token = /^Bearer ([0-9a-f]{64})$/.exec(authorization ?? '')?.[1]
  return token != null && timingSafeEqual(Buffer.from(token, 'hex'), Buffer.from(statsToken(psk), 'hex'))
}

export function registrationProof (psk: Uint8Array, infoHash: string): string {
  return createHmac('sha256', psk).update(`bt-ps tracker registration\n${infoHash}`).digest('hex')
}

/** The registration URL for a torrent on the tracker behind an announce URL (bt-ps serves HTTP and UDP on one port). */
export function registrationUrl (announceUrl: string, infoHash: string): string | undefined {
  let url: URL
  try {
    url = new URL(announceUrl)
  } catch {
    return undefined
  }
  if (!['udp:', 'http:', 'https:'].includes(url.protocol) || url.port === '') return undefined
  return `${url.protocol === 'https:' ? 'https' : 'http'}://${url.host}${REGISTER_PATH}${infoHash}`
}

export type RegistrationVerdict = { status: 204 } | { status: 400 | 401 | 404 | 405, reason: string }

/**
 * The tracker's side: the infohashes its job registered, newest last, at most `limit` (older rounds' torrents
 * fall out; their swarms are long over).
 */
export class RegisteredTorrents {
  private readonly known = new Map<string, true>()
  private readonly psk: Uint8Array
  private readonly limit: number

  constructor (psk: Uint8Array, limit = 256) {
    this.psk = psk
    this.limit = limit
  }

  has (infoHash: string): boolean { return this.known.has(infoHash) }
  get size (): number { return this.known.size }

  /** Checks one registration request; a valid one adds its infohash. */
  register (method: string | undefined, path: string, authorization: string | undefined): RegistrationVerdict {
    if (!path.startsWith(REGISTER_PATH)) return { status: 404, reason: `no such path ${JSON.stringify(path.slice(0, 80))}` }
    if (method !== 'POST') return { status: 405, reason: 'registration takes POST' }
    const infoHash = path.slice(REGISTER_PATH.length)
    if (!INFO_HASH.test(infoHash)) return { status: 400, reason: 'expected 40 lowercase hex digits of an infohash after /bt-ps/torrents/' }
    const proof = /^Bearer ([0-9a-f]{64})$/.exec(authorization ?? '')?.[1]
    if (proof == null) return { status: 401, reason: 'missing Authorization: Bearer <proof>' }
    if (!timingSafeEqual(Buffer.from(proof, 'hex'), Buffer.from(registrationProof(this.psk, infoHash), 'hex'))) return { status: 401, reason: 'proof does not match this job\'s key' }
    this.known.delete(infoHash)
    this.known.set(infoHash, true)
    if (this.known.size > this.limit) this.known.delete(this.known.keys().next().value as string)
    return { status: 204 }
  }
}
