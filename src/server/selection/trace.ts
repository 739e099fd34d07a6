import { appendFileSync, readFileSync } from 'node:fs'
import { InvalidInputError } from '../../errors.js'
import type { Rng } from '../../training/rng.js'
import { RandomSelection } from './policy.js'
import type { Decision, Selection, SelectionPolicy } from './policy.js'

/** One round as the trace keeps it: who could be picked, who was offline, who was picked and why, how long each took. */
export interface TraceRound {
  round: number
  policy: string
  eligible: string[]
  /** logged-in clients whose device schedule had them offline */
  offline: string[]
  selected: string[]
  reasons: Record<string, string>
  /** seconds each selected client took (download + training; the deadline for one that missed it) */
  durationsS: Record<string, number>
  accepted: string[]
}

/** Appends one JSON line per finished round to the run's `selection-trace.jsonl`. */
export class SelectionTrace {
  constructor (readonly path: string) {}

  write (r: TraceRound): void {
    appendFileSync(this.path, JSON.stringify(r) + '\n')
  }
}

/** Reads a trace; a line that is not a round names its line number. */
export function readTrace (path: string): Map<number, TraceRound> {
  let text: string
  try { text = readFileSync(path, 'utf8') } catch (err) { throw new InvalidInputError('TRACE_INVALID', 'job.replay', `${path}: ${(err as Error).message}`) }
  const rounds = new Map<number, TraceRound>()
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return
    let r: Partial<TraceRound>
    try { r = JSON.parse(line) as Partial<TraceRound> } catch { throw new InvalidInputError('TRACE_INVALID', `job.replay (${path}:${i + 1})`, 'is not JSON') }
    if (!Number.isInteger(r.round) || !Array.isArray(r.selected) || !r.selected.every(s => typeof s === 'string')) throw new InvalidInputError('TRACE_INVALID', `job.replay (${path}:${i + 1})`, 'needs a round number and a selected list of client ids')
    rounds.set(r.round as number, r as TraceRound)
  })
  if (rounds.size === 0) throw new InvalidInputError('TRACE_INVALID', 'job.replay', `${path} holds no rounds`)
  return rounds
}

/**
 * Replays a recorded run's selections, so policies can be compared on the same conditions: round R picks the
 * clients the trace picked in round R. One that is not eligible now is left out, and its decision says so. Rounds
 * beyond the trace fall back to the seeded random draw, and their decisions say that too.
 */
export class ReplaySelection implements SelectionPolicy {
  readonly name = 'replay'
  private readonly beyond = new RandomSelection()

  constructor (private readonly rounds: Map<number, TraceRound>) {}

  select (round: number, eligible: readonly string[], need: number, rng: Rng): Selection {
    const recorded = this.rounds.get(round)
    if (recorded == null) {
      const s = this.beyond.select(round, eligible, need, rng)
      return { selected: s.selected, decisions: s.decisions.map(d => ({ ...d, reason: `beyond the trace (${this.rounds.size} rounds): ${d.reason}` })) }
    }
    const now = new Set(eligible)
    const picked = new Set(recorded.selected.filter(id => now.has(id)))
    const decisions: Decision[] = eligible.map(clientId => ({ clientId, selected: picked.has(clientId), reason: picked.has(clientId) ? `replay of round ${round} (${recorded.policy}: ${recorded.reasons?.[clientId] ?? 'selected'})` : 'not in the recorded selection' }))
    for (const id of recorded.selected) {
      if (!now.has(id)) decisions.push({ clientId: id, selected: false, reason: `replay of round ${round}: recorded, but not eligible now` })
    }
    return { selected: recorded.selected.filter(id => now.has(id)), decisions }
  }
}
