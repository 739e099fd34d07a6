import { BtpsError, InvalidInputError, errorMessage } from '../errors.js'
import type { Logger } from '../logger.js'
import { withTimeout } from '../abort.js'
import { ShardDigest, sumSqMatches, weightedMean } from '../aggregation/shards.js'
import { firstNonFinite } from '../aggregation/running-average.js'
import type { ShardCheck, ShardRange } from '../aggregation/shards.js'
import { REDUCE_PROTOCOL, readReduceTrailer, requestReduce } from '../control/reduce.js'
import type { Committed, Rejected } from '../control/reduce.js'
import { SHARD_FETCH_PROTOCOL, fetchShard, readValuesInto } from '../control/shard.js'
import type { FramedStream } from '../net/frames.js'

export interface GatherPeer { clientId: string, peerId: string }
export interface CommittedContributor { clientId: string, peerId: string, weight: number, shards: readonly ShardCheck[] }
export interface GatherPlan {
  jobId: string
  round: number
  ranges: readonly ShardRange[]
  /** owners[s] owns shard s */
  owners: readonly GatherPeer[]
  /** in commit order, with what each declared per shard, and their peer ids (for fetching a shard from them) */
  committed: readonly CommittedContributor[]
  /** the round's global model, flat: the fallback checks each fetched shard's declared squared distance against it */
  global: Float32Array
  /** how long an owner waits for a contributor's values to move before calling it missing */
  waitMs: number
  /** owners known not to hold the round's model (offline, or still downloading at the commit): not asked */
  lacking?: ReadonlySet<string>
}
export interface GatherResult {
  mean: Float32Array
  contributors: string[]
  weightSum: number
  ingressBytes: number
  /** contributors dropped on the way, and why (the round was committed again without them) */
  dropped: Array<Rejected & { kind: 'missing' | 'invalid' }>
  /** shards fetched from the contributors because their owner failed */
  fallbacks: number
}

type Open = (peerId: string, protocol: string, signal: AbortSignal) => Promise<FramedStream>
type ShardOutcome = { ok: true } | { ok: false, missing: string[], invalid: Rejected[] }

const MAX_COMMITS = 3

/**
 * The server's half of `job.upload: swarm`: asks every shard's owner for the committed contributors' weighted mean
 * and assembles the aggregate (ingress ≈ F). An owner that cannot be reached, stalls, answers badly or lacks some
 * contributor's values is bypassed: the server fetches that shard from each contributor itself and checks it
 * against what they declared. A contributor missing or invalid anywhere is dropped and the round committed again
 * without it, so every shard always covers the same contributors: never a mixed aggregate.
 */
export async function gatherAggregate (ctx: { open: Open, log: Logger, signal: AbortSignal }, plan: GatherPlan): Promise<GatherResult> {
  const elements = plan.ranges.length > 0 ? plan.ranges[plan.ranges.length - 1].end : 0
  const mean = new Float32Array(elements)
  const result: GatherResult = { mean, contributors: [], weightSum: 0, ingressBytes: 0, dropped: [], fallbacks: 0 }
  let committed = [...plan.committed]
  const fallbackSlot = semaphore(2)
  for (let attempt = 1; attempt <= MAX_COMMITS; attempt++) {
    if (committed.length === 0) throw new BtpsError('AGGREGATE_EMPTY', `round ${plan.round}: no contributor is left to aggregate`)
    const outcomes = await Promise.all(plan.ranges.map(async (range, s) => await gatherShard({ ...ctx, fallbackSlot }, plan, committed, s, range, mean, result)))
    const bad = new Map<string, Rejected & { kind: 'missing' | 'invalid' }>()
    for (const o of outcomes) {
      if (o.ok) continue
      for (const r of o.invalid) bad.set(r.clientId, { ...r, kind: 'invalid' })
      for (const id of o.missing) if (!bad.has(id)) bad.set(id, { clientId: id, reason: 'its shard did not arrive', kind: 'missing' })
    }
    if (bad.size === 0) {
      result.contributors = committed.map(c => c.clientId)
      result.weightSum = committed.reduce((a, c) => a + c.weight, 0)
      return result
    }
    result.dropped.push(...bad.values())
    committed = committed.filter(c => !bad.has(c.clientId))
    ctx.log.warn('committing the round again without contributors', { round: plan.round, attempt, dropped: [...bad.values()].map(b => `${b.clientId} (${b.kind}: ${b.reason})`).join('; '), left: committed.length })
  }
  throw new BtpsError('AGGREGATE_FAILED', `round ${plan.round}: contributors kept failing after ${MAX_COMMITS} commits`)
}

