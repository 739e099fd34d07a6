import { Counter, Gauge } from 'prom-client'
import type { Registry } from 'prom-client'
import { perScrape } from '../prometheus/registry.js'

export interface ClientCounts { known: number, online: number, selected: number, excluded: number }

/** How a heartbeat reached the server: its own stream, or the status topic. */
export type HeartbeatPath = 'stream' | 'gossip'

/**
 * The server's view of its clients, read at each scrape: known, online, selected for the open round, excluded; and
 * the heartbeat load (messages, each one client's or a process's batch, and their bytes).
 */
export class ClientMetrics {
  private readonly messages: Counter<'path'>
  private readonly bytes: Counter<'path'>

  constructor (registry: Registry, counts: () => ClientCounts) {
    const registers = [registry]
    this.messages = new Counter({ name: 'btps_clients_heartbeat_messages_total', help: 'heartbeat messages received (one client\'s, or a client process\'s batch)', labelNames: ['path'], registers })
    this.bytes = new Counter({ name: 'btps_clients_heartbeat_bytes_total', help: 'bytes of the heartbeat messages received', labelNames: ['path'], registers })
    const snapshot = perScrape(counts)
    const gauge = (key: keyof ClientCounts, help: string): void => {
      new Gauge({ name: `btps_clients_${key}`, help, registers, collect () { this.set(snapshot()[key]) } })
    }
    gauge('known', 'clients that have logged in since the job began')
    gauge('online', 'clients heard from recently')
    gauge('selected', 'clients selected for the round in progress (0 between rounds)')
    gauge('excluded', 'clients excluded after repeated invalid updates')
  }

  heartbeat (path: HeartbeatPath, bytes: number): void {
    this.messages.inc({ path })
    this.bytes.inc({ path }, bytes)
  }
}
