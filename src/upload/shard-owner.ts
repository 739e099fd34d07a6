import { InvalidInputError, errorMessage } from '../errors.js'
import { ShardDigest, squaredDistance, sumSqMatches, weightedMean } from '../aggregation/shards.js'
import type { ShardRange } from '../aggregation/shards.js'
import { readValuesInto } from '../control/shard.js'
import { writeJson } from '../net/frames.js'
import type { ShardAck, ShardHeader } from '../control/shard.js'
import { writeReduceMessage } from '../control/reduce.js'
import type { ReduceRequest, Rejected } from '../control/reduce.js'
import type { FramedStream } from '../net/frames.js'

/**
 * Values reduced and sent per data frame (64 KiB): the server gets the mean while the rest of the shard still streams
 * in, and a frame arrives within the stall time even when many owners share the server's link.
 */
const CHUNK_VALUES = 16 * 1024

/**
 * Pacing of the contributors' streams: each may run this many values (256 KiB) ahead of the slowest one still
 * moving. The mean can be sent only as far as every contributor has come, so a stream far ahead would only take
 * link time from the ones behind; kept together, the mean leaves at the pace its inputs arrive.
 */
export const PACE_WINDOW_VALUES = 256 * 1024
/** A stream with credit that has not moved for this long no longer holds the others back. */
export const PACE_STALL_MS = 3000
/** Credit is repeated this often, so a sender held back knows the owner is still there. */
const CREDIT_REPEAT_MS = 5000
const PACE_TICK_MS = 500
/** A contributor whose transfer broke off tries again (see UploadPeer): it counts as missing only after this long. */
const RESEND_GRACE_MS = 5000

interface Held {
  values: Float32Array
  digest: ShardDigest
  /** values received so far */
  received: number
  /** when `received` last grew (ms) */
  progressAt: number
  done: boolean
  /** set when the bytes broke a rule (NaN/Inf): the contributor is invalid */
  invalid?: string
  /** set when the transfer broke off (stream error, stall): the contributor is missing */
  broken?: string
  brokenAt?: number
  /** while its stream is open: values the sender may have sent, when that was last said, and how to say more */
  credit: number
  creditAt: number
  /** when the credit last grew beyond what had arrived: from then on the sender owes values */
  owedAt: number
  grant?: (credit: number) => void
}

/**
 * Whether a committed contributor's values are given up on, `askedMs` after the reduce was asked for: none came
 * within `waitMs`, they stopped coming for `waitMs`, or the transfer broke and no resend began within the grace.
 */
function isMissing (e: Held | undefined, askedMs: number, waitMs: number): boolean {
  if (e == null) return askedMs > waitMs
  if (e.broken != null && Date.now() - (e.brokenAt ?? 0) > RESEND_GRACE_MS) return true
  return !e.done && Date.now() - e.progressAt > waitMs
}

/**
 * One round's shard at its owner (`job.upload: swarm`): keeps what each selected client sends of that shard
 * (O(F/S) per contributor, so O(F) in all), checked as it arrives, until the server names the round's committed
 * contributors; then streams their weighted mean to the server, stretch by stretch as the values arrive.
 */
export class ShardOwner {
  readonly jobId: string
  readonly round: number
  readonly shard: number
  readonly range: ShardRange
  /** this shard's slice of the round's model, once this peer holds it (the squared distances are checked against it) */
  private global?: Float32Array
  /** who may send: client id → its libp2p peer id */
  private readonly senders: ReadonlyMap<string, string>
  private locate: (flatIndex: number) => string
  private readonly held = new Map<string, Held>()
  private waiters = new Set<() => void>()
  private dropped = false
  private ticker?: NodeJS.Timeout

  /** Made when the round is announced: shards may arrive before this peer holds the model. */
  constructor (init: { jobId: string, round: number, shard: number, range: ShardRange, senders: ReadonlyMap<string, string> }) {
    this.jobId = init.jobId
    this.round = init.round
    this.shard = init.shard
    this.range = init.range
    this.senders = init.senders
    this.locate = (i) => `shards[${this.shard}][${i - this.range.start}]`
  }

  /** The round's model is here: `global` is this shard's slice, `locate` names a flat index (`dense/kernel[12]`). */
  hold (global: Float32Array, locate: (flatIndex: number) => string): void {
    this.global = global
    this.locate = locate
    this.wake()
  }

  get elements (): number { return this.range.end - this.range.start }

