import type { Logger } from '../logger.js'
import { parseMagnet } from '../swarm/metainfo.js'
import type { SwarmPeer } from '../swarm/swarm-peer.js'

export interface SwarmFetch {
  sha256: string
  serverPeerId?: string
  /** dialled without the tracker: the server's BitTorrent listener */
  directPeers: string[]
  /** seconds without a model byte from the swarm before the direct stream is used */
  fallbackS: number
  log: Logger
  signal: AbortSignal
}

export interface Fetched { bytes: Uint8Array, fromServer: number, fromPeers: number, /** held from the last round, not downloaded */ reused: number, fellBack: boolean }

/**
 * `transfer: bt`, with the server's direct stream as the way out: a swarm that gives this client no model bytes
 * for `fallbackS` (the seed's slots flooded, a port blocked) does not cost it the round. `direct` fetches the
 * model from the server and checks it.
 */
export async function fetchFromSwarm (swarm: SwarmPeer, magnet: string, opts: SwarmFetch, direct: () => Promise<Uint8Array>): Promise<Fetched> {
  const { infoHash } = parseMagnet(magnet)
  const stalled = new AbortController()
  let seen = 0
  let movedAt = performance.now()
  const watch = setInterval(() => {
    const now = swarm.downloaded(infoHash)
    if (now > seen) { seen = now; movedAt = performance.now() } else if (performance.now() - movedAt > opts.fallbackS * 1000) stalled.abort()
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
  opts.log.warn('no model bytes from the swarm in time; fetching the model from the server directly', { waitedS: opts.fallbackS, swarmBytes: seen })
  const bytes = await direct()
  return { bytes, fromServer: bytes.byteLength, fromPeers: 0, reused: 0, fellBack: true }
}
