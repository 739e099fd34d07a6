import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { chooseBackend } from '../../../src/training/backend.js'
import type { Backend } from '../../../src/training/backend.js'
import { buildModel } from '../../../src/model/architectures.js'
import { loadMnist } from '../../../src/training/mnist.js'
import { evaluate, trainLocal } from '../../../src/training/trainer.js'

let backend: Backend | undefined
try {
  backend = await chooseBackend('webgpu', 'cnn')
} catch (err) {
  // Needs a Vulkan device: a GPU driver, or Mesa's lavapipe (scripts/install-system-deps.sh installs it).
  console.log(`SKIP webgpu CNN test: ${String((err as Error).message)}`)
}

const maybe = backend == null ? test.skip : test

maybe('the CNN trains end to end on the webgpu backend (the GPU path; lavapipe where there is no GPU)', async () => {
  const { tf, name, detail } = backend!
  assert.is(name, 'webgpu')
  assert.is(tf.getBackend(), 'webgpu')
  console.log(`  webgpu adapter: ${detail}`)
  const { train, test: testSet } = loadMnist({ trainSamples: 1000, testSamples: 300, seed: 2 })
  const model = buildModel(tf, 'cnn', 1)
  const before = await evaluate(tf, 'cnn', model, testSet)
  const losses: number[] = []
  const r = await trainLocal(tf, 'cnn', model, train, { epochs: 2, batchSize: 32, learningRate: 0.1, mu: 0, seed: 1, onEpoch: (_e, l) => { losses.push(l) } })
  const after = await evaluate(tf, 'cnn', model, testSet)
  console.log(`  cnn on webgpu: ${(1000 * 2 / r.seconds).toFixed(0)} samples/s, loss ${losses.map(l => l.toFixed(3)).join(' -> ')}, acc ${before.acc1.toFixed(3)} -> ${after.acc1.toFixed(3)}`)
  assert.ok(losses[1] < losses[0], `epoch losses ${losses.join(', ')}`)
  assert.ok(after.acc1 > before.acc1 + 0.3, `acc ${before.acc1} -> ${after.acc1}`)
})

test('auto picks a backend that can train the CNN (never wasm, which lacks Conv2DBackpropFilter)', async () => {
  const { name } = backend ?? await chooseBackend('auto', 'cnn')
  assert.ok(['tensorflow', 'webgpu', 'cpu'].includes(name), name)
  let err: unknown
  try { await chooseBackend('wasm', 'cnn') } catch (e) { err = e }
  assert.match(String((err as Error)?.message), /wasm cannot train the cnn/)
})

test.run()
