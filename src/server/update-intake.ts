import { RunningAverage, firstNonFinite } from '../aggregation/running-average.js'
import { InvalidInputError } from '../errors.js'
import type { ClientReport } from '../control/report.js'
import type { UpdateHeader } from '../control/update.js'
import { assertSameLayout, modelByteLength, parseModelHeader } from '../model/serialize.js'
import type { NamedTensor, TensorEntry } from '../model/serialize.js'
import type { ShardCheck } from '../aggregation/shards.js'
import type { Contribution } from '../control/contribution.js'

/** ||a - b|| over all tensors (||a|| without b). */
function l2 (a: ReadonlyArray<ArrayLike<number>>, b?: ReadonlyArray<ArrayLike<number>>): number {
  let sum = 0
  a.forEach((x, i) => {
    const y = b?.[i]
    for (let j = 0; j < x.length; j++) { const d = y == null ? x[j] : x[j] - y[j]; sum += d * d }
  })
  return Math.sqrt(sum)
}

/** What a swarm-upload contributor committed to: its weight, its peer, and its declared per-shard checks. */
export interface AdmittedContribution { clientId: string, peerId: string, weight: number, shards: ShardCheck[] }

/** Updates read at once in direct mode: one stalled sender holds a slot, never the round. */
const STAGING_SLOTS = 2

/**
 * One round's intake of updates: admits the first K from selected clients. Direct mode: each streams into one of
 * a few staging buffers, is checked completely, then folded into the running average (memory: staging + sum,
 * O(model)). Swarm mode: a contribution is only declared here (layout, per-shard checks); its bytes go to the
 * shard owners, and the server gathers the reduced shards once the round is committed.
 */
export class UpdateIntake {
  readonly round: number
  readonly jobId: string
  readonly selected: Set<string>
  readonly accepted: string[] = []
  readonly reports = new Map<string, ClientReport>()
  /** when each admitted update or receipt came in (ms, Date.now()) */
  readonly admittedAt = new Map<string, number>()
  /** made at the first direct update: a distribution-only or swarm-upload round never needs its model-sized sums */
  private sums?: RunningAverage
  /** swarm mode: admitted contributions, in commit order */
  readonly contributions: AdmittedContribution[] = []
  ingressBytes = 0
  aggregationS = 0
  /** when the first update or contribution reached the server (ms), for the upload phase */
  firstUpdateAt?: number
  closed = false
  /** aborted when the round closes: reads of updates still open stop there */
  private readonly closing = new AbortController()
  /** updates that fill the round */
  readonly k: number
  private readonly layout: TensorEntry[]
  private readonly free: Uint8Array[]
  private readonly slotWaiters: Array<() => void> = []
  private readonly full: Promise<void>
  private markFull: () => void = () => {}

  private readonly global?: readonly NamedTensor[]
  private readonly maxNorm: number

  /**
   * `global` and `maxNormRatio` bound how far an update may move the model: ||update - global|| must stay within
   * maxNormRatio * max(||global||, 1) (0: no bound). A scaled or poisoned update fails it; honest training does not.
   */
  constructor (init: { jobId: string, round: number, selected: string[], k: number, layout: TensorEntry[], modelBytes: number, global?: readonly NamedTensor[], maxNormRatio?: number }) {
    this.global = init.global
    this.maxNorm = init.global != null && (init.maxNormRatio ?? 0) > 0 ? (init.maxNormRatio ?? 0) * Math.max(l2(init.global.map(t => t.data)), 1) : Infinity
    this.jobId = init.jobId
    this.round = init.round
    this.selected = new Set(init.selected)
    this.k = init.k
    this.layout = init.layout
    this.maxUpdateBytes = init.modelBytes + 64 * 1024
    // Staging buffers are made as updates arrive (each costs page faults over the model's size when first written).
    this.free = []
    this.spareSlots = STAGING_SLOTS
    this.full = new Promise<void>(resolve => { this.markFull = resolve })
  }

  /** Resolves once K updates are in. */
  get filled (): Promise<void> { return this.full }
  readonly maxUpdateBytes: number
  private spareSlots: number

  get average (): RunningAverage {
    this.sums ??= new RunningAverage(this.layout)
    return this.sums
  }
  /** Fires when the round closes. */
  get signal (): AbortSignal { return this.closing.signal }

  /** Why this header cannot be taken now, or undefined when it may proceed. */
  refusal (h: Pick<UpdateHeader, 'jobId' | 'round' | 'clientId'>): string | undefined {
    if (this.closed) return `round ${this.round} is closed`
    if (h.jobId !== this.jobId) return `job ${h.jobId} is not ${this.jobId}`
    if (h.round !== this.round) return `round ${h.round} is not the open round ${this.round}`
    if (!this.selected.has(h.clientId)) return `${h.clientId} was not selected for round ${this.round}`
    if (this.reports.has(h.clientId)) return `${h.clientId} already sent its update` // reports: the admitted, by id
    if (this.accepted.length >= this.k) return `round ${this.round} already has ${this.k} updates`
    return undefined
  }

