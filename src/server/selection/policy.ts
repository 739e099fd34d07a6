import type { Rng } from '../../training/rng.js'
import { shuffleInPlace } from '../../training/rng.js'
import type { ClientStats } from './client-stats.js'

/** One client's part in a selection: picked or not, why, and its score where the policy has one. */
export interface Decision { clientId: string, selected: boolean, reason: string, score?: number }
export interface Selection { selected: string[], decisions: Decision[] }

export interface SelectionPolicy {
  readonly name: string
  /** Picks `need` of the `eligible` clients for `round`. */
  select: (round: number, eligible: readonly string[], need: number, rng: Rng) => Selection
  /** After a round: the clients that made it and the round's duration, for policies that adapt. */
  finished?: (round: number, contributors: readonly string[]) => void
}

/** Today's behaviour: a seeded shuffle of the eligible clients. */
export class RandomSelection implements SelectionPolicy {
  readonly name = 'random'

  select (_round: number, eligible: readonly string[], need: number, rng: Rng): Selection {
    const order = shuffleInPlace([...eligible].sort(), rng)
    const picked = new Set(order.slice(0, need))
    return { selected: order.slice(0, need), decisions: order.map(clientId => ({ clientId, selected: picked.has(clientId), reason: picked.has(clientId) ? 'random draw' : 'not drawn' })) }
  }
}

/** Exploration shared by the scoring policies: the share of picks that go to clients never tried yet. */
export interface Exploration { initial: number, decay: number, min: number }
export const EXPLORATION: Exploration = { initial: 0.9, decay: 0.98, min: 0.2 }

export function explorationShare (round: number, e: Exploration = EXPLORATION): number {
  return Math.max(e.min, e.initial * e.decay ** Math.max(0, round - 1))
}

/**
 * Picks `count` of `scored` the way Oort exploits: clients whose score is at least `cutOff` of the count-th best
 * are candidates, drawn without replacement with probability proportional to their score.
 */
export function drawByScore (scored: ReadonlyArray<{ clientId: string, score: number }>, count: number, cutOff: number, rng: Rng): Set<string> {
  const sorted = [...scored].sort((a, b) => b.score - a.score || (a.clientId < b.clientId ? -1 : 1))
  if (count <= 0 || sorted.length === 0) return new Set()
  const bar = sorted[Math.min(count, sorted.length) - 1].score * cutOff
  const pool = sorted.filter(s => s.score >= bar)
  const out = new Set<string>()
  while (out.size < count && pool.length > 0) {
    const total = pool.reduce((a, s) => a + Math.max(s.score, 1e-9), 0)
    let x = rng() * total
    let k = 0
    for (; k < pool.length - 1; k++) { x -= Math.max(pool[k].score, 1e-9); if (x <= 0) break }
    out.add(pool[k].clientId)
    pool.splice(k, 1)
  }
  // Ties at the bar can leave the pool short of `count`: the next best fill it.
  for (const s of sorted) { if (out.size >= count) break; out.add(s.clientId) }
  return out
}

/** Clients never selected, or selected but never heard back from, count as unexplored. */
export function unexplored (stats: ClientStats, eligible: readonly string[]): string[] {
  return eligible.filter(id => stats.get(id)?.durationS == null)
}
