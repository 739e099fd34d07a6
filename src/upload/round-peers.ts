import { InvalidInputError } from '../errors.js'
import { id, int, list, record, str } from '../net/validate.js'

/**
 * A selected client as the round announcement names it in `job.upload: swarm`: shard s belongs to the s-th, and
 * the others dial it at `addr` (a multiaddr ending in its peer id, so the connection proves who answers). Without
 * an address nobody sends it shards, and the server fetches that shard from the contributors itself.
 */
export interface RoundPeer { clientId: string, peerId: string, addr?: string }

/** How a swarm-upload round cuts its update: `elements` float32 values in as many shards as `peers`. */
export interface UploadPlan { elements: number, peers: RoundPeer[] }

const PEER_ID = /^[1-9A-HJ-NP-Za-km-z]{46,60}$/

export function parseRoundPeer (v: unknown, f: string): RoundPeer {
  const p = record(v, f, ['clientId', 'peerId', 'addr'])
  const peerId = str(p.peerId, `${f}.peerId`, 64)
  if (!PEER_ID.test(peerId)) throw new InvalidInputError('MESSAGE_INVALID', `${f}.peerId`, 'expected a base58 libp2p peer id')
  const peer: RoundPeer = { clientId: id(p.clientId, `${f}.clientId`), peerId }
  if (p.addr === undefined) return peer
  const addr = str(p.addr, `${f}.addr`, 512)
  if (!addr.startsWith('/') || !addr.endsWith(`/p2p/${peerId}`)) throw new InvalidInputError('MESSAGE_INVALID', `${f}.addr`, 'expected a multiaddr ending in /p2p/<peerId>')
  return { ...peer, addr }
}

export function parseUploadPlan (v: unknown, f = 'upload'): UploadPlan {
  const m = record(v, f, ['elements', 'peers'])
  return { elements: int(m.elements, `${f}.elements`, 1, 2 ** 31), peers: list(m.peers, `${f}.peers`, 100000, parseRoundPeer) }
}

/**
 * Where other clients reach a client: the address its connection to the server came from (what the network routes)
 * with the port it listens on (what it declared at login), and its peer id.
 */
export function dialAddress (remoteAddr: string, listenPort: number, peerId: string): string | undefined {
  const m = /^\/(ip4|ip6|dns4|dns6|dns)\/([^/]+)\/tcp\/\d+/.exec(remoteAddr)
  if (m == null || listenPort <= 0) return undefined
  return `/${m[1]}/${m[2]}/tcp/${listenPort}/p2p/${peerId}`
}
