import type * as TF from '@tensorflow/tfjs'
import type { NamedTensor, TensorEntry } from './serialize.js'
import { assertSameLayout, tensorSize } from './serialize.js'

export type ModelName = 'mlp' | 'cnn' | 'cnn-large'
export type Tf = typeof TF

/** What the model reads and predicts: one image's [height, width, channels], and the number of classes. */
export interface ModelInput { shape: readonly number[], classes: number }
/** MNIST and Fashion-MNIST; samples are stored flat and reshaped for the CNN. */
export const MNIST_INPUT: ModelInput = { shape: [28, 28, 1], classes: 10 }

/** Layers with weights, per model: `job.frozen_layers` must leave at least one to train. */
export const WEIGHTED_LAYERS: Record<ModelName, number> = { mlp: 2, cnn: 3, 'cnn-large': 4 }

/**
 * Builds the network with seeded initialisers, so every process derives the same initial model. Outputs logits.
 * `frozenLayers`: the first layers with weights are not trainable (the optimizer leaves them as they are).
 */
export function buildModel (tf: Tf, name: ModelName, seed: number, opts: { hiddenUnits?: number, frozenLayers?: number, input?: ModelInput } = {}): TF.Sequential {
  const model = buildLayers(tf, name, seed, opts)
  model.layers.filter(l => l.weights.length > 0).slice(0, opts.frozenLayers ?? 0).forEach(l => { l.trainable = false })
  return model
}

function buildLayers (tf: Tf, name: ModelName, seed: number, opts: { hiddenUnits?: number, input?: ModelInput }): TF.Sequential {
  const { shape, classes } = opts.input ?? MNIST_INPUT
  const init = (k: number): TF.serialization.ConfigDict => ({ kernelInitializer: tf.initializers.glorotUniform({ seed: seed + k }) }) as unknown as TF.serialization.ConfigDict
  if (name === 'mlp') {
    return tf.sequential({
      layers: [
        tf.layers.dense({ name: 'fc1', inputShape: [tensorSize(shape)], units: opts.hiddenUnits ?? 128, activation: 'relu', ...init(1) }),
        tf.layers.dense({ name: 'fc2', units: classes, ...init(2) })
      ]
    })
  }
  if (name === 'cnn-large') {
    // ~225k parameters on 28×28×1 (Fashion-MNIST), ~315k on 32×32×3 (CIFAR-10): enough to be worth training there.
    return tf.sequential({
      layers: [
        tf.layers.conv2d({ name: 'conv1', inputShape: [...shape], filters: 32, kernelSize: 3, activation: 'relu', ...init(1) }),
        tf.layers.maxPooling2d({ name: 'pool1', poolSize: 2 }),
        tf.layers.conv2d({ name: 'conv2', filters: 64, kernelSize: 3, activation: 'relu', ...init(2) }),
        tf.layers.maxPooling2d({ name: 'pool2', poolSize: 2 }),
        tf.layers.flatten({ name: 'flatten' }),
        tf.layers.dense({ name: 'fc1', units: 128, activation: 'relu', ...init(3) }),
        tf.layers.dense({ name: 'fc2', units: classes, ...init(4) })
      ]
    })
  }
  return tf.sequential({
    layers: [
      tf.layers.conv2d({ name: 'conv1', inputShape: [...shape], filters: 8, kernelSize: 3, activation: 'relu', ...init(1) }),
      tf.layers.maxPooling2d({ name: 'pool1', poolSize: 2 }),
      tf.layers.conv2d({ name: 'conv2', filters: 16, kernelSize: 3, activation: 'relu', ...init(2) }),
      tf.layers.maxPooling2d({ name: 'pool2', poolSize: 2 }),
      tf.layers.flatten({ name: 'flatten' }),
      tf.layers.dense({ name: 'fc', units: classes, ...init(3) })
    ]
  })
}

/**
 * Every weight in layer order. `model.weights` lists trainable weights before frozen ones, so freezing a layer
 * would reorder the file; layer order is the same whatever is frozen.
 */
function layerWeights (model: TF.LayersModel): TF.LayerVariable[] {
  return model.layers.flatMap(l => l.weights)
}

/** The model's weights as named tensors (names stable across processes: `<layer>/<kernel|bias>`). */
export async function readWeights (model: TF.LayersModel): Promise<NamedTensor[]> {
  // Asynchronous reads: the webgpu backend cannot read synchronously in Node (it would need OffscreenCanvas).
  return await Promise.all(layerWeights(model).map(async w => {
    const value = w.read()
    return { name: w.originalName, shape: [...value.shape], dtype: 'float32' as const, data: Float32Array.from(await value.data() as Float32Array) }
  }))
}

/** How many of the model's tensors (in file order) belong to its first `frozenLayers` layers with weights. */
export function frozenTensorCount (model: TF.LayersModel, frozenLayers: number): number {
  return model.layers.filter(l => l.weights.length > 0).slice(0, frozenLayers).reduce((n, l) => n + l.weights.length, 0)
}

/** The tensor layout of a model, without reading its values. */
export function modelLayout (model: TF.LayersModel): TensorEntry[] {
  return layerWeights(model).map(w => ({ name: w.originalName, shape: [...w.shape] as number[], dtype: 'float32' as const, offset: 0, byteLength: tensorSize(w.shape as number[]) * 4 }))
}

export function writeWeights (tf: Tf, model: TF.LayersModel, tensors: readonly NamedTensor[]): void {
  assertSameLayout(modelLayout(model), tensors.map(t => ({ ...t, offset: 0, byteLength: t.data.byteLength })), 'model')
  const values = tensors.map(t => tf.tensor(t.data, t.shape, 'float32'))
  layerWeights(model).forEach((w, i) => { w.write(values[i]) })
  values.forEach(v => { v.dispose() })
}