async function gatherShard (ctx: { open: Open, log: Logger, signal: AbortSignal, fallbackSlot: () => Promise<() => void> }, plan: GatherPlan, committed: GatherPlan['committed'], s: number, range: ShardRange, mean: Float32Array, result: GatherResult): Promise<ShardOutcome> {
  const into = mean.subarray(range.start, range.end)
  const owner = plan.owners[s]
  // An owner checks each contributor's values against the round's model: one without it can only refuse, and one
  // still downloading is usually on a slow link that the contributors' shards have to squeeze through as well.
  if (plan.lacking?.has(owner.clientId) === true) {
    ctx.log.info('shard owner does not hold the round\'s model; fetching its shard from the contributors', { round: plan.round, shard: s, owner: owner.clientId })
  } else {
    const outcome = await askOwner(ctx, plan, committed, s, owner, into, result)
    if (outcome != null) return outcome
  }
  result.fallbacks++
  // Fetching a shard from every contributor costs K/S of a model at the server: a few shards at a time.
  const release = await ctx.fallbackSlot()
  try {
    return await fromContributors(ctx, plan, committed, s, into, result)
  } finally {
    release()
  }
}

/** A counting semaphore: `acquire()` resolves with its release once fewer than `n` holders are in. */
function semaphore (n: number): () => Promise<() => void> {
  let free = n
  const waiting: Array<() => void> = []
  const release = (): void => { const next = waiting.shift(); if (next != null) next(); else free++ }
  return async () => {
    if (free > 0) free--
    else await new Promise<void>(resolve => { waiting.push(resolve) })
    return release
  }
}

/** The owner's reduced shard; undefined when the shard must be fetched from the contributors instead. */
async function askOwner (ctx: { open: Open, log: Logger, signal: AbortSignal }, plan: GatherPlan, committed: GatherPlan['committed'], s: number, owner: GatherPeer, into: Float32Array, result: GatherResult): Promise<ShardOutcome | undefined> {
  try {
    const t0 = performance.now()
    const outcome = await fromOwner(ctx, plan, committed, s, owner, into, result)
    ctx.log.debug('shard reduced', { round: plan.round, shard: s, owner: owner.clientId, ok: outcome.ok, seconds: ((performance.now() - t0) / 1000).toFixed(2) })
    // A contributor the owner did not hear from may still hold its update: ask it directly before dropping it.
    if (outcome.ok || outcome.invalid.length > 0) return outcome
    ctx.log.warn('shard owner lacks contributors\' values; fetching its shard from the contributors', { round: plan.round, shard: s, owner: owner.clientId, missing: outcome.missing.join(',') })
  } catch (err) {
    if (ctx.signal.aborted) throw err
    ctx.log.warn('shard owner failed; fetching its shard from the contributors', { round: plan.round, shard: s, owner: owner.clientId, reason: errorMessage(err) })
  }
  return undefined
}

async function fromOwner (ctx: { open: Open, signal: AbortSignal }, plan: GatherPlan, committed: GatherPlan['committed'], s: number, owner: GatherPeer, into: Float32Array, result: GatherResult): Promise<ShardOutcome> {
  // The owner waits up to waitMs for a stalled contributor before it answers: give it that and some.
  const idleMs = plan.waitMs + 5000
  const field = `reduce of shard ${s} from ${owner.clientId}`
  const contributors = committed.map(c => ({ clientId: c.clientId, weight: c.weight, ...c.shards[s] }))
  const lp = await withTimeout(ctx.signal, idleMs, async signal => await ctx.open(owner.peerId, REDUCE_PROTOCOL, signal))
  try {
    const outcome = await readReduced(ctx, plan, contributors, s, lp, into, result, { idleMs, field })
    await lp.unwrap().close().catch(() => {})
    return outcome
  } catch (err) {
    // An owner that stalls must not hold the stream (nor a close waiting on it).
    lp.unwrap().abort(err instanceof Error ? err : new Error(errorMessage(err)))
    throw err
  }
}

