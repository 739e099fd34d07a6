import { Counter } from 'prom-client'
import type { Registry } from 'prom-client'
import { BtpsError } from '../errors.js'

/** Reasons an update is refused, from the error that refused it; a small fixed set, as labels must be. */
const REASONS: Record<string, string> = {
  UPDATE_REFUSED: 'refused',
  UPDATE_LAYOUT: 'layout',
  UPDATE_NORM: 'norm',
  UPDATE_NON_FINITE: 'non_finite',
  UPDATE_INVALID: 'invalid',
  MODEL_INVALID: 'invalid',
  MESSAGE_INVALID: 'invalid',
  SHARD_INVALID: 'invalid',
  TRANSFER_STALLED: 'stalled',
  ABORTED: 'round_over'
}

/** The label for an update refused by `err`: refused, excluded, layout, norm, non_finite, invalid, stalled, round_over or transfer. */
export function refusalReason (err: unknown): string {
  return err instanceof BtpsError ? REASONS[err.code] ?? 'transfer' : 'transfer'
}

/** Updates (direct updates, swarm contributions, receipts of distribution rounds): accepted, and refused by reason. */
export class UpdateMetrics {
  private readonly accepted: Counter<'upload'>
  private readonly refused: Counter<'reason'>

  constructor (registry: Registry) {
    const registers = [registry]
    this.accepted = new Counter({ name: 'btps_update_accepted_total', help: 'updates admitted into a round, by path (direct, swarm, receipt)', labelNames: ['upload'], registers })
    this.refused = new Counter({ name: 'btps_update_refused_total', help: 'updates refused, by reason (refused: not selected, duplicate, round full or closed; excluded; layout; norm; non_finite; invalid; stalled; round_over; transfer)', labelNames: ['reason'], registers })
    for (const upload of ['direct', 'swarm', 'receipt']) this.accepted.inc({ upload }, 0)
    for (const reason of ['refused', 'excluded', 'layout', 'norm', 'non_finite', 'invalid', 'stalled']) this.refused.inc({ reason }, 0)
  }

  accept (upload: 'direct' | 'swarm' | 'receipt'): void { this.accepted.inc({ upload }) }
  refuse (reason: string): void { this.refused.inc({ reason }) }
}
