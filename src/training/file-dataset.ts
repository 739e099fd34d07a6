import { readdirSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { InvalidInputError } from '../errors.js'
import { readCifarBatches, CIFAR_SHAPE } from './files/cifar10.js'
import { readIdx } from './files/idx.js'
import { readLeaf } from './files/leaf.js'
import { subset } from './mnist.js'
import type { Dataset } from './mnist.js'
import { createRng, shuffleInPlace } from './rng.js'

export type FileFormat = 'idx' | 'cifar10' | 'leaf'
export interface FileDataset { format: FileFormat, train: Dataset, test: Dataset }

const IDX = { trainImages: /train.*images.*idx3-ubyte(\.gz)?$/, trainLabels: /train.*labels.*idx1-ubyte(\.gz)?$/, testImages: /(t10k|test).*images.*idx3-ubyte(\.gz)?$/, testLabels: /(t10k|test).*labels.*idx1-ubyte(\.gz)?$/ }
const CIFAR = { train: /data_batch_\d+\.bin$/, test: /test_batch\.bin$/ }

/** Files under `dir`, two levels deep, as paths relative to it (sorted). */
function listFiles (dir: string): string[] {
  const out: string[] = []
  const walk = (at: string, depth: number): void => {
    for (const name of readdirSync(at).sort()) {
      const path = join(at, name)
      const st = statSync(path)
      if (st.isDirectory() && depth < 2) walk(path, depth + 1)
      else if (st.isFile()) out.push(relative(dir, path))
    }
  }
  walk(dir, 0)
  return out
}

/**
 * The user's own data under `job.data_path`, recognised by its files: IDX (`*train*images*idx3-ubyte[.gz]` with its
 * labels and the `t10k`/`test` pair: MNIST, EMNIST), CIFAR-10 binary (`data_batch_N.bin`, `test_batch.bin`) or LEAF
 * JSON (`train/*.json`, `test/*.json`: FEMNIST, with each sample's writer). The official train/test split is kept;
 * `trainSamples` and `testSamples` are the most drawn from each, a seeded draw.
 */
export function loadFileDataset (dir: string, opts: { trainSamples: number, testSamples: number, seed: number }): FileDataset {
  let files: string[]
  try {
    if (!statSync(dir).isDirectory()) throw new Error('not a directory')
    files = listFiles(dir)
  } catch (err) {
    throw new InvalidInputError('DATA_INVALID', 'job.data_path', `${dir}: ${(err as Error).message}`)
  }
  const find = (re: RegExp): string[] => files.filter(f => re.test(f)).map(f => join(dir, f))
  const one = (re: RegExp, what: string): string => {
    const found = find(re)
    if (found.length !== 1) throw new InvalidInputError('DATA_INVALID', 'job.data_path', `${dir} has ${found.length} ${what} files (${re.source}); expected one`)
    return found[0]
  }
  if (find(IDX.trainImages).length > 0) {
    const train = idxSet(one(IDX.trainImages, 'IDX train image'), one(IDX.trainLabels, 'IDX train label'))
    const test = idxSet(one(IDX.testImages, 'IDX test image'), one(IDX.testLabels, 'IDX test label'))
    return withClasses('idx', sample(train, opts.trainSamples, opts.seed), sample(test, opts.testSamples, opts.seed + 1))
  }
  if (find(CIFAR.train).length > 0) {
    const train = cifarSet(find(CIFAR.train))
    const test = cifarSet([one(CIFAR.test, 'CIFAR-10 test batch')])
    return withClasses('cifar10', sample(train, opts.trainSamples, opts.seed), sample(test, opts.testSamples, opts.seed + 1))
  }
  const leafTrain = files.filter(f => /(^|\/)train\/[^/]+\.json$/.test(f)).map(f => join(dir, f))
  const leafTest = files.filter(f => /(^|\/)test\/[^/]+\.json$/.test(f)).map(f => join(dir, f))
  if (leafTrain.length > 0 && leafTest.length > 0) {
    const writers: string[] = []
    const train = leafSet(leafTrain, writers)
    const test = leafSet(leafTest, writers)
    return withClasses('leaf', sample(train, opts.trainSamples, opts.seed), sample(test, opts.testSamples, opts.seed + 1))
  }
  throw new InvalidInputError('DATA_INVALID', 'job.data_path', `${dir} holds no dataset bt-ps reads: IDX (train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-…), CIFAR-10 binary (data_batch_N.bin, test_batch.bin) or LEAF JSON (train/*.json, test/*.json)`)
}

function idxSet (imagesPath: string, labelsPath: string): Dataset {
  const images = readIdx(imagesPath)
  const labels = readIdx(labelsPath)
  if (images.dims.length !== 3) throw new InvalidInputError('DATA_INVALID', `job.data_path (${imagesPath})`, `has dimensions ${images.dims.join('×')}; images need 3 (count × rows × columns)`)
  if (labels.dims.length !== 1 || labels.dims[0] !== images.dims[0]) throw new InvalidInputError('DATA_INVALID', `job.data_path (${labelsPath})`, `has dimensions ${labels.dims.join('×')}; expected ${images.dims[0]} labels, one per image`)
  const [n, rows, cols] = images.dims
  return { x: Float32Array.from(images.data, v => v / 255), y: Uint8Array.from(labels.data), size: n, shape: [rows, cols, 1], classes: 0 }
}

function cifarSet (paths: string[]): Dataset {
  const { x, y } = readCifarBatches(paths)
  return { x: Float32Array.from(x, v => v / 255), y, size: y.length, shape: CIFAR_SHAPE, classes: 10 }
}

function leafSet (paths: string[], writers: string[]): Dataset {
  const s = readLeaf(paths, writers)
  // FEMNIST stores [0, 1]; other exports store 0–255.
  let max = 0
  for (const v of s.x) if (v > max) max = v
  if (max > 1) for (let i = 0; i < s.x.length; i++) s.x[i] /= 255
  const side = Math.round(Math.sqrt(s.pixels))
  const shape = side * side === s.pixels ? [side, side, 1] : [1, s.pixels, 1]
  return { x: s.x, y: s.y, size: s.y.length, shape, classes: 0, groups: s.groups }
}

/** Every split predicts the same classes: one more than the largest label seen in either. */
function withClasses (format: FileFormat, train: Dataset, test: Dataset): FileDataset {
  if (train.shape.join('x') !== test.shape.join('x')) throw new InvalidInputError('DATA_INVALID', 'job.data_path', `train images are ${train.shape.join('×')}, test images ${test.shape.join('×')}`)
  let classes = Math.max(train.classes, test.classes)
  for (const y of [train.y, test.y]) for (const label of y) classes = Math.max(classes, label + 1)
  return { format, train: { ...train, classes }, test: { ...test, classes } }
}

/** At most `n` samples, a seeded draw (all of them, in their order, when there are no more than `n`). */
function sample (d: Dataset, n: number, seed: number): Dataset {
  if (d.size <= n) return d
  return subset(d, shuffleInPlace(Array.from({ length: d.size }, (_v, i) => i), createRng(seed)).slice(0, n).sort((a, b) => a - b))
}
