import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { advanceSynthetic, syntheticModel } from '../../../src/model/synthetic.js'

test('each round moves the last `changed_fraction` of the synthetic model and leaves the rest as it was', () => {
  const model = syntheticModel(4, 1) // 4 blocks of 1 MiB
  const before = model.map(t => Float32Array.from(t.data))
  advanceSynthetic(model, 0.5, 2)
  const changed = model.map((t, i) => t.data.some((v, j) => v !== before[i][j]))
  assert.equal(changed, [false, false, true, true])
  const round2 = model.map(t => Float32Array.from(t.data))
  advanceSynthetic(model, 1, 3)
  assert.ok(model.every((t, i) => t.data.every((v, j) => v !== round2[i][j])), 'fraction 1: every value moves, so every piece changes')
  assert.ok(model.every(t => t.data.every(v => v >= -1.01 && v <= 1.01)), 'values stay weight-like')
  const round3 = model.map(t => Float32Array.from(t.data))
  advanceSynthetic(model, 0, 4)
  assert.equal(model.map(t => t.data), round3, 'fraction 0: nothing changes')
})

test.run()