  /** Why this shard transfer cannot be taken, or undefined. */
  refusal (h: ShardHeader, fromPeer: string): string | undefined {
    if (this.dropped) return `round ${this.round} is over`
    if (h.jobId !== this.jobId || h.round !== this.round) return `no shard of ${h.jobId} round ${h.round} is kept here`
    if (h.shard !== this.shard) return `this peer owns shard ${this.shard}, not ${h.shard}`
    if (this.senders.get(h.clientId) !== fromPeer) return `${h.clientId} is not a selected client of round ${this.round} at this peer id`
    if (h.elements !== this.elements) return `shard ${this.shard} has ${this.elements} values, not ${h.elements}`
    const had = this.held.get(h.clientId)
    if (had != null && had.broken == null) return `${h.clientId} already sent shard ${this.shard}`
    return undefined
  }

  /** Reads one contributor's shard from a stream; answers with an ack. Concurrent transfers never wait on each other. */
  async receive (lp: FramedStream, h: ShardHeader, fromPeer: string, opts: { signal: AbortSignal, idleMs: number }): Promise<ShardAck> {
    const refusal = this.refusal(h, fromPeer)
    if (refusal != null) return { accepted: false, reason: refusal }
    const entry = this.start(h.clientId)
    let said = Promise.resolve()
    entry.grant = (credit) => { said = said.then(async () => { await writeJson(lp, { credit }, opts.signal) }).catch(() => {}) }
    this.pace()
    try {
      // Time the sender spends held back by this owner's credit is not its stall.
      const owedSince = (): number => entry.received >= entry.credit ? Date.now() : Math.max(entry.progressAt, entry.owedAt)
      await readValuesInto(lp, entry.values, { signal: opts.signal, idleMs: opts.idleMs, field: `shard ${this.shard} from ${h.clientId}`, onValues: (v) => { this.progress(entry, v) }, owedSince })
      entry.done = true
    } catch (err) {
      entry.broken ??= errorMessage(err)
      entry.brokenAt ??= Date.now()
    } finally {
      entry.grant = undefined
      this.pace()
      this.wake()
      await said
    }
    if (entry.broken != null) return { accepted: false, reason: entry.invalid ?? entry.broken }
    return entry.invalid != null ? { accepted: false, reason: entry.invalid } : { accepted: true }
  }

  /**
   * Grants the streams open here credit up to the slowest moving one plus a window (see PACE_WINDOW_VALUES), and
   * repeats it now and then; a stream stalled with credit in hand is left out of the minimum.
   */
  private pace (): void {
    const now = Date.now()
    const open = [...this.held.values()].filter(e => e.grant != null)
    const moving = open.filter(e => !(e.received < e.credit && now - e.progressAt > PACE_STALL_MS))
    const limit = moving.length === 0 ? this.elements : Math.min(this.elements, Math.min(...moving.map(e => e.received)) + PACE_WINDOW_VALUES)
    for (const e of open) {
      if (limit <= e.credit && now - e.creditAt < CREDIT_REPEAT_MS) continue
      if (limit > e.credit && e.received >= e.credit) e.owedAt = now
      e.credit = Math.max(e.credit, limit)
      e.creditAt = now
      e.grant?.(e.credit)
    }
    if (open.length > 0 && this.ticker == null && !this.dropped) this.ticker = setInterval(() => { this.pace() }, PACE_TICK_MS)
    if (open.length === 0 && this.ticker != null) { clearInterval(this.ticker); this.ticker = undefined }
  }

  /** The owner's own shard of its own update: no stream. */
  keepOwn (clientId: string, values: Float32Array): void {
    const entry = this.start(clientId)
    entry.values.set(values)
    this.progress(entry, entry.values)
    entry.done = true
    this.wake()
  }

  private start (clientId: string): Held {
    const entry: Held = { values: new Float32Array(this.elements), digest: new ShardDigest(), received: 0, progressAt: Date.now(), done: false, credit: 0, creditAt: 0, owedAt: 0 }
    this.held.set(clientId, entry)
    return entry
  }

  private progress (entry: Held, values: Float32Array): void {
    const before = entry.digest.nonFinite
    entry.digest.update(values)
    entry.received += values.length
    entry.progressAt = Date.now()
    if (before < 0 && entry.digest.nonFinite >= 0) {
      const at = entry.digest.nonFinite
      const err = new InvalidInputError('UPDATE_NON_FINITE', `update.${this.locate(this.range.start + at)}`, `is ${entry.values[at]}`)
      entry.invalid = err.message
      throw err
    }
    if (entry.grant != null) this.pace()
    this.wake()
  }

