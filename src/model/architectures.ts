import type * as TF from '@tensorflow/tfjs'
import type { NamedTensor, TensorEntry } from './serialize.js'
import { assertSameLayout, tensorSize } from './serialize.js'

export type ModelName = 'mlp' | 'cnn'
export type Tf = typeof TF

/** Input shape per model; samples are stored flat (784) and reshaped for the CNN. */
export const INPUT_SHAPE: Record<ModelName, number[]> = { mlp: [784], cnn: [28, 28, 1] }

/** Layers with weights, per model: `job.frozen_layers` must leave at least one to train. */
export const WEIGHTED_LAYERS: Record<ModelName, number> = { mlp: 2, cnn: 3 }

/**
 * Builds the network with seeded initialisers, so every process derives the same initial model. Outputs logits.
 * `frozenLayers`: the first layers with weights are not trainable (the optimizer leaves them as they are).
 */
export function buildModel (tf: Tf, name: ModelName, seed: number, opts: { hiddenUnits?: number, frozenLayers?: number } = {}): TF.Sequential {
  const model = buildLayers(tf, name, seed, opts)
  model.layers.filter(l => l.weights.length > 0).slice(0, opts.frozenLayers ?? 0).forEach(l => { l.trainable = false })
  return model
}

function buildLayers (tf: Tf, name: ModelName, seed: number, opts: { hiddenUnits?: number }): TF.Sequential {
  const init = (k: number): TF.serialization.ConfigDict => ({ kernelInitializer: tf.initializers.glorotUniform({ seed: seed + k }) }) as unknown as TF.serialization.ConfigDict
  if (name === 'mlp') {
    return tf.sequential({
      layers: [
        tf.layers.dense({ name: 'fc1', inputShape: INPUT_SHAPE.mlp, units: opts.hiddenUnits ?? 128, activation: 'relu', ...init(1) }),
        tf.layers.dense({ name: 'fc2', units: 10, ...init(2) })
      ]
    })
  }
  return tf.sequential({
    layers: [
      tf.layers.conv2d({ name: 'conv1', inputShape: INPUT_SHAPE.cnn, filters: 8, kernelSize: 3, activation: 'relu', ...init(1) }),
      tf.layers.maxPooling2d({ name: 'pool1', poolSize: 2 }),
      tf.layers.conv2d({ name: 'conv2', filters: 16, kernelSize: 3, activation: 'relu', ...init(2) }),
      tf.layers.maxPooling2d({ name: 'pool2', poolSize: 2 }),
      tf.layers.flatten({ name: 'flatten' }),
      tf.layers.dense({ name: 'fc', units: 10, ...init(3) })
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
