import { Counter, Gauge } from 'prom-client'
import type { Registry } from 'prom-client'
import { perScrape } from '../prometheus/registry.js'

/** The tracker: announces answered and refused, registrations, swarms and the peers in them. */
export class TrackerMetrics {
  private readonly announces: Counter<'result'>
  private readonly registrations: Counter<'result'>

  constructor (registry: Registry, swarms: () => { swarms: number, peers: number }) {
    const registers = [registry]
    const snapshot = perScrape(swarms)
    this.announces = new Counter({ name: 'btps_tracker_announces_total', help: 'announces (HTTP and UDP), answered or refused', labelNames: ['result'], registers })
    this.registrations = new Counter({ name: 'btps_tracker_registrations_total', help: 'torrent registrations by the job\'s server, accepted or refused', labelNames: ['result'], registers })
    new Gauge({ name: 'btps_tracker_swarms', help: 'swarms the tracker holds', registers, collect () { this.set(snapshot().swarms) } })
    new Gauge({ name: 'btps_tracker_peers', help: 'peers in all swarms', registers, collect () { this.set(snapshot().peers) } })
    for (const result of ['answered', 'refused']) this.announces.inc({ result }, 0)
    for (const result of ['accepted', 'refused']) this.registrations.inc({ result }, 0)
  }

  announce (result: 'answered' | 'refused'): void { this.announces.inc({ result }) }
  registration (result: 'accepted' | 'refused'): void { this.registrations.inc({ result }) }
}
