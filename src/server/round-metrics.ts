import { Counter, Gauge, Histogram } from 'prom-client'
import type { Registry } from 'prom-client'
import type { RoundResult } from './round-result.js'

const PHASES = ['distribution', 'training', 'upload', 'aggregation', 'round'] as const
const STATUSES: ReadonlyArray<RoundResult['status']> = ['aggregated', 'distributed', 'failed', 'aborted']

/** Rounds: how they ended, how long each phase took, the last one finished, and the server's control-plane bytes. */
export class RoundMetrics {
  private readonly finished: Counter<'status'>
  private readonly phases: Histogram<'phase'>
  private readonly last: Gauge
  private readonly controlBytes: Counter<'direction'>
  private readonly accuracy: Gauge
  private readonly loss: Gauge
  private readonly ownerFallbacks: Counter
  private readonly dropped: Counter<'reason'>

  constructor (registry: Registry) {
    const registers = [registry]
    this.finished = new Counter({ name: 'btps_round_finished_total', help: 'rounds finished, by status (aggregated, distributed, failed, aborted)', labelNames: ['status'], registers })
    this.phases = new Histogram({
      name: 'btps_round_phase_seconds',
      help: 'duration of each phase of a round: distribution (announcement until the last accepted client held the model), training (slowest accepted client), upload, aggregation, and the whole round',
      labelNames: ['phase'],
      buckets: [0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800],
      registers
    })
    this.last = new Gauge({ name: 'btps_round_last_finished', help: 'number of the last round finished', registers })
    this.controlBytes = new Counter({ name: 'btps_server_control_bytes_total', help: 'model and update bytes over libp2p streams (the control plane), by direction: model streams out (transfer: ps, fallbacks), updates and reduced shards in', labelNames: ['direction'], registers })
    this.accuracy = new Gauge({ name: 'btps_round_test_accuracy_ratio', help: 'top-1 test accuracy after the last evaluated round', registers })
    this.loss = new Gauge({ name: 'btps_round_test_loss', help: 'test loss after the last evaluated round', registers })
    this.ownerFallbacks = new Counter({ name: 'btps_upload_owner_fallbacks_total', help: 'swarm upload: shards fetched from the contributors because their owner failed', registers })
    this.dropped = new Counter({ name: 'btps_upload_contributors_dropped_total', help: 'swarm upload: contributors dropped after the commit, by reason (missing, invalid), the round committed again without them', labelNames: ['reason'], registers })
    for (const reason of ['missing', 'invalid']) this.dropped.inc({ reason }, 0)
    for (const status of STATUSES) this.finished.inc({ status }, 0)
    for (const direction of ['sent', 'received']) this.controlBytes.inc({ direction }, 0)
  }

  /** A swarm-upload gather: owners bypassed, and the kind of each contributor dropped. */
  gathered (fallbacks: number, dropped: string[]): void {
    this.ownerFallbacks.inc(fallbacks)
    for (const reason of dropped) this.dropped.inc({ reason })
  }

  /** A finished round; `controlSent`: model bytes that went out over direct streams. */
  roundFinished (r: RoundResult, controlSent: number): void {
    this.finished.inc({ status: r.status })
    this.last.set(r.round)
    this.controlBytes.inc({ direction: 'sent' }, controlSent)
    this.controlBytes.inc({ direction: 'received' }, r.serverIngressBytes)
    if (r.status === 'aborted') return
    const seconds: Record<(typeof PHASES)[number], number | undefined> = { distribution: r.distributionS, training: r.trainingS, upload: r.uploadS, aggregation: r.aggregationS, round: r.roundS }
    for (const phase of PHASES) {
      const s = seconds[phase]
      if (s != null && Number.isFinite(s)) this.phases.observe({ phase }, s)
    }
    if (r.testAcc1 != null) this.accuracy.set(r.testAcc1)
    if (r.testLoss != null) this.loss.set(r.testLoss)
  }
}