async function readReduced (ctx: { signal: AbortSignal }, plan: GatherPlan, contributors: Committed[], s: number, lp: FramedStream, into: Float32Array, result: GatherResult, opts: { idleMs: number, field: string }): Promise<ShardOutcome> {
  const { idleMs, field } = opts
  const head = await withTimeout(ctx.signal, idleMs, async signal => await requestReduce(lp, { jobId: plan.jobId, round: plan.round, shard: s, waitMs: plan.waitMs, contributors }, signal))
  if (!head.ok) return head
  if (head.elements !== into.length) throw new InvalidInputError('SHARD_INVALID', field, `has ${head.elements} values, expected ${into.length}`)
  let nonFinite = -1
  const got = await readValuesInto(lp, into, {
    signal: ctx.signal,
    idleMs,
    field,
    partial: true,
    onValues: (v) => { const at = firstNonFinite(v); if (at >= 0 && nonFinite < 0) nonFinite = (v.byteOffset - into.byteOffset) / 4 + at }
  })
  result.ingressBytes += got * 4
  const trailer = await withTimeout(ctx.signal, idleMs, async signal => await readReduceTrailer(lp, signal))
  if (!trailer.ok) return trailer
  if (got !== into.length) throw new InvalidInputError('SHARD_INVALID', field, `has ${got} values, expected ${into.length}`)
  if (nonFinite >= 0) throw new InvalidInputError('UPDATE_NON_FINITE', `${field}[${nonFinite}]`, `is ${into[nonFinite]}`)
  // Every shard must cover exactly the committed contributors with their weights.
  const want = contributors.map(c => c.clientId)
  if (trailer.contributors.join(',') !== want.join(',')) throw new InvalidInputError('SHARD_INVALID', `${field}.contributors`, `${trailer.contributors.join(',')}, expected ${want.join(',')}`)
  const weightSum = contributors.reduce((a, c) => a + c.weight, 0)
  if (!sumSqMatches(weightSum, trailer.weightSum)) throw new InvalidInputError('SHARD_INVALID', `${field}.weightSum`, `${trailer.weightSum}, expected ${weightSum}`)
  return { ok: true }
}

async function fromContributors (ctx: { open: Open, signal: AbortSignal }, plan: GatherPlan, committed: GatherPlan['committed'], s: number, into: Float32Array, result: GatherResult): Promise<ShardOutcome> {
  const missing: string[] = []
  const invalid: Rejected[] = []
  const parts = await Promise.all(committed.map(async c => {
    const values = new Float32Array(into.length)
    const digest = new ShardDigest(plan.global.subarray(plan.ranges[s].start, plan.ranges[s].end))
    try {
      // However long the shard takes on a shared link, its bytes must keep coming (idle time, not a deadline).
      const lp = await withTimeout(ctx.signal, plan.waitMs + 5000, async signal => await ctx.open(c.peerId, SHARD_FETCH_PROTOCOL, signal))
      try {
        await fetchShard(lp, { jobId: plan.jobId, round: plan.round, shard: s }, values, { signal: ctx.signal, idleMs: plan.waitMs, onValues: v => { digest.update(v) } })
      } catch (err) {
        lp.unwrap().abort(err instanceof Error ? err : new Error(errorMessage(err)))
        throw err
      }
      await lp.unwrap().close().catch(() => {})
    } catch (err) {
      if (ctx.signal.aborted) throw err
      missing.push(c.clientId)
      return undefined
    }
    result.ingressBytes += values.byteLength
    const got = digest.digest()
    if (digest.nonFinite >= 0) invalid.push({ clientId: c.clientId, reason: `update.shards[${s}][${digest.nonFinite}]: is ${values[digest.nonFinite]}` })
    else if (got.sha256 !== c.shards[s].sha256) invalid.push({ clientId: c.clientId, reason: `update.shards[${s}]: its values do not match the sha256 it declared` })
    else if (!sumSqMatches(c.shards[s].sumSq, got.sumSq)) invalid.push({ clientId: c.clientId, reason: `update.shards[${s}].sumSq: declared ${c.shards[s].sumSq}, the values give ${got.sumSq}` })
    return { values, weight: c.weight }
  }))
  if (missing.length + invalid.length > 0) return { ok: false, missing, invalid }
  weightedMean(parts.filter(p => p != null), into)
  return { ok: true }
}
