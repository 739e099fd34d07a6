import type { Logger } from '../logger.js'
import type { ModelName, Tf } from '../model/architectures.js'
import { BtpsError, errorMessage } from '../errors.js'

export type BackendName = 'tensorflow' | 'webgpu' | 'wasm' | 'cpu'
export type BackendChoice = BackendName | 'auto'
export interface Backend { tf: Tf, name: BackendName, detail: string }

interface GpuAdapterInfo { vendor?: string, architecture?: string, device?: string, description?: string }
interface GpuLike { requestAdapter: () => Promise<{ info?: GpuAdapterInfo, isFallbackAdapter?: boolean } | null> }

let webgpuAdapter: Promise<GpuAdapterInfo | null> | undefined

/** Installs Dawn's navigator.gpu (the `webgpu` package) once per process; null when no Vulkan device answers. */
async function probeWebgpu (): Promise<GpuAdapterInfo | null> {
  webgpuAdapter ??= (async () => {
    try {
      process.env.XDG_RUNTIME_DIR ??= '/tmp'
      const { create, globals } = await import('webgpu') as unknown as { create: (o: string[]) => GpuLike, globals: object }
      Object.assign(globalThis, globals)
      const gpu = create([])
      Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true })
      const adapter = await gpu.requestAdapter()
      if (adapter == null) return null
      // Dawn exposes the info fields as getters, which object spread would skip.
      const info = adapter.info ?? {}
      return { vendor: info.vendor, architecture: info.architecture, device: info.device, description: info.description }
    } catch {
      return null
    }
  })()
  return await webgpuAdapter
}

const isSoftware = (info: GpuAdapterInfo): boolean => /llvmpipe|lavapipe|swiftshader|software/i.test(`${info.description ?? ''} ${info.architecture ?? ''} ${info.device ?? ''}`)
const describe = (info: GpuAdapterInfo): string => [info.vendor, info.architecture, info.description ?? info.device].filter(s => s != null && s !== '').join(' ')

async function loadTf (): Promise<Tf> {
  return await import('@tensorflow/tfjs')
}

async function activate (name: BackendName): Promise<Backend> {
  switch (name) {
    case 'tensorflow': {
      const tf = await import('@tensorflow/tfjs-node-gpu' as string) as Tf
      return { tf, name, detail: `libtensorflow ${(tf.version as Record<string, string>)['tfjs-node'] ?? ''}`.trim() }
    }
    case 'webgpu': {
      const info = await probeWebgpu()
      if (info == null) throw new BtpsError('BACKEND_UNAVAILABLE', 'webgpu: no Vulkan adapter (install a GPU driver, or Mesa lavapipe for a software device)')
      const tf = await loadTf()
      await import('@tensorflow/tfjs-backend-webgpu')
      if (!(await tf.setBackend('webgpu'))) throw new BtpsError('BACKEND_UNAVAILABLE', 'webgpu: tfjs could not initialise the backend')
      return { tf, name, detail: describe(info) }
    }
    case 'wasm': {
      const tf = await loadTf()
      await import('@tensorflow/tfjs-backend-wasm')
      if (!(await tf.setBackend('wasm'))) throw new BtpsError('BACKEND_UNAVAILABLE', 'wasm: tfjs could not initialise the backend')
      return { tf, name, detail: 'WebAssembly SIMD, one thread' }
    }
    case 'cpu': {
      const tf = await loadTf()
      await tf.setBackend('cpu')
      return { tf, name, detail: 'pure JavaScript' }
    }
  }
}

/**
 * Picks the fastest backend that can train `model` here: CUDA (tfjs-node-gpu, when installed), then a hardware
 * WebGPU adapter; on CPU-only hosts wasm for the MLP (it lacks Conv2DBackpropFilter) and WebGPU on lavapipe for
 * the CNN, then pure JS.
 */
export async function chooseBackend (choice: BackendChoice, model: ModelName, log?: Logger): Promise<Backend> {
  if (choice !== 'auto') {
    if (choice === 'wasm' && model !== 'mlp') throw new BtpsError('BACKEND_UNAVAILABLE', `wasm cannot train the ${model} model (no Conv2DBackpropFilter kernel); use webgpu or cpu`)
    return await activate(choice)
  }
  const order: BackendName[] = ['tensorflow']
  const gpu = await probeWebgpu()
  if (gpu != null && !isSoftware(gpu)) order.push('webgpu')
  if (model === 'mlp') order.push('wasm')
  else if (gpu != null) order.push('webgpu')
  order.push('cpu')
  for (const name of order) {
    try {
      return await activate(name)
    } catch (err) {
      log?.debug('backend unavailable', { backend: name, reason: errorMessage(err) })
    }
  }
  throw new BtpsError('BACKEND_UNAVAILABLE', 'no tfjs backend could be initialised')
}
