import { createHash } from 'node:crypto'
import type { NamedTensor, TensorEntry } from '../model/serialize.js'
import { parseModel, parseModelHeader, tensorSize } from '../model/serialize.js'

/**
 * The model's values as one flat float32 vector, cut into contiguous shards on element boundaries: the unit a
 * reduce-scatter moves. Shard s of `count` covers elements [start, end), sizes differing by at most one.
 */
export interface ShardRange { start: number, end: number }

export function shardRanges (elements: number, count: number): ShardRange[] {
  return Array.from({ length: count }, (_v, s) => ({ start: Math.floor(s * elements / count), end: Math.floor((s + 1) * elements / count) }))
}

export const elementCount = (layout: ReadonlyArray<Pick<TensorEntry, 'shape'>>): number => layout.reduce((n, e) => n + tensorSize(e.shape), 0)

/** All tensors' values end to end, in layout order (one copy). */
export function flatten (tensors: readonly NamedTensor[]): Float32Array {
  const out = new Float32Array(tensors.reduce((n, t) => n + t.data.length, 0))
  let at = 0
  for (const t of tensors) { out.set(t.data, at); at += t.data.length }
  return out
}

/**
 * The values of a serialized model (all float32), flat: a view of the file when its tensors lie end to end (no
 * alignment padding between them, as in every model bt-ps builds), else a copy.
 */
export function modelValues (bytes: Uint8Array): Float32Array {
  const { header, dataStart } = parseModelHeader(bytes)
  const total = header.tensors.reduce((n, e) => n + e.byteLength, 0)
  const contiguous = header.tensors.every((e, i) => e.dtype === 'float32' && (i === 0 || e.offset === header.tensors[i - 1].offset + header.tensors[i - 1].byteLength))
  const start = bytes.byteOffset + dataStart
  if (contiguous && start % 4 === 0) return new Float32Array(bytes.buffer, start, total / 4)
  return flatten(parseModel(bytes).tensors)
}

/** Cuts a flat vector back into tensors shaped like `layout` (views, no copy). */
export function unflatten (flat: Float32Array, layout: ReadonlyArray<Pick<TensorEntry, 'name' | 'shape'>>): NamedTensor[] {
  let at = 0
  return layout.map(e => {
    const n = tensorSize(e.shape)
    const data = flat.subarray(at, at + n)
    at += n
    return { name: e.name, shape: [...e.shape], dtype: 'float32' as const, data }
  })
}

export const bytesOf = (v: Float32Array): Uint8Array => new Uint8Array(v.buffer, v.byteOffset, v.byteLength)

/**
 * What a contributor declares about one shard of its update, so that whoever receives the bytes (an owner, or the
 * server fetching them itself) can hold them to it: their SHA-256, and the squared distance from the round's global
 * model over the shard (the server sums these to apply the norm bound without seeing the update).
 */
export interface ShardCheck { sha256: string, sumSq: number }

/** Incremental check of a shard's bytes as they arrive: hash, squared distance from `global`, first non-finite value. */
export class ShardDigest {
  private readonly hash = createHash('sha256')
  private readonly global?: Float32Array
  sumSq = 0
  received = 0
  /** Index (within the shard) of the first NaN/Inf seen, or -1. */
  nonFinite = -1

  constructor (global?: Float32Array) { this.global = global }

  /** Adds the next values of the shard. */
  update (values: Float32Array): void {
    this.hash.update(bytesOf(values))
    const g = this.global
    let sum = 0
    for (let i = 0; i < values.length; i++) {
      const x = values[i]
      if (!Number.isFinite(x)) { if (this.nonFinite < 0) this.nonFinite = this.received + i; continue }
      const d = g != null ? x - g[this.received + i] : x
      sum += d * d
    }
    this.sumSq += sum
    this.received += values.length
  }

  private final?: ShardCheck

  /** The checks of everything added (the hash closes: add nothing after this). */
  digest (): ShardCheck {
    this.final ??= { sha256: this.hash.digest('hex'), sumSq: this.sumSq }
    return this.final
  }
}

/** Σ (x − g)² in float64, in index order (the same sum `ShardDigest` makes as values stream in). */
export function squaredDistance (values: Float32Array, global: Float32Array): number {
  const d = new ShardDigest(global)
  d.update(values)
  return d.sumSq
}

/** Checks of every shard of a flat update (what a contributor tells the server). */
export function shardChecks (update: Float32Array, global: Float32Array | undefined, ranges: readonly ShardRange[]): ShardCheck[] {
  return ranges.map(r => {
    const d = new ShardDigest(global?.subarray(r.start, r.end))
    d.update(update.subarray(r.start, r.end))
    return d.digest()
  })
}

/**
 * Whether a recomputed squared distance agrees with the declared one. The two sums run over the same float32
 * values in the same order, so they match to the last bit in practice; the slack only absorbs a different
 * summation on another platform.
 */
export const sumSqMatches = (declared: number, actual: number): boolean => Math.abs(declared - actual) <= 1e-9 * Math.max(1, Math.abs(declared), Math.abs(actual))

/**
 * A weighted mean of shard slices, summed in float64 in the order given: `out[i] = Σ w_c·x_c[i] / Σ w_c`.
 * The same arithmetic as `RunningAverage`, so a swarm aggregate equals a direct one to float32 rounding.
 */
export function weightedMean (parts: ReadonlyArray<{ values: Float32Array, weight: number }>, out: Float32Array, scratch = new Float64Array(out.length)): void {
  const sum = scratch.subarray(0, out.length)
  sum.fill(0)
  let weights = 0
  for (const { values, weight } of parts) {
    for (let i = 0; i < out.length; i++) sum[i] += weight * values[i]
    weights += weight
  }
  for (let i = 0; i < out.length; i++) out[i] = sum[i] / weights
}
