import type { Logger } from '../../logger.js'
import type { Rng } from '../../training/rng.js'
import { shuffleInPlace } from '../../training/rng.js'
import type { ClientStats } from './client-stats.js'
import { drawByScore, explorationShare, unexplored } from './policy.js'
import type { Decision, Selection, SelectionPolicy } from './policy.js'

/** Oort's knobs, as the paper (Lai et al., OSDI '21) and its reference selector set them. */
export const OORT = {
  /** α: a client slower than the preferred round duration T has its score scaled by (T / duration)^α */
  roundPenalty: 2,
  /** T: this percentile of the explored clients' durations (the reference selector's `round_threshold`, 30) */
  preferredPercentile: 0.3,
  /** utilities are normalised to this percentile of the explored clients' (and capped at 1), so one outlier does not flatten the rest */
  utilityClip: 0.95,
  /** weight of the staleness bonus sqrt(w · ln R / last round selected) */
  staleness: 0.1,
  /** exploitation draws among clients scoring at least this share of the K-th best */
  cutOff: 0.95,
  /** the pacer compares the utility of the last W rounds with the W before; when it fell, T grows by one step */
  pacerWindow: 5,
  /** one pacer step, as a share of T when the pacer first steps */
  pacerStep: 0.2,
  /** clients selected this many times are left out (at most `blacklistShare` of the eligible, never below a full selection) */
  blacklistAfter: 10,
  blacklistShare: 0.3
}

/**
 * Oort: scores clients by statistical utility (|B|·sqrt(mean loss²) of their last update, normalised) plus a bonus
 * for clients not picked for a while, the whole score scaled down when the client is slower than the preferred round
 * duration T (the 30th percentile of the explored clients' durations, as Oort's reference selector sets it). A share
 * ε of each selection (0.9, decaying by 0.98 a round to 0.2) explores clients never tried; the pacer relaxes T when
 * the utility gathered stops growing; clients picked too often are blacklisted.
 */
export class OortSelection implements SelectionPolicy {
  readonly name = 'oort'
  /** what the pacer has added to T so far, and one step of it (set when it first steps) */
  private relaxedS = 0
  private step = 0
  private readonly utilityByRound: number[] = []

  constructor (private readonly stats: ClientStats, private readonly log: Logger) {}

  select (round: number, eligible: readonly string[], need: number, rng: Rng): Selection {
    const decisions = new Map<string, Decision>()
    const blacklisted = this.blacklist(eligible, need)
    for (const id of blacklisted) decisions.set(id, { clientId: id, selected: false, reason: `blacklisted: selected ${this.stats.get(id)?.selected ?? 0} times` })
    const pool = eligible.filter(id => !blacklisted.has(id))
    const fresh = unexplored(this.stats, pool)
    const freshSet = new Set(fresh)
    const explored = pool.filter(id => !freshSet.has(id))
    const epsilon = explorationShare(round)
    let exploreN = Math.min(fresh.length, Math.round(epsilon * need))
    const exploitN = Math.min(explored.length, need - exploreN)
    exploreN = Math.min(fresh.length, need - exploitN)
    const scored = this.scores(round, explored)
    const exploit = drawByScore(scored.map(s => ({ clientId: s.clientId, score: s.score })), exploitN, OORT.cutOff, rng)
    const explore = new Set(shuffleInPlace([...fresh].sort(), rng).slice(0, exploreN))
    for (const s of scored) {
      const sum = `utility ${s.utility.toFixed(3)} + staleness ${s.bonus.toFixed(3)}`
      decisions.set(s.clientId, { clientId: s.clientId, selected: exploit.has(s.clientId), score: s.score, reason: `${exploit.has(s.clientId) ? 'exploit' : 'not drawn'}: score ${s.score.toFixed(3)} = ${s.speed < 1 ? `(${sum}) × speed ${s.speed.toFixed(2)}` : sum}` })
    }
    for (const id of fresh) decisions.set(id, { clientId: id, selected: explore.has(id), reason: `${explore.has(id) ? 'explore' : 'unexplored, not drawn'} (ε ${epsilon.toFixed(2)})` })
    const selected = [...exploit, ...explore]
    return { selected, decisions: eligible.map(id => decisions.get(id)!) }
  }

  finished (round: number, contributors: readonly string[]): void {
    this.utilityByRound.push(contributors.reduce((a, id) => a + (this.stats.get(id)?.utility ?? 0), 0))
    const w = OORT.pacerWindow
    const u = this.utilityByRound
    const T = this.preferredS()
    if (T == null || u.length < 2 * w || u.length % w !== 0) return
    const recent = u.slice(-w).reduce((a, b) => a + b, 0)
    const before = u.slice(-2 * w, -w).reduce((a, b) => a + b, 0)
    if (recent >= before) return
    if (this.step === 0) this.step = OORT.pacerStep * T
    this.relaxedS += this.step
    this.log.info('oort pacer: utility fell, preferred round duration relaxed', { round, preferredS: (T + this.step).toFixed(1), utilityLastRounds: recent.toFixed(1), utilityBefore: before.toFixed(1) })
  }

  /** T: the preferred round duration, from every client's duration known now, plus what the pacer added. */
  private preferredS (): number | undefined {
    const durations = [...this.stats.records.values()].flatMap(r => r.durationS != null && r.durationS > 0 ? [r.durationS] : [])
    const p = percentile(durations, OORT.preferredPercentile)
    return p != null ? p + this.relaxedS : undefined
  }

  /** (Utility, normalised, plus the staleness bonus) times the speed penalty. */
  private scores (round: number, explored: readonly string[]): Array<{ clientId: string, score: number, utility: number, speed: number, bonus: number }> {
    const records = explored.map(id => this.stats.get(id)!)
    const clip = Math.max(1e-9, percentile(records.map(r => r.utility ?? 0), OORT.utilityClip) ?? 0)
    const T = this.preferredS()
    return explored.map((id, i) => {
      const r = records[i]
      const utility = Math.min(1, (r.utility ?? 0) / clip)
      const d = r.durationS ?? 0
      const speed = T != null && d > T ? (T / d) ** OORT.roundPenalty : 1
      const bonus = Math.sqrt(OORT.staleness * Math.log(Math.max(round, 2)) / Math.max(1, r.lastRound))
      return { clientId: id, score: (utility + bonus) * speed, utility, speed, bonus }
    })
  }

  private blacklist (eligible: readonly string[], need: number): Set<string> {
    const room = Math.min(Math.floor(OORT.blacklistShare * eligible.length), eligible.length - need)
    const over = eligible.filter(id => (this.stats.get(id)?.selected ?? 0) >= OORT.blacklistAfter)
      .sort((a, b) => (this.stats.get(b)?.selected ?? 0) - (this.stats.get(a)?.selected ?? 0) || (a < b ? -1 : 1))
    return new Set(over.slice(0, Math.max(0, room)))
  }
}

/** The `q`-quantile of `xs` (the element at floor(q·n) of the sorted list); undefined for none. */
function percentile (xs: number[], q: number): number | undefined {
  if (xs.length === 0) return undefined
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]
}