  private wake (): void {
    const waiters = this.waiters
    this.waiters = new Set()
    for (const w of waiters) w()
  }

  /** Resolves on the next arrival, or after `ms`. */
  private async changed (ms: number, signal: AbortSignal): Promise<void> {
    await new Promise<void>(resolve => {
      const done = (): void => { clearTimeout(timer); signal.removeEventListener('abort', done); this.waiters.delete(done); resolve() }
      const timer = setTimeout(done, ms)
      signal.addEventListener('abort', done, { once: true })
      this.waiters.add(done)
    })
  }

  /**
   * Answers a reduce request on `lp`: the committed contributors' weighted mean of this shard, streamed as it
   * becomes computable. A contributor whose values stop coming for `waitMs` (or never came) is reported missing;
   * one whose values break a rule or do not match what it declared is reported invalid.
   */
  async reduce (lp: FramedStream, req: ReduceRequest, signal: AbortSignal): Promise<void> {
    const missing: string[] = []
    const invalid: Rejected[] = []
    const fail = async (): Promise<void> => { await writeReduceMessage(lp, { ok: false, missing, invalid }, signal) }
    if (req.jobId !== this.jobId || req.round !== this.round || req.shard !== this.shard) {
      missing.push(...req.contributors.map(c => c.clientId))
      await fail()
      return
    }
    const since = Date.now()
    const entryOf = (id: string): Held | undefined => this.held.get(id)
    const check = (): void => {
      for (const c of req.contributors) {
        const e = entryOf(c.clientId)
        if (e?.invalid != null) {
          if (!invalid.some(r => r.clientId === c.clientId)) invalid.push({ clientId: c.clientId, reason: e.invalid })
        } else if (isMissing(e, Date.now() - since, req.waitMs) && !missing.includes(c.clientId)) missing.push(c.clientId)
      }
    }
    check()
    if (missing.length + invalid.length > 0) { await fail(); return }
    await writeReduceMessage(lp, { ok: true, elements: this.elements }, signal)
    const scratch = new Float64Array(Math.min(CHUNK_VALUES, this.elements))
    for (let pos = 0; pos < this.elements;) {
      const end = Math.min(pos + CHUNK_VALUES, this.elements)
      while (!req.contributors.every(c => (entryOf(c.clientId)?.received ?? 0) >= end)) {
        check()
        if (missing.length + invalid.length > 0 || signal.aborted) break
        await this.changed(Math.min(1000, req.waitMs), signal)
      }
      if (missing.length + invalid.length > 0 || signal.aborted) break
      const out = new Float32Array(end - pos)
      weightedMean(req.contributors.map(c => ({ values: (entryOf(c.clientId) as Held).values.subarray(pos, end), weight: c.weight })), out, scratch)
      await lp.write(new Uint8Array(out.buffer), { signal })
      pos = end
    }
    await lp.write(new Uint8Array(0), { signal })
    while (missing.length + invalid.length === 0 && this.global == null && !signal.aborted && Date.now() - since < req.waitMs) await this.changed(1000, signal)
    const global = this.global
    if (missing.length + invalid.length === 0) {
      if (global == null) throw new InvalidInputError('SHARD_UNAVAILABLE', `shard ${this.shard}`, 'this owner does not hold the round\'s model to check the squared distances against')
      for (const c of req.contributors) {
        const e = entryOf(c.clientId) as Held
        const sumSq = squaredDistance(e.values, global)
        if (e.digest.digest().sha256 !== c.sha256) invalid.push({ clientId: c.clientId, reason: `update.shards[${this.shard}]: its values do not match the sha256 it declared` })
        else if (!sumSqMatches(c.sumSq, sumSq)) invalid.push({ clientId: c.clientId, reason: `update.shards[${this.shard}].sumSq: declared ${c.sumSq}, the values give ${sumSq}` })
      }
    }
    if (missing.length + invalid.length > 0) { await fail(); return }
    await writeReduceMessage(lp, { ok: true, contributors: req.contributors.map(c => c.clientId), weightSum: req.contributors.reduce((a, c) => a + c.weight, 0) }, signal)
  }

  drop (): void {
    this.dropped = true
    clearInterval(this.ticker)
    this.ticker = undefined
    this.held.clear()
    this.wake()
  }
}