  /**
   * Runs `receive` into a free staging buffer (a few updates stream at once, so one stalled sender cannot hold up
   * the rest) and folds in the result with `weight`, the server's sample count for the client.
   */
  async take (h: UpdateHeader, weight: number, receive: (staging: Uint8Array, signal: AbortSignal) => Promise<Uint8Array>): Promise<void> {
    this.firstUpdateAt ??= Date.now()
    const staging = await this.slot()
    try {
      const again = this.refusal(h)
      if (again !== undefined) throw new InvalidInputError('UPDATE_REFUSED', 'update', again)
      const bytes = await receive(staging, this.closing.signal)
      this.ingressBytes += bytes.byteLength
      // Checked again: the round may have filled while this one streamed.
      const late = this.refusal(h)
      if (late !== undefined) throw new InvalidInputError('UPDATE_REFUSED', 'update', late)
      this.fold(h, bytes, weight)
    } finally {
      this.free.push(staging)
      this.slotWaiters.shift()?.()
    }
  }

  private async slot (): Promise<Uint8Array> {
    for (;;) {
      const got = this.free.pop()
      if (got != null) return got
      if (this.spareSlots > 0) { this.spareSlots--; return new Uint8Array(this.maxUpdateBytes) }
      if (this.closed) throw new InvalidInputError('UPDATE_REFUSED', 'update', `round ${this.round} is closed`)
      await new Promise<void>(resolve => { this.slotWaiters.push(resolve) })
    }
  }

  /**
   * Swarm mode: admits a declared contribution with `weight` when its layout is the model's and the squared
   * distances it declares keep it within the norm bound. Throws (UPDATE_LAYOUT, UPDATE_NORM, ...) naming why not.
   */
  contribute (c: Contribution, peerId: string, weight: number, shards: number): void {
    this.firstUpdateAt ??= Date.now()
    const refusal = this.refusal(c)
    if (refusal !== undefined) throw new InvalidInputError('UPDATE_REFUSED', 'update', refusal)
    let offset = 0
    assertSameLayout(this.layout, c.tensors.map(t => {
      const byteLength = t.shape.reduce((a, b) => a * b, 1) * 4
      const e = { ...t, offset, byteLength }
      offset += Math.ceil(byteLength / 8) * 8
      return e
    }))
    if (c.shards.length !== shards) throw new InvalidInputError('UPDATE_INVALID', 'update.shards', `has ${c.shards.length} checks, the round has ${shards} shards`)
    const norm = Math.sqrt(c.shards.reduce((a, x) => a + x.sumSq, 0))
    this.checkNorm(norm)
    this.contributions.push({ clientId: c.clientId, peerId, weight, shards: c.shards })
    this.admit(c.clientId, c.report)
  }

  private checkNorm (norm: number): void {
    if (norm > this.maxNorm) throw new InvalidInputError('UPDATE_NORM', 'update', `moves the model by ${norm.toPrecision(3)}, more than the bound ${this.maxNorm.toPrecision(3)} (server.max_update_norm_ratio)`)
  }

  private admit (clientId: string, report: ClientReport): void {
    this.accepted.push(clientId)
    this.reports.set(clientId, report)
    this.admittedAt.set(clientId, Date.now())
    if (this.accepted.length >= this.k) this.markFull()
  }

  private fold (h: UpdateHeader, bytes: Uint8Array, weight: number): void {
    const { header, dataStart } = parseModelHeader(bytes)
    if (header.jobId !== this.jobId || header.round !== this.round) throw new InvalidInputError('UPDATE_INVALID', 'update.model', `is for ${header.jobId} round ${header.round}`)
    assertSameLayout(this.layout, header.tensors)
    if (modelByteLength(header, dataStart) !== bytes.byteLength) throw new InvalidInputError('UPDATE_INVALID', 'update.model', 'length does not match its header')
    const views = header.tensors.map(e => new Float32Array(bytes.buffer, bytes.byteOffset + dataStart + e.offset, e.byteLength / 4))
    views.forEach((v, i) => {
      const bad = firstNonFinite(v)
      if (bad >= 0) throw new InvalidInputError('UPDATE_NON_FINITE', `update.${header.tensors[i].name}[${bad}]`, `is ${v[bad]}`)
    })
    if (this.global != null && Number.isFinite(this.maxNorm)) this.checkNorm(l2(views, this.global.map(t => t.data)))
    const t0 = performance.now()
    this.average.add(views, weight)
    this.aggregationS += (performance.now() - t0) / 1000
    this.admit(h.clientId, h.report)
  }

  /** A distribution-only round: records that a selected client holds the model; K receipts fill the round. */
  receipt (h: Pick<UpdateHeader, 'jobId' | 'round' | 'clientId' | 'report'>): void {
    const refusal = this.refusal(h)
    if (refusal !== undefined) throw new InvalidInputError('UPDATE_REFUSED', 'receipt', refusal)
    this.admit(h.clientId, h.report)
  }

  close (): void {
    this.closed = true
    this.closing.abort(new InvalidInputError('UPDATE_REFUSED', 'update', `round ${this.round} is closed`))
    for (const wake of this.slotWaiters.splice(0)) wake()
    this.markFull()
  }
}
