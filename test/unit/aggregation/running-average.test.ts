import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { RunningAverage, firstNonFinite } from '../../../src/aggregation/running-average.js'
import type { TensorEntry } from '../../../src/model/serialize.js'

const layout: TensorEntry[] = [
  { name: 'w', shape: [2, 2], dtype: 'float32', offset: 0, byteLength: 16 },
  { name: 'b', shape: [1], dtype: 'float32', offset: 16, byteLength: 4 }
]

test('FedAvg: the weighted mean by sample count', () => {
  const avg = new RunningAverage(layout)
  avg.add([Float32Array.from([1, 2, 3, 4]), Float32Array.from([10])], 100)
  avg.add([Float32Array.from([3, 2, 1, 0]), Float32Array.from([-10])], 300)
  const [w, b] = avg.result()
  assert.equal(Array.from(w.data), [2.5, 2, 1.5, 1])
  assert.is(b.data[0], -5)
  assert.is(avg.count, 2)
  assert.is(avg.totalWeight, 400)
  assert.equal(w.shape, [2, 2])
})

test('one update gives back exactly that update', () => {
  const avg = new RunningAverage(layout)
  const w = Float32Array.from([0.1, 0.2, 0.3, 0.4])
  avg.add([w, Float32Array.from([0.5])], 7)
  assert.equal(Array.from(avg.result()[0].data), Array.from(w))
})

test('wrong tensor count or length, and non-positive weights, are refused before anything is added', () => {
  const avg = new RunningAverage(layout)
  assert.throws(() => { avg.add([Float32Array.from([1, 2, 3, 4])], 1) }, /tensors/)
  assert.throws(() => { avg.add([Float32Array.from([1, 2, 3]), Float32Array.from([1])], 1) }, /update.tensors\[0\]/)
  assert.throws(() => { avg.add([Float32Array.from([1, 2, 3, 4]), Float32Array.from([1])], 0) }, /samples/)
  assert.is(avg.count, 0)
  assert.throws(() => avg.result(), /no updates/)
})

test('firstNonFinite finds NaN and Infinity', () => {
  assert.is(firstNonFinite(Float32Array.from([1, 2, 3])), -1)
  assert.is(firstNonFinite(Float32Array.from([1, NaN, 3])), 1)
  assert.is(firstNonFinite(Float32Array.from([1, 2, -Infinity])), 2)
})

test.run()
