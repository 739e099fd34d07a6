import type * as TF from '@tensorflow/tfjs'
import type { ModelName, Tf } from '../model/architectures.js'
import type { NamedTensor } from '../model/serialize.js'
import type { Dataset } from './mnist.js'
import { pixelsOf } from './mnist.js'
import { createRng, shuffleInPlace } from './rng.js'

export interface LocalTraining {
  epochs: number
  batchSize: number
  learningRate: number
  /** FedProx: adds (mu/2)·‖w − w_global‖² to the loss; 0 is plain FedAvg. */
  mu: number
  seed: number
  signal?: AbortSignal
  onEpoch?: (epoch: number, meanLoss: number) => void
}

export interface TrainResult { samples: number, meanLoss: number, utility: number, seconds: number }

function batchTensors (tf: Tf, model: ModelName, data: Dataset, idx: readonly number[]): { x: TF.Tensor, y: TF.Tensor } {
  const n = pixelsOf(data)
  const x = new Float32Array(idx.length * n)
  const y = new Int32Array(idx.length)
  idx.forEach((i, k) => { x.set(data.x.subarray(i * n, (i + 1) * n), k * n); y[k] = data.y[i] })
  return tf.tidy(() => ({
    x: tf.tensor(x, model === 'mlp' ? [idx.length, n] : [idx.length, ...data.shape]),
    y: tf.oneHot(tf.tensor1d(y, 'int32'), data.classes)
  }))
}

/** Per-sample cross-entropy losses of `model` over `data` (no training), in batches. */
export async function sampleLosses (tf: Tf, modelName: ModelName, model: TF.LayersModel, data: Dataset, batchSize = 500): Promise<Float32Array> {
  const out = new Float32Array(data.size)
  for (let start = 0; start < data.size; start += batchSize) {
    const idx = Array.from({ length: Math.min(batchSize, data.size - start) }, (_v, k) => start + k)
    const { x, y } = batchTensors(tf, modelName, data, idx)
    const losses = tf.tidy(() => tf.losses.softmaxCrossEntropy(y, model.apply(x) as TF.Tensor, undefined, 0, tf.Reduction.NONE))
    out.set(await losses.data() as Float32Array, start)
    tf.dispose([x, y, losses])
  }
  return out
}

/**
 * Local SGD over the client's partition (FedAvg; FedProx when mu > 0). Returns the sample count and the
 * statistical utility |B|·sqrt(mean(loss²)) measured on the trained model.
 */
export async function trainLocal (tf: Tf, modelName: ModelName, model: TF.LayersModel, data: Dataset, opts: LocalTraining, globalWeights?: readonly NamedTensor[]): Promise<TrainResult> {
  const start = performance.now()
  const optimizer = tf.train.sgd(opts.learningRate)
  const trainable = model.trainableWeights
  // Named explicitly: a frozen layer's variables stay trainable for the engine, so minimize() would move them too.
  const varList = trainable.map(w => w.read() as TF.Variable)
  // FedProx anchors each trained weight to its global value (frozen layers are not among them).
  const anchors = opts.mu > 0 && globalWeights != null ? trainable.map(w => globalWeights.find(t => t.name === w.originalName)).filter(t => t != null).map(t => tf.tensor(t.data, t.shape)) : []
  const values = trainable.map(w => w.read())
  const rng = createRng(opts.seed)
  const order = Array.from({ length: data.size }, (_v, i) => i)
  let meanLoss = 0
  // On the CPU backends a batch's promise settles without a turn of the event loop: give the peer one every ~50 ms,
  // so it goes on answering streams (heartbeats, other clients' shards) while it trains.
  let turnAt = performance.now()
  for (let epoch = 0; epoch < opts.epochs; epoch++) {
    shuffleInPlace(order, rng)
    let sum = 0
    let batches = 0
    for (let b = 0; b < order.length; b += opts.batchSize) {
      opts.signal?.throwIfAborted()
      const { x, y } = batchTensors(tf, modelName, data, order.slice(b, b + opts.batchSize))
      const loss = optimizer.minimize(() => {
        const ce = tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true }) as TF.Tensor)
        if (anchors.length === 0) return ce as TF.Scalar
        const prox = tf.addN(values.map((w, i) => tf.sum(tf.square(tf.sub(w, anchors[i])))))
        return tf.add(ce, tf.mul(opts.mu / 2, prox)) as TF.Scalar
      }, true, varList)
      if (loss != null) { sum += (await loss.data())[0]; loss.dispose() }
      batches++
      tf.dispose([x, y])
      if (performance.now() - turnAt > 50) { await new Promise(resolve => setImmediate(resolve)); turnAt = performance.now() }
    }
    meanLoss = sum / Math.max(batches, 1)
    opts.onEpoch?.(epoch, meanLoss)
  }
  optimizer.dispose()
  tf.dispose(anchors)
  const losses = await sampleLosses(tf, modelName, model, data)
  const meanSq = losses.reduce((a, l) => a + l * l, 0) / Math.max(losses.length, 1)
  return { samples: data.size, meanLoss, utility: data.size * Math.sqrt(meanSq), seconds: (performance.now() - start) / 1000 }
}

export interface Evaluation { acc1: number, acc5: number, loss: number }

/** Top-1, top-5 accuracy and mean loss over a test set. */
export async function evaluate (tf: Tf, modelName: ModelName, model: TF.LayersModel, data: Dataset, batchSize = 500): Promise<Evaluation> {
  let hit1 = 0
  let hit5 = 0
  let lossSum = 0
  for (let start = 0; start < data.size; start += batchSize) {
    const idx = Array.from({ length: Math.min(batchSize, data.size - start) }, (_v, k) => start + k)
    const { x, y } = batchTensors(tf, modelName, data, idx)
    const [top, loss] = tf.tidy(() => {
      const logits = model.apply(x) as TF.Tensor
      return [tf.topk(logits, 5).indices, tf.losses.softmaxCrossEntropy(y, logits, undefined, 0, tf.Reduction.SUM)]
    })
    const topIdx = await top.data()
    idx.forEach((i, k) => {
      const label = data.y[i]
      if (topIdx[k * 5] === label) hit1++
      for (let j = 0; j < 5; j++) if (topIdx[k * 5 + j] === label) { hit5++; break }
    })
    lossSum += (await loss.data())[0]
    tf.dispose([x, y, top, loss])
  }
  return { acc1: hit1 / data.size, acc5: hit5 / data.size, loss: lossSum / data.size }
}
