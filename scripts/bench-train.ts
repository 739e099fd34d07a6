#!/usr/bin/env -S node --import tsx
/**
 * Local training speed per tfjs backend: the same code a client runs in a round (`trainLocal`), timed over one
 * epoch after a warm-up (the first steps compile kernels or shaders), for each backend, model and batch size asked.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { buildModel } from '../src/model/architectures.js'
import type { ModelName } from '../src/model/architectures.js'
import { chooseBackend } from '../src/training/backend.js'
import type { BackendChoice } from '../src/training/backend.js'
import { MNIST_SHAPE, NUM_CLASSES, pixelsOf, subset } from '../src/training/mnist.js'
import type { Dataset } from '../src/training/mnist.js'
import { loadDataset } from '../src/training/datasets.js'
import { CIFAR_SHAPE } from '../src/training/files/cifar10.js'
import { createRng } from '../src/training/rng.js'
import { evaluate, trainLocal } from '../src/training/trainer.js'
import { renderTable } from '../src/cli/table.js'
import { errorMessage } from '../src/errors.js'

const USAGE = `usage: npm run bench:train -- [--backend B[,B...]] [--model mlp,cnn,cnn-large] [--batch N[,N...]] [--samples N]
                              [--epochs N] [--test-samples N] [--data D] [--data-path DIR] [--json FILE]

Trains with each backend, model and batch size for --epochs epochs of --samples samples (after a warm-up of a few
batches that is not timed) and prints the last epoch's samples/s, as a client's local training would see them, and
the test accuracy reached on real data.
  --backend       tensorflow, webgpu, wasm, cpu or auto (default webgpu,wasm,cpu); one that cannot start here is
                  reported with the reason and skipped
  --model         mlp, cnn, cnn-large (default mlp,cnn)
  --batch         batch sizes (default 64)
  --samples       training samples (default 4000)
  --epochs        epochs (default 1; the first one also compiles kernels for the last, partial batch)
  --test-samples  test images the accuracy is measured on (default 2000; real data only)
  --data          mnist (the shipped digits), fashion-mnist, file (IDX, CIFAR-10 or LEAF files in --data-path),
                  synthetic (random 28×28 images) or synthetic-cifar (random 32×32×3): random images train at the
                  same speed and need no data files (default mnist)
  --json          also write the rows as JSON here`

interface Row { backend: string, detail: string, model: ModelName, params: number, batch: number, samples: number, epochs: number, seconds: number, samplesPerS: number, loss: number, testAcc?: number }

const DATA = ['mnist', 'fashion-mnist', 'file', 'synthetic', 'synthetic-cifar'] as const

function synthetic (n: number, seed: number, shape: readonly number[]): Dataset {
  const rng = createRng(seed)
  const pixels = pixelsOf({ shape })
  return { x: Float32Array.from({ length: n * pixels }, () => rng()), y: Uint8Array.from({ length: n }, () => Math.floor(rng() * NUM_CLASSES)), size: n, shape, classes: NUM_CLASSES }
}

function loadData (data: typeof DATA[number], samples: number, testSamples: number, dataPath: string): { train: Dataset, test?: Dataset } {
  if (data === 'synthetic') return { train: synthetic(samples, 1, MNIST_SHAPE) }
  if (data === 'synthetic-cifar') return { train: synthetic(samples, 1, CIFAR_SHAPE) }
  return loadDataset({ dataset: data, dataPath, trainSamples: samples, testSamples, seed: 1 })
}

function list<T extends string> (v: string, allowed: readonly T[], flag: string): T[] {
  const out = v.split(',').map(s => s.trim())
  for (const s of out) if (!allowed.includes(s as T)) throw new Error(`--${flag}: ${JSON.stringify(s)} is not one of ${allowed.join(', ')}`)
  return out as T[]
}

async function main (): Promise<void> {
  const { values } = parseArgs({
    options: {
      backend: { type: 'string', default: 'webgpu,wasm,cpu' },
      model: { type: 'string', default: 'mlp,cnn' },
      batch: { type: 'string', default: '64' },
      samples: { type: 'string', default: '4000' },
      epochs: { type: 'string', default: '1' },
      'test-samples': { type: 'string', default: '2000' },
      data: { type: 'string', default: 'mnist' },
      'data-path': { type: 'string', default: '' },
      json: { type: 'string' },
      help: { type: 'boolean', short: 'h' }
    }
  })
  if (values.help === true) { console.log(USAGE); return }
  const backends = list(values.backend, ['tensorflow', 'webgpu', 'wasm', 'cpu', 'auto'] as const, 'backend')
  const models = list(values.model, ['mlp', 'cnn', 'cnn-large'] as const, 'model')
  const batches = values.batch.split(',').map(Number)
  const samples = Number(values.samples)
  const epochs = Number(values.epochs)
  const testSamples = Number(values['test-samples'])
  if ([...batches, samples, epochs].some(b => !Number.isInteger(b) || b < 1) || !Number.isInteger(testSamples) || testSamples < 0) throw new Error('--batch, --samples and --epochs take positive integers, --test-samples a count')
  const data = list(values.data, DATA, 'data')[0]
  if (data === 'file' && values['data-path'] === '') throw new Error('--data file needs --data-path DIR')
  const { train, test } = loadData(data, samples, testSamples, values['data-path'])
  console.error(`bench:train: ${train.size} training images of ${train.shape.join('×')}${test != null ? `, ${test.size} test images` : ''}`)
  const rows: Row[] = []
  const skipped: string[] = []
  for (const choice of backends) {
    for (const model of models) {
      let backend
      try {
        backend = await chooseBackend(choice as BackendChoice, model)
      } catch (err) {
        skipped.push(`${choice}/${model}: ${errorMessage(err)}`)
        console.error(`bench:train: ${choice} cannot train ${model} here: ${errorMessage(err)}`)
        continue
      }
      const tf = backend.tf
      for (const batch of batches) {
        const net = buildModel(tf, model, 1, { input: train })
        const params = net.countParams()
        const opts = { epochs, batchSize: batch, learningRate: 0.05, mu: 0, seed: 1 }
        // Warm-up: compiles the kernels (and on webgpu the shaders) for these shapes.
        await trainLocal(tf, model, net, subset(train, Array.from({ length: Math.min(train.size, 4 * batch) }, (_v, i) => i)), { ...opts, epochs: 1 })
        const t0 = performance.now()
        let epochStart = t0
        let lastEpochS = 0
        const res = await trainLocal(tf, model, net, train, { ...opts, onEpoch: () => { const now = performance.now(); lastEpochS = (now - epochStart) / 1000; epochStart = now } })
        const seconds = lastEpochS
        const testAcc = test != null && test.size > 0 ? (await evaluate(tf, model, net, test)).acc1 : undefined
        const row = { backend: backend.name, detail: backend.detail, model, params, batch, samples: train.size, epochs, seconds, samplesPerS: train.size / seconds, loss: res.meanLoss, testAcc }
        rows.push(row)
        console.error(`bench:train: ${row.backend} ${model} batch ${batch}: ${row.samplesPerS.toFixed(0)} samples/s (last epoch ${seconds.toFixed(2)} s, loss ${row.loss.toFixed(3)}${testAcc != null ? `, test accuracy ${testAcc.toFixed(4)}` : ''})`)
        net.dispose()
      }
    }
  }
  const table = renderTable(['backend', 'model', 'params', 'batch', 'samples', 'epochs', 'epoch s', 'samples/s', 'loss', 'test acc', 'device'],
    rows.map(r => [r.backend, r.model, r.params, r.batch, r.samples, r.epochs, r.seconds.toFixed(2), r.samplesPerS.toFixed(0), r.loss.toFixed(3), r.testAcc?.toFixed(4) ?? '-', r.detail]))
  console.log(table)
  if (values.json != null) {
    mkdirSync(join(values.json, '..'), { recursive: true })
    writeFileSync(values.json, JSON.stringify({ data, results: rows, skipped }, null, 2))
  }
}

main().catch((err: unknown) => { console.error(`bench:train: ${errorMessage(err)}`); process.exit(2) })
