import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { chooseBackend } from '../../../src/training/backend.js'
import { buildModel, readWeights, writeWeights } from '../../../src/model/architectures.js'
import { loadMnist, subset } from '../../../src/training/mnist.js'
import { evaluate, trainLocal } from '../../../src/training/trainer.js'

const { train, test: testSet } = loadMnist({ trainSamples: 2000, testSamples: 500, seed: 1 })

test('MLP on wasm: one local epoch lifts test accuracy far above chance; utility is |B|·sqrt(mean loss²)', async () => {
  const { tf, name } = await chooseBackend('wasm', 'mlp')
  assert.is(name, 'wasm')
  const model = buildModel(tf, 'mlp', 1)
  const before = await evaluate(tf, 'mlp', model, testSet)
  const r = await trainLocal(tf, 'mlp', model, train, { epochs: 1, batchSize: 32, learningRate: 0.1, mu: 0, seed: 1 })
  const after = await evaluate(tf, 'mlp', model, testSet)
  assert.ok(before.acc1 < 0.3, `untrained acc ${before.acc1}`)
  assert.ok(after.acc1 > 0.8, `trained acc ${after.acc1}`)
  assert.ok(after.acc5 >= after.acc1)
  assert.ok(after.loss < before.loss)
  assert.is(r.samples, 2000)
  assert.ok(r.utility > 0 && r.utility < 2000 * 5, `utility ${r.utility}`)
})

test('the same seed builds the same initial model in every process; weights round-trip', async () => {
  const { tf } = await chooseBackend('cpu', 'mlp')
  const a = await readWeights(buildModel(tf, 'mlp', 5, { hiddenUnits: 16 }))
  const b = await readWeights(buildModel(tf, 'mlp', 5, { hiddenUnits: 16 }))
  assert.equal(a.map(t => t.name), ['fc1/kernel', 'fc1/bias', 'fc2/kernel', 'fc2/bias'])
  assert.equal(Array.from(a[0].data.slice(0, 20)), Array.from(b[0].data.slice(0, 20)))
  const m = buildModel(tf, 'mlp', 6, { hiddenUnits: 16 })
  writeWeights(tf, m, a)
  assert.equal(Array.from((await readWeights(m))[2].data), Array.from(a[2].data))
  assert.throws(() => { writeWeights(tf, m, a.slice(1)) }, /tensors/)
})

test('cnn-large follows the data: ~225k parameters on 28×28×1, ~315k and 10 outputs on 32×32×3 (CIFAR-10); it trains there', async () => {
  const { tf } = await chooseBackend('cpu', 'cnn-large')
  const params = (m: ReturnType<typeof buildModel>): number => m.countParams()
  assert.ok(Math.abs(params(buildModel(tf, 'cnn-large', 1)) - 225_034) < 1000, `${params(buildModel(tf, 'cnn-large', 1))}`)
  const cifar = { shape: [32, 32, 3], classes: 10 }
  const model = buildModel(tf, 'cnn-large', 1, { input: cifar })
  assert.ok(params(model) > 300_000 && params(model) < 330_000, `${params(model)} parameters`)
  // Two classes of synthetic 32×32×3 images (bright left half or right half): a few steps of the pure-JS cpu backend
  // start to separate them.
  const n = 16
  const x = new Float32Array(n * 3072)
  const y = Uint8Array.from({ length: n }, (_v, i) => i % 2)
  for (let i = 0; i < n; i++) for (let p = 0; p < 1024; p++) for (let c = 0; c < 3; c++) x[(i * 1024 + p) * 3 + c] = ((p % 32) < 16) === (y[i] === 0) ? 0.9 : 0.1
  const data = { x, y, size: n, ...cifar }
  const before = await evaluate(tf, 'cnn-large', model, data)
  await trainLocal(tf, 'cnn-large', model, data, { epochs: 2, batchSize: 8, learningRate: 0.05, mu: 0, seed: 1 })
  const after = await evaluate(tf, 'cnn-large', model, data)
  assert.ok(after.loss < before.loss, `loss ${before.loss} -> ${after.loss}`)
})

test('FedProx keeps local weights closer to the global model than FedAvg does', async () => {
  const { tf } = await chooseBackend('cpu', 'mlp')
  const data = subset(train, Array.from({ length: 300 }, (_v, i) => i))
  const dist = async (mu: number): Promise<number> => {
    const m = buildModel(tf, 'mlp', 2, { hiddenUnits: 32 })
    const global = await readWeights(m)
    await trainLocal(tf, 'mlp', m, data, { epochs: 2, batchSize: 16, learningRate: 0.2, mu, seed: 1 }, global)
    const local = await readWeights(m)
    let sum = 0
    local.forEach((t, i) => { for (let j = 0; j < t.data.length; j++) sum += (t.data[j] - global[i].data[j]) ** 2 })
    return sum
  }
  const plain = await dist(0)
  const prox = await dist(5)
  assert.ok(prox < plain, `prox ${prox} vs plain ${plain}`)
})

test.run()
