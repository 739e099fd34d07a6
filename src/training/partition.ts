import { InvalidInputError } from '../errors.js'
import { createRng, dirichlet, shuffleInPlace } from './rng.js'

export interface PartitionSpec {
  kind: 'iid' | 'dirichlet' | 'natural'
  clients: number
  seed: number
  alpha?: number
  minSamples?: number
  /** each sample's writer (LEAF), for `natural` */
  groups?: Uint32Array
}

/**
 * Splits sample indices across clients, reproducibly from the seed.
 * `iid`: a shuffle cut into near-equal parts. `dirichlet`: per class, shares drawn from Dir(alpha);
 * redrawn (same seed stream) until every client has at least `minSamples`, or after 50 draws the last draw's
 * smallest parts topped up from the largest. `natural`: whole writers per client.
 */
export function partition (labels: Uint8Array, spec: PartitionSpec): number[][] {
  if (spec.clients < 1 || spec.clients > labels.length) throw new InvalidInputError('PARTITION_INVALID', 'clients', `${spec.clients} clients for ${labels.length} samples`)
  const rng = createRng(spec.seed)
  if (spec.kind === 'natural') return byWriter(spec)
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
  let parts: number[][] = []
  for (let attempt = 0; attempt < DIRICHLET_DRAWS; attempt++) {
    parts = Array.from({ length: spec.clients }, () => [])
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
  return topUp(parts, minSamples)
}

/** Draws before a Dirichlet split's smallest parts are topped up instead (200 clients at alpha 0.1 never all get 10). */
const DIRICHLET_DRAWS = 50

/**
 * Gives every part at least `min` samples, taken from the end of the largest part at the time (its last class's
 * samples, shuffled): the label skew of the draw stays, and a client with almost nothing gets enough to train on.
 */
function topUp (parts: number[][], min: number): number[][] {
  for (const part of parts) {
    while (part.length < min) {
      let largest = parts[0]
      for (const p of parts) if (p.length > largest.length) largest = p
      part.push(largest.pop() as number)
    }
  }
  return parts
}

/** The data's own split (LEAF): writers in order of first appearance, dealt to the clients in turn. */
function byWriter (spec: PartitionSpec): number[][] {
  const groups = spec.groups
  if (groups == null) throw new InvalidInputError('PARTITION_INVALID', 'job.partition', 'natural needs a dataset that names each sample\'s writer (LEAF JSON under job.data_path)')
  const writers = new Map<number, number[]>()
  groups.forEach((w, i) => { const list = writers.get(w); if (list == null) writers.set(w, [i]); else list.push(i) })
  if (writers.size < spec.clients) throw new InvalidInputError('PARTITION_INVALID', 'job.clients', `${spec.clients} clients, but the data has ${writers.size} writers; natural gives each client whole writers`)
  const parts: number[][] = Array.from({ length: spec.clients }, () => [])
  ;[...writers.values()].forEach((samples, k) => { parts[k % spec.clients].push(...samples) })
  return parts
}
