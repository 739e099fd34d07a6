import { Gauge } from 'prom-client'
import type { Registry } from 'prom-client'
import { perScrape } from '../prometheus/registry.js'

export interface ClientCounts { known: number, online: number, selected: number, excluded: number }

/** The server's view of its clients, read at each scrape: known, online, selected for the open round, excluded. */
export class ClientMetrics {
  constructor (registry: Registry, counts: () => ClientCounts) {
    const registers = [registry]
    const snapshot = perScrape(counts)
    const gauge = (key: keyof ClientCounts, help: string): void => {
      new Gauge({ name: `btps_clients_${key}`, help, registers, collect () { this.set(snapshot()[key]) } })
    }
    gauge('known', 'clients that have logged in since the job began')
    gauge('online', 'clients heard from recently')
    gauge('selected', 'clients selected for the round in progress (0 between rounds)')
    gauge('excluded', 'clients excluded after repeated invalid updates')
  }
}
