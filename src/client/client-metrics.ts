import { Counter, Histogram } from 'prom-client'
import type { Registry } from 'prom-client'

export type RoundOutcome = 'accepted' | 'refused' | 'held' | 'abandoned' | 'failed'
const OUTCOMES: readonly RoundOutcome[] = ['accepted', 'refused', 'held', 'abandoned', 'failed']

/** A client's rounds: how each ended for it, and how long it spent downloading, training and uploading. */
export class ClientRoundMetrics {
  private readonly rounds: Counter<'outcome'>
  private readonly phases: Histogram<'phase'>

  constructor (registry: Registry) {
    const registers = [registry]
    this.rounds = new Counter({ name: 'btps_client_rounds_total', help: 'rounds this client was selected for, by outcome (accepted, refused: its update; held: a distribution round; abandoned; failed)', labelNames: ['outcome'], registers })
    this.phases = new Histogram({ name: 'btps_client_phase_seconds', help: 'this client\'s download, training and upload per round', labelNames: ['phase'], buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600], registers })
    for (const outcome of OUTCOMES) this.rounds.inc({ outcome }, 0)
  }

  round (outcome: RoundOutcome): void { this.rounds.inc({ outcome }) }
  phase (phase: 'download' | 'training' | 'upload', seconds: number): void { this.phases.observe({ phase }, seconds) }
}
