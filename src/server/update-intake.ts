import { RunningAverage, firstNonFinite } from '../aggregation/running-average.js'
import { InvalidInputError } from '../errors.js'
import type { ClientReport } from '../control/report.js'
import type { UpdateHeader } from '../control/update.js'
import { assertSameLayout, modelByteLength, parseModelHeader } from '../model/serialize.js'
import type { NamedTensor, TensorEntry } from '../model/serialize.js'

/** ||a - b|| over all tensors (||a|| without b). */
function l2 (a: ReadonlyArray<ArrayLike<number>>, b?: ReadonlyArray<ArrayLike<number>>): number {
  let sum = 0
  a.forEach((x, i) => {
    const y = b?.[i]
    for (let j = 0; j < x.length; j++) { const d = y == null ? x[j] : x[j] - y[j]; sum += d * d }
  })
  return Math.sqrt(sum)
}

/**
 * One round's intake of updates: admits the first K from selected clients, one at a time into a single staging
 * buffer, checks each completely, then folds it into the running average. Memory: staging + sum, O(model).
 */
export class UpdateIntake {
  readonly round: number
  readonly jobId: string
  readonly selected: Set<string>
  readonly accepted: string[] = []
  readonly reports = new Map<string, ClientReport>()
  readonly average: RunningAverage
  ingressBytes = 0
  aggregationS = 0
  closed = false
  private readonly k: number
  private readonly layout: TensorEntry[]
  private readonly staging: Uint8Array
  private queue: Promise<void> = Promise.resolve()
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
    this.average = new RunningAverage(init.layout)
    this.staging = new Uint8Array(init.modelBytes + 64 * 1024)
    this.full = new Promise<void>(resolve => { this.markFull = resolve })
  }

  /** Resolves once K updates are in. */
  get filled (): Promise<void> { return this.full }
  get maxUpdateBytes (): number { return this.staging.byteLength }

  /** Why this header cannot be taken now, or undefined when it may proceed. */
  refusal (h: Pick<UpdateHeader, 'jobId' | 'round' | 'clientId'>): string | undefined {
    if (this.closed) return `round ${this.round} is closed`
    if (h.jobId !== this.jobId) return `job ${h.jobId} is not ${this.jobId}`
    if (h.round !== this.round) return `round ${h.round} is not the open round ${this.round}`
    if (!this.selected.has(h.clientId)) return `${h.clientId} was not selected for round ${this.round}`
    if (this.accepted.includes(h.clientId)) return `${h.clientId} already sent its update`
    if (this.accepted.length >= this.k) return `round ${this.round} already has ${this.k} updates`
    return undefined
  }

  /** Runs `receive` exclusively (one update streams into staging at a time) and folds in the result. */
  async take (h: UpdateHeader, receive: (staging: Uint8Array) => Promise<Uint8Array>): Promise<void> {
    const turn = this.queue.then(async () => {
      const again = this.refusal(h)
      if (again !== undefined) throw new InvalidInputError('UPDATE_REFUSED', 'update', again)
      const bytes = await receive(this.staging)
      this.ingressBytes += bytes.byteLength
      this.fold(h, bytes)
    })
    this.queue = turn.catch(() => {})
    await turn
  }

  private fold (h: UpdateHeader, bytes: Uint8Array): void {
    const { header, dataStart } = parseModelHeader(bytes)
    if (header.jobId !== this.jobId || header.round !== this.round) throw new InvalidInputError('UPDATE_INVALID', 'update.model', `is for ${header.jobId} round ${header.round}`)
    assertSameLayout(this.layout, header.tensors)
    if (modelByteLength(header, dataStart) !== bytes.byteLength) throw new InvalidInputError('UPDATE_INVALID', 'update.model', 'length does not match its header')
    const views = header.tensors.map(e => new Float32Array(bytes.buffer, bytes.byteOffset + dataStart + e.offset, e.byteLength / 4))
    views.forEach((v, i) => {
      const bad = firstNonFinite(v)
      if (bad >= 0) throw new InvalidInputError('UPDATE_NON_FINITE', `update.${header.tensors[i].name}[${bad}]`, `is ${v[bad]}`)
    })
    if (this.global != null && Number.isFinite(this.maxNorm)) {
      const norm = l2(views, this.global.map(t => t.data))
      if (norm > this.maxNorm) throw new InvalidInputError('UPDATE_NORM', 'update', `moves the model by ${norm.toPrecision(3)}, more than the bound ${this.maxNorm.toPrecision(3)} (server.max_update_norm_ratio)`)
    }
    const t0 = performance.now()
    this.average.add(views, h.samples)
    this.aggregationS += (performance.now() - t0) / 1000
    this.accepted.push(h.clientId)
    this.reports.set(h.clientId, h.report)
    if (this.accepted.length >= this.k) this.markFull()
  }

  /** A distribution-only round: records that a selected client holds the model; K receipts fill the round. */
  receipt (h: Pick<UpdateHeader, 'jobId' | 'round' | 'clientId' | 'report'>): void {
    const refusal = this.refusal(h)
    if (refusal !== undefined) throw new InvalidInputError('UPDATE_REFUSED', 'receipt', refusal)
    this.accepted.push(h.clientId)
    this.reports.set(h.clientId, h.report)
    if (this.accepted.length >= this.k) this.markFull()
  }

  close (): void {
    this.closed = true
    this.markFull()
  }
}
