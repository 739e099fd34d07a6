import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'

/**
 * A private job's tracker serves only torrents its server registered: `POST /bt-ps/torrents/<infohash>` with
 * `Authorization: Bearer <ms>.<nonce>.<HMAC-SHA256 of the infohash, the time and the nonce under the job's key>`.
 * The key never travels; a proof is good within PROOF_WINDOW_MS of its time and only once, so one seen on the
 * wire cannot be replayed.
 */
export const REGISTER_PATH = '/bt-ps/torrents/'
/** How far a proof's time may be from the tracker's clock (either way): hosts' clocks need to agree this well. */
export const PROOF_WINDOW_MS = 60_000

const INFO_HASH = /^[0-9a-f]{40}$/

/** What a private tracker's `/stats` takes as `Authorization: Bearer <token>`: derived from the job's key, never the key. */
export function statsToken (psk: Uint8Array): string {
  return createHmac('sha256', psk).update('bt-ps tracker stats').digest('hex')
}

export function checkStatsToken (psk: Uint8Array, authorization: string | undefined): boolean {
  const token = /^Bearer ([0-9a-f]{64})$/.exec(authorization ?? '')?.[1]
  return token != null && timingSafeEqual(Buffer.from(token, 'hex'), Buffer.from(statsToken(psk), 'hex'))
}

function proofMac (psk: Uint8Array, infoHash: string, at: number, nonce: string): string {
  return createHmac('sha256', psk).update(`bt-ps tracker registration\n${infoHash}\n${at}\n${nonce}`).digest('hex')
}

/** A fresh proof for registering `infoHash` now. */
export function registrationProof (psk: Uint8Array, infoHash: string, at = Date.now(), nonce = randomBytes(16).toString('hex')): string {
  return `${at}.${nonce}.${proofMac(psk, infoHash, at, nonce)}`
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
  /** nonces of accepted proofs → until when they would still be in the window */
  private readonly used = new Map<string, number>()
  private readonly psk: Uint8Array
  private readonly limit: number

  constructor (psk: Uint8Array, limit = 256) {
    this.psk = psk
    this.limit = limit
  }

  has (infoHash: string): boolean { return this.known.has(infoHash) }
  get size (): number { return this.known.size }

  /** Checks one registration request; a valid one adds its infohash. */
  register (method: string | undefined, path: string, authorization: string | undefined, now = Date.now()): RegistrationVerdict {
    if (!path.startsWith(REGISTER_PATH)) return { status: 404, reason: `no such path ${JSON.stringify(path.slice(0, 80))}` }
    if (method !== 'POST') return { status: 405, reason: 'registration takes POST' }
    const infoHash = path.slice(REGISTER_PATH.length)
    if (!INFO_HASH.test(infoHash)) return { status: 400, reason: 'expected 40 lowercase hex digits of an infohash after /bt-ps/torrents/' }
    const proof = /^Bearer (\d{1,15})\.([0-9a-f]{32})\.([0-9a-f]{64})$/.exec(authorization ?? '')
    if (proof == null) return { status: 401, reason: 'missing Authorization: Bearer <ms>.<nonce>.<proof>' }
    const [at, nonce, mac] = [Number(proof[1]), proof[2], proof[3]]
    if (!timingSafeEqual(Buffer.from(mac, 'hex'), Buffer.from(proofMac(this.psk, infoHash, at, nonce), 'hex'))) return { status: 401, reason: 'proof does not match this job\'s key' }
    const skew = now - at
    if (Math.abs(skew) > PROOF_WINDOW_MS) return { status: 401, reason: `proof made ${Math.round(skew / 1000)} s from the tracker's clock (at most ${PROOF_WINDOW_MS / 1000} s): a replay, or the hosts' clocks disagree` }
    for (const [n, until] of this.used) if (until < now) this.used.delete(n)
    if (this.used.has(nonce)) return { status: 401, reason: 'proof already used: a replay' }
    this.used.set(nonce, at + PROOF_WINDOW_MS)
    this.known.delete(infoHash)
    this.known.set(infoHash, true)
    if (this.known.size > this.limit) this.known.delete(this.known.keys().next().value as string)
    return { status: 204 }
  }
}
