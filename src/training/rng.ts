/** Seeded PRNG (mulberry32): partitions, shuffles and selections are reproducible from the job seed. */
export type Rng = () => number

export function createRng (seed: number): Rng {
  let a = (seed >>> 0) || 0x9e3779b9
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export function shuffleInPlace<T> (items: T[], rng: Rng): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1))
    const tmp = items[i]; items[i] = items[j]; items[j] = tmp
  }
  return items
}

/** Standard normal (Box–Muller). */
function normal (rng: Rng): number {
  const u = Math.max(rng(), 1e-12)
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng())
}

/** Gamma(shape, 1) by Marsaglia–Tsang; shape < 1 via the boost Gamma(a+1)·U^(1/a). */
export function gamma (shape: number, rng: Rng): number {
  if (shape < 1) return gamma(shape + 1, rng) * Math.pow(Math.max(rng(), 1e-12), 1 / shape)
  const d = shape - 1 / 3
  const c = 1 / Math.sqrt(9 * d)
  for (;;) {
    let x: number, v: number
    do { x = normal(rng); v = 1 + c * x } while (v <= 0)
    v = v * v * v
    const u = rng()
    if (u < 1 - 0.0331 * x ** 4 || Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v
  }
}

export function dirichlet (alpha: number, k: number, rng: Rng): number[] {
  const g = Array.from({ length: k }, () => gamma(alpha, rng))
  const sum = g.reduce((a, b) => a + b, 0)
  return g.map(x => x / sum)
}
