import { Counter, Gauge } from 'prom-client'
import type { Registry } from 'prom-client'
import { unscrapedRegistry } from '../prometheus/registry.js'

/** The BitTorrent plane of one peer: pieces by source, bytes each way and reused, hash failures, bans, connected peers. */
export class SwarmMetrics {
  private readonly pieces: Counter<'source'>
  private readonly bytes: Counter<'direction'>
  private readonly hashFailures: Counter
  private readonly reusedBytes: Counter
  private readonly bans: Counter
  private connected: () => number = () => 0

  constructor (registry: Registry = unscrapedRegistry()) {
    const registers = [registry]
    this.pieces = new Counter({ name: 'btps_swarm_pieces_total', help: 'pieces received and verified, by who sent them (server or peer)', labelNames: ['source'], registers })
    this.bytes = new Counter({ name: 'btps_swarm_bytes_total', help: 'piece bytes over BitTorrent, by direction (sent or received)', labelNames: ['direction'], registers })
    this.reusedBytes = new Counter({ name: 'btps_swarm_reused_bytes_total', help: 'piece bytes not downloaded because this peer held a piece with the same hash from an earlier round', registers })
    this.hashFailures = new Counter({ name: 'btps_swarm_hash_failures_total', help: 'pieces that failed their SHA-1', registers })
    this.bans = new Counter({ name: 'btps_swarm_bans_total', help: 'peers banned from a torrent (a bad piece, a protocol violation)', registers })
    const connected = (): number => this.connected()
    new Gauge({ name: 'btps_swarm_peers', help: 'BitTorrent connections open, all torrents', registers, collect () { this.set(connected()) } })
    // Both sources and directions exist from the start, so a query sees 0 rather than nothing.
    for (const source of ['server', 'peer']) this.pieces.inc({ source }, 0)
    for (const direction of ['sent', 'received']) this.bytes.inc({ direction }, 0)
  }

  countPeersWith (connected: () => number): void { this.connected = connected }
  piece (source: 'server' | 'peer'): void { this.pieces.inc({ source }) }
  sent (bytes: number): void { this.bytes.inc({ direction: 'sent' }, bytes) }
  received (bytes: number): void { this.bytes.inc({ direction: 'received' }, bytes) }
  reused (bytes: number): void { this.reusedBytes.inc(bytes) }
  hashFailure (): void { this.hashFailures.inc() }
  ban (): void { this.bans.inc() }
}
