import type { Logger } from '../logger.js'
import { parseMagnet } from '../swarm/metainfo.js'
import type { SwarmPeer } from '../swarm/swarm-peer.js'

export interface SwarmFetch {
  sha256: string
  serverPeerId?: string
  /** dialled without the tracker: the server's BitTorrent listener */
  directPeers: string[]
  /**
   * seconds without a model byte, and without a piece newly announced by a peer, before the direct stream is used;
   * FALLBACK_CEILING times as long without a byte, whatever the peers announce
   */
  fallbackS: number
  log: Logger
  signal: AbortSignal
}

export interface Fetched { bytes: Uint8Array, fromServer: number, fromPeers: number, /** held from the last round, not downloaded */ reused: number, fellBack: boolean }

/**
 * A client that has waited its turn this many times `fallbackS` without a byte, while its peers kept announcing
 * pieces, gives up on the swarm anyway.
 */
export const FALLBACK_CEILING = 5

/**
 * `transfer: bt`, with the server's direct stream as the way out: a swarm that gives this client no model bytes
 * and no news for `fallbackS` (no peer reachable, a port blocked) does not cost it the round. While peers announce
 * new pieces the swarm is at work and the client waits its turn for them: on slow links many clients wait tens of
 * seconds early in a round, and 64 clients on 1 Mbit/s links that each fetched the whole model from the server
 * after 20 s without a byte flooded its uplink, so no round finished. `direct` fetches the model from the server
 * and checks it.
 */
export async function fetchFromSwarm (swarm: SwarmPeer, magnet: string, opts: SwarmFetch, direct: () => Promise<Uint8Array>): Promise<Fetched> {
  const { infoHash } = parseMagnet(magnet)
  const stalled = new AbortController()
  let seen = 0
  let heard = 0
  let movedAt = performance.now()
  let heardAt = movedAt
  const watch = setInterval(() => {
    const now = performance.now()
    const bytes = swarm.downloaded(infoHash)
    const news = swarm.announced(infoHash)
    if (bytes > seen) { seen = bytes; movedAt = now }
    if (news > heard) { heard = news; heardAt = now }
    const quiet = now - Math.max(movedAt, heardAt) > opts.fallbackS * 1000
    if (quiet || now - movedAt > FALLBACK_CEILING * opts.fallbackS * 1000) stalled.abort()
  }, 250)
  try {
    const got = await swarm.download(magnet, { sha256: opts.sha256, serverPeerId: opts.serverPeerId, directPeers: opts.directPeers, signal: AbortSignal.any([opts.signal, stalled.signal]) })
    if (got.hashFailures > 0) opts.log.warn('pieces failed verification and were fetched again', { pieces: got.hashFailures })
    return { bytes: got.bytes, fromServer: got.fromServer, fromPeers: got.fromPeers, reused: got.reused, fellBack: false }
  } catch (err) {
    if (!stalled.signal.aborted || opts.signal.aborted) throw err
  } finally {
    clearInterval(watch)
  }
  opts.log.warn('no model bytes from the swarm in time; fetching the model from the server directly', { waitedS: Math.round((performance.now() - movedAt) / 1000), swarmBytes: seen, piecesAnnounced: heard })
  const bytes = await direct()
  return { bytes, fromServer: bytes.byteLength, fromPeers: 0, reused: 0, fellBack: true }
}
