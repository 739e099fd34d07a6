import { InvalidInputError } from '../errors.js'
import type { NamedTensor, TensorEntry } from '../model/serialize.js'
import { tensorSize } from '../model/serialize.js'

/**
 * FedAvg as a running weighted sum: each update is added as it arrives and then dropped, so memory is
 * one model (in float64) however many clients report.
 */
export class RunningAverage {
  private readonly layout: TensorEntry[]
  private readonly sums: Float64Array[]
  private weightSum = 0
  private updates = 0

  constructor (layout: readonly TensorEntry[]) {
    this.layout = layout.map(e => ({ ...e, shape: [...e.shape] }))
    this.sums = this.layout.map(e => new Float64Array(tensorSize(e.shape)))
  }

  get count (): number { return this.updates }
  get totalWeight (): number { return this.weightSum }

  /** Adds one update with weight (its sample count). Values must be finite; the caller checked the layout. */
  add (tensors: ReadonlyArray<Float32Array | Int32Array>, weight: number): void {
    if (!(weight > 0) || !Number.isFinite(weight)) throw new InvalidInputError('UPDATE_INVALID', 'update.samples', `weight must be a positive number, got ${weight}`)
    if (tensors.length !== this.sums.length) throw new InvalidInputError('UPDATE_LAYOUT', 'update.tensors', `has ${tensors.length} tensors, expected ${this.sums.length}`)
    tensors.forEach((t, i) => {
      if (t.length !== this.sums[i].length) throw new InvalidInputError('UPDATE_LAYOUT', `update.tensors[${i}]`, `has ${t.length} values, expected ${this.sums[i].length}`)
    })
    tensors.forEach((t, i) => {
      const sum = this.sums[i]
      for (let j = 0; j < t.length; j++) sum[j] += weight * t[j]
    })
    this.weightSum += weight
    this.updates++
  }

  /** The weighted mean of everything added so far. */
  result (): NamedTensor[] {
    if (this.updates === 0) throw new InvalidInputError('AGGREGATE_EMPTY', 'aggregate', 'no updates were added')
    return this.layout.map((e, i) => {
      const data = new Float32Array(this.sums[i].length)
      const sum = this.sums[i]
      for (let j = 0; j < data.length; j++) data[j] = sum[j] / this.weightSum
      return { name: e.name, shape: e.shape, dtype: 'float32' as const, data }
    })
  }
}

/** Index of the first NaN or ±Inf, or -1. */
export function firstNonFinite (values: Float32Array | Int32Array): number {
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) return i
  return -1
}
