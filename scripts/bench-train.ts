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
import { IMAGE_SIZE, MNIST_SHAPE, NUM_CLASSES, loadMnist } from '../src/training/mnist.js'
import type { Dataset } from '../src/training/mnist.js'
import { createRng } from '../src/training/rng.js'
import { trainLocal } from '../src/training/trainer.js'
import { renderTable } from '../src/cli/table.js'
import { errorMessage } from '../src/errors.js'

const USAGE = `usage: npm run bench:train -- [--backend B[,B...]] [--model mlp,cnn] [--batch N[,N...]] [--samples N]
                              [--data mnist|synthetic] [--json FILE]

Trains with each backend, model and batch size for one epoch of --samples samples (after a warm-up of a few
batches that is not timed) and prints samples/s, as a client's local training would see them.
  --backend   tensorflow, webgpu, wasm, cpu or auto (default webgpu,wasm,cpu); one that cannot start here is
              reported with the reason and skipped
  --model     mlp, cnn (default both)
  --batch     batch sizes (default 64)
  --samples   samples per timed epoch (default 4000)
  --data      mnist (the shipped digits) or synthetic (random images: same speed, no data files) (default mnist)
  --json      also write the rows as JSON here`

interface Row { backend: string, detail: string, model: ModelName, params: number, batch: number, samples: number, seconds: number, samplesPerS: number, loss: number }

function synthetic (n: number, seed: number): Dataset {
  const rng = createRng(seed)
  return { x: Float32Array.from({ length: n * IMAGE_SIZE }, () => rng()), y: Uint8Array.from({ length: n }, () => Math.floor(rng() * NUM_CLASSES)), size: n, shape: MNIST_SHAPE, classes: NUM_CLASSES }
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
      data: { type: 'string', default: 'mnist' },
      json: { type: 'string' },
      help: { type: 'boolean', short: 'h' }
    }
  })
  if (values.help === true) { console.log(USAGE); return }
  const backends = list(values.backend, ['tensorflow', 'webgpu', 'wasm', 'cpu', 'auto'] as const, 'backend')
  const models = list(values.model, ['mlp', 'cnn'] as const, 'model')
  const batches = values.batch.split(',').map(Number)
  const samples = Number(values.samples)
  if (batches.some(b => !Number.isInteger(b) || b < 1) || !Number.isInteger(samples) || samples < 1) throw new Error('--batch and --samples take positive integers')
  const data = list(values.data, ['mnist', 'synthetic'] as const, 'data')[0]
  const train = data === 'mnist' ? loadMnist({ trainSamples: samples, testSamples: 0, seed: 1 }).train : synthetic(samples, 1)
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
        const net = buildModel(tf, model, 1)
        const params = net.countParams()
        const opts = { epochs: 1, batchSize: batch, learningRate: 0.05, mu: 0, seed: 1 }
        // Warm-up: compiles the kernels (and on webgpu the shaders) for these shapes.
        await trainLocal(tf, model, net, { x: train.x.subarray(0, 4 * batch * IMAGE_SIZE), y: train.y.subarray(0, 4 * batch), size: Math.min(train.size, 4 * batch), shape: MNIST_SHAPE, classes: NUM_CLASSES }, opts)
        const t0 = performance.now()
        let epochAt = t0
        const res = await trainLocal(tf, model, net, train, { ...opts, onEpoch: () => { epochAt = performance.now() } })
        const seconds = (epochAt - t0) / 1000
        const row = { backend: backend.name, detail: backend.detail, model, params, batch, samples: train.size, seconds, samplesPerS: train.size / seconds, loss: res.meanLoss }
        rows.push(row)
        console.error(`bench:train: ${row.backend} ${model} batch ${batch}: ${row.samplesPerS.toFixed(0)} samples/s (${seconds.toFixed(2)} s, loss ${row.loss.toFixed(3)})`)
        net.dispose()
      }
    }
  }
  const table = renderTable(['backend', 'model', 'params', 'batch', 'samples', 'seconds', 'samples/s', 'loss', 'device'],
    rows.map(r => [r.backend, r.model, r.params, r.batch, r.samples, r.seconds.toFixed(2), r.samplesPerS.toFixed(0), r.loss.toFixed(3), r.detail]))
  console.log(table)
  if (values.json != null) {
    mkdirSync(join(values.json, '..'), { recursive: true })
    writeFileSync(values.json, JSON.stringify({ data, results: rows, skipped }, null, 2))
  }
}

main().catch((err: unknown) => { console.error(`bench:train: ${errorMessage(err)}`); process.exit(2) })
