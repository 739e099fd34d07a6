import { InvalidInputError } from '../errors.js'
import { createRng, dirichlet, shuffleInPlace } from './rng.js'

export interface PartitionSpec { kind: 'iid' | 'dirichlet', clients: number, seed: number, alpha?: number, minSamples?: number }

/**
 * Splits sample indices across clients, reproducibly from the seed.
 * `iid`: a shuffle cut into near-equal parts. `dirichlet`: per class, shares drawn from Dir(alpha);
 * redrawn (same seed stream) until every client has at least `minSamples`.
 */
export function partition (labels: Uint8Array, spec: PartitionSpec): number[][] {
  if (spec.clients < 1 || spec.clients > labels.length) throw new InvalidInputError('PARTITION_INVALID', 'clients', `${spec.clients} clients for ${labels.length} samples`)
  const rng = createRng(spec.seed)
  if (spec.kind === 'iid') {
    const order = shuffleInPlace(Array.from(labels, (_v, i) => i), rng)
    const parts: number[][] = []
    for (let c = 0; c < spec.clients; c++) {
      parts.push(order.slice(Math.floor(c * order.length / spec.clients), Math.floor((c + 1) * order.length / spec.clients)))
    }
    return parts
  }
  const alpha = spec.alpha ?? 0.5
  const minSamples = Math.min(spec.minSamples ?? 10, Math.floor(labels.length / spec.clients))
  const byClass = new Map<number, number[]>()
  labels.forEach((label, i) => { byClass.set(label, [...(byClass.get(label) ?? []), i]) })
  for (let attempt = 0; attempt < 1000; attempt++) {
    const parts: number[][] = Array.from({ length: spec.clients }, () => [])
    for (const label of [...byClass.keys()].sort((a, b) => a - b)) {
      const idx = shuffleInPlace([...(byClass.get(label) ?? [])], rng)
      const shares = dirichlet(alpha, spec.clients, rng)
      let start = 0
      let acc = 0
      shares.forEach((share, c) => {
        acc += share
        const end = c === spec.clients - 1 ? idx.length : Math.round(acc * idx.length)
        parts[c].push(...idx.slice(start, end))
        start = end
      })
    }
    if (parts.every(p => p.length >= minSamples)) return parts
  }
  throw new InvalidInputError('PARTITION_INVALID', 'alpha', `Dirichlet alpha ${alpha} leaves some of ${spec.clients} clients with fewer than ${minSamples} samples`)
}
