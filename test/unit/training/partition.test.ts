import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { partition } from '../../../src/training/partition.js'
import { loadMnist } from '../../../src/training/mnist.js'

const { train, test: testSet } = loadMnist({ trainSamples: 8000, testSamples: 2000, seed: 1 })

test('the shipped MNIST digits load as real, labelled 28x28 images, train and test disjoint', () => {
  assert.is(train.size, 8000)
  assert.is(testSet.size, 2000)
  assert.is(train.x.length, 8000 * 784)
  const counts = new Array(10).fill(0)
  train.y.forEach(l => { counts[l]++ })
  assert.ok(counts.every(c => c > 600 && c < 1000), `class counts ${counts.join(',')}`)
  const mean = train.x.reduce((a, v) => a + v, 0) / train.x.length
  assert.ok(mean > 0.05 && mean < 0.3, `mean pixel ${mean}`)
  const key = (x: Float32Array, i: number): string => Array.from(x.subarray(i * 784 + 300, i * 784 + 340)).join()
  const trainKeys = new Set(Array.from({ length: 500 }, (_v, i) => key(train.x, i)))
  const overlap = Array.from({ length: 500 }, (_v, i) => key(testSet.x, i)).filter(k => trainKeys.has(k)).length
  assert.ok(overlap < 5, `overlap ${overlap}`)
})

test('IID: every sample once, near-equal parts, same seed same split', () => {
  const parts = partition(train.y, { kind: 'iid', clients: 7, seed: 3 })
  assert.is(parts.length, 7)
  const all = parts.flat().sort((a, b) => a - b)
  assert.equal(all, Array.from({ length: 8000 }, (_v, i) => i))
  assert.ok(Math.max(...parts.map(p => p.length)) - Math.min(...parts.map(p => p.length)) <= 1)
  assert.equal(partition(train.y, { kind: 'iid', clients: 7, seed: 3 }), parts)
  assert.not.equal(partition(train.y, { kind: 'iid', clients: 7, seed: 4 }), parts)
})

test('Dirichlet: disjoint cover, reproducible, and skewed labels for small alpha', () => {
  const parts = partition(train.y, { kind: 'dirichlet', clients: 5, seed: 9, alpha: 0.1 })
  assert.equal(parts.flat().sort((a, b) => a - b), Array.from({ length: 8000 }, (_v, i) => i))
  assert.equal(partition(train.y, { kind: 'dirichlet', clients: 5, seed: 9, alpha: 0.1 }), parts)
  assert.ok(parts.every(p => p.length >= 10))
  const dominant = (p: number[]): number => { const c = new Array(10).fill(0); p.forEach(i => { c[train.y[i]]++ }); return Math.max(...c) / p.length }
  const skewed = parts.map(dominant)
  const iid = partition(train.y, { kind: 'iid', clients: 5, seed: 9 }).map(dominant)
  assert.ok(Math.max(...skewed) > 0.4, `dominant class share ${skewed.join(',')}`)
  assert.ok(Math.max(...iid) < 0.15, `iid dominant share ${iid.join(',')}`)
})

test('Dirichlet over many clients at small alpha: the few that draw almost nothing are topped up, the skew stays', () => {
  // Per-class shares over 200 clients at alpha 0.1 leave some clients with no samples on every draw.
  const parts = partition(train.y, { kind: 'dirichlet', clients: 200, seed: 3, alpha: 0.1 })
  assert.equal(parts.flat().sort((a, b) => a - b), Array.from({ length: 8000 }, (_v, i) => i))
  assert.ok(parts.every(p => p.length >= 10), `smallest part ${Math.min(...parts.map(p => p.length))}`)
  assert.equal(partition(train.y, { kind: 'dirichlet', clients: 200, seed: 3, alpha: 0.1 }), parts)
  const classes = parts.map(p => new Set(p.map(i => train.y[i])).size).sort((a, b) => a - b)
  assert.ok(classes[100] <= 5, `median client holds ${classes[100]} of 10 classes`)
})

test('impossible splits give a typed error', () => {
  assert.throws(() => partition(train.y.subarray(0, 3), { kind: 'iid', clients: 5, seed: 1 }), /clients/)
})

test.run()
