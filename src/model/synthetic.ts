import type { NamedTensor } from './serialize.js'
import { createRng } from '../training/rng.js'

const BLOCK_VALUES = 256 * 1024

/**
 * A model of `mb` MiB for distribution benchmarks: float32 blocks of 1 MiB (`block_000`, ...) holding seeded
 * values in [-1, 1), so the bytes look like weights and do not compress.
 */
export function syntheticModel (mb: number, seed: number): NamedTensor[] {
  const total = Math.max(1, Math.round(mb * 1024 * 1024 / 4))
  const rng = createRng(seed)
  const tensors: NamedTensor[] = []
  for (let start = 0, i = 0; start < total; start += BLOCK_VALUES, i++) {
    const n = Math.min(BLOCK_VALUES, total - start)
    const data = new Float32Array(n)
    for (let j = 0; j < n; j++) data[j] = rng() * 2 - 1
    tensors.push({ name: `block_${String(i).padStart(3, '0')}`, shape: [n], dtype: 'float32', data })
  }
  return tensors
}

/**
 * Moves the last `fraction` of the synthetic model's blocks by a small step that depends on the round, so a
 * distribution benchmark sends a model that changed as a trained one does (1: every block) or as one whose first
 * layers are frozen (less), rather than the same bytes every round.
 */
export function advanceSynthetic (tensors: NamedTensor[], fraction: number, round: number): void {
  const first = tensors.length - Math.round(fraction * tensors.length)
  const step = Math.fround(2 ** -12 * (1 + (round % 7)))
  for (let i = first; i < tensors.length; i++) {
    const data = tensors[i].data
    for (let j = 0; j < data.length; j++) data[j] = data[j] > 0.5 ? data[j] - step : data[j] + step
  }
}

/**
 * A stand-in for a trained update in whole-round benchmarks: the global model's values (flat) moved by a small seeded
 * step (|δ| ≤ 0.01), so it is the model's size, differs per client and stays well inside the norm bound.
 */
export function syntheticUpdate (global: Float32Array, seed: number): Float32Array {
  const rng = createRng(seed)
  const out = new Float32Array(global.length)
  for (let i = 0; i < out.length; i++) out[i] = global[i] + (rng() * 2 - 1) * 0.01
  return out
}
