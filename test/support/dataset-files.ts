import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import type { Dataset } from '../../src/training/mnist.js'

/** An IDX file of unsigned bytes with the given dimensions. */
export function idxBytes (dims: number[], data: Uint8Array): Buffer {
  const head = Buffer.alloc(4 + 4 * dims.length)
  head[2] = 0x08
  head[3] = dims.length
  dims.forEach((d, i) => head.writeUInt32BE(d, 4 + 4 * i))
  return Buffer.concat([head, Buffer.from(data)])
}

/** Writes `train` and `test` (28×28 images in [0, 1]) as MNIST's four IDX files; the test images gzipped. */
export function writeIdxDataset (dir: string, train: Dataset, test: Dataset): void {
  mkdirSync(dir, { recursive: true })
  const pixels = (d: Dataset): Uint8Array => Uint8Array.from(d.x, v => Math.round(v * 255))
  writeFileSync(join(dir, 'train-images-idx3-ubyte'), idxBytes([train.size, 28, 28], pixels(train)))
  writeFileSync(join(dir, 'train-labels-idx1-ubyte'), idxBytes([train.size], train.y))
  writeFileSync(join(dir, 't10k-images-idx3-ubyte.gz'), gzipSync(idxBytes([test.size, 28, 28], pixels(test))))
  writeFileSync(join(dir, 't10k-labels-idx1-ubyte'), idxBytes([test.size], test.y))
}

/** Writes `train` and `test` as LEAF JSON (`train/`, `test/`), each sample's writer chosen by `writerOf`. */
export function writeLeafDataset (dir: string, train: Dataset, test: Dataset, writerOf: (i: number, set: 'train' | 'test') => string): void {
  for (const [set, d] of [['train', train], ['test', test]] as const) {
    const users: string[] = []
    const userData: Record<string, { x: number[][], y: number[] }> = {}
    const px = d.x.length / d.size
    for (let i = 0; i < d.size; i++) {
      const w = writerOf(i, set)
      if (userData[w] == null) { users.push(w); userData[w] = { x: [], y: [] } }
      userData[w].x.push(Array.from(d.x.subarray(i * px, (i + 1) * px), v => Math.round(v * 1000) / 1000))
      userData[w].y.push(d.y[i])
    }
    mkdirSync(join(dir, set), { recursive: true })
    writeFileSync(join(dir, set, `all_data_0_niid_0_keep_0_${set}_9.json`), JSON.stringify({ users, num_samples: users.map(u => userData[u].y.length), user_data: userData }))
  }
}
