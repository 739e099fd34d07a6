import type { Rng } from '../../training/rng.js'
import { shuffleInPlace } from '../../training/rng.js'
import type { ClientStats } from './client-stats.js'
import { drawByScore, explorationShare, unexplored } from './policy.js'
import type { Decision, Selection, SelectionPolicy } from './policy.js'

/**
 * Prefers clients that pass the model on: the score is the share of the model a client uploaded to other peers per
 * round it took part in (a moving average), so the swarm keeps its best seeders. Clients never tried are explored
 * as in Oort (a decaying share of each selection); among the others the draw is proportional to the score, among
 * those scoring at least 95% of the K-th best. A client that served nothing still scores a little, so it can be
 * drawn again.
 */
export class ContributionSelection implements SelectionPolicy {
  readonly name = 'contribution'

  constructor (private readonly stats: ClientStats) {}

  select (round: number, eligible: readonly string[], need: number, rng: Rng): Selection {
    const fresh = unexplored(this.stats, eligible)
    const freshSet = new Set(fresh)
    const explored = eligible.filter(id => !freshSet.has(id))
    const epsilon = explorationShare(round)
    let exploreN = Math.min(fresh.length, Math.round(epsilon * need))
    const exploitN = Math.min(explored.length, need - exploreN)
    exploreN = Math.min(fresh.length, need - exploitN)
    const scored = explored.map(id => ({ clientId: id, score: 0.01 + (this.stats.get(id)?.served ?? 0) }))
    const exploit = drawByScore(scored, exploitN, 0.95, rng)
    const explore = new Set(shuffleInPlace([...fresh].sort(), rng).slice(0, exploreN))
    const decisions = new Map<string, Decision>()
    for (const s of scored) decisions.set(s.clientId, { clientId: s.clientId, selected: exploit.has(s.clientId), score: s.score, reason: `${exploit.has(s.clientId) ? 'exploit' : 'not drawn'}: served ${(this.stats.get(s.clientId)?.served ?? 0).toFixed(2)} F to peers per round` })
    for (const id of fresh) decisions.set(id, { clientId: id, selected: explore.has(id), reason: `${explore.has(id) ? 'explore' : 'unexplored, not drawn'} (ε ${epsilon.toFixed(2)})` })
    return { selected: [...exploit, ...explore], decisions: eligible.map(id => decisions.get(id)!) }
  }
}
