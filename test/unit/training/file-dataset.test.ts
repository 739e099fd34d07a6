import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadFileDataset } from '../../../src/training/file-dataset.js'
import { partition } from '../../../src/training/partition.js'
import { InvalidInputError } from '../../../src/errors.js'
import { idxBytes, writeLeafDataset } from '../../support/dataset-files.js'
import type { Dataset } from '../../../src/training/mnist.js'

const dirs: string[] = []
const tmp = (): string => { const d = mkdtempSync(join(tmpdir(), 'btps-data-')); dirs.push(d); return d }
const opts = { trainSamples: 1000, testSamples: 1000, seed: 1 }
const fieldError = (fn: () => unknown): string => {
  try { fn() } catch (err) { return err instanceof InvalidInputError ? err.message : `untyped: ${String(err)}` }
  return 'no error'
}

test('IDX (EMNIST-style, 8×8, 3 classes, one file gzipped): shape, classes, pixels scaled to [0, 1], the official split kept', () => {
  const dir = tmp()
  const images = (n: number): Uint8Array => Uint8Array.from({ length: n * 64 }, (_v, i) => (i * 7) % 256)
  writeFileSync(join(dir, 'emnist-letters-train-images-idx3-ubyte'), idxBytes([30, 8, 8], images(30)))
  writeFileSync(join(dir, 'emnist-letters-train-labels-idx1-ubyte'), idxBytes([30], Uint8Array.from({ length: 30 }, (_v, i) => i % 3)))
  writeFileSync(join(dir, 'emnist-letters-test-images-idx3-ubyte'), idxBytes([10, 8, 8], images(10)))
  writeFileSync(join(dir, 'emnist-letters-test-labels-idx1-ubyte'), idxBytes([10], Uint8Array.from({ length: 10 }, (_v, i) => i % 2)))
  const d = loadFileDataset(dir, opts)
  assert.is(d.format, 'idx')
  assert.equal([d.train.size, d.test.size], [30, 10])
  assert.equal([d.train.shape, d.train.classes, d.test.classes], [[8, 8, 1], 3, 3])
  assert.is(d.train.x[1], Math.fround(7 / 255))
  assert.equal(Array.from(d.train.y.subarray(0, 4)), [0, 1, 2, 0])
  const drawn = loadFileDataset(dir, { ...opts, trainSamples: 12 })
  assert.is(drawn.train.size, 12, 'train_samples caps the draw')
  // A truncated file names itself and what is missing.
  writeFileSync(join(dir, 'emnist-letters-test-images-idx3-ubyte'), idxBytes([10, 8, 8], images(9)))
  assert.is(fieldError(() => loadFileDataset(dir, opts)), 'job.data_path (emnist-letters-test-images-idx3-ubyte): dimensions 10×8×8 need 640 bytes of data, the file has 576')
})

test('CIFAR-10 binary: records become 32×32×3 images in height × width × channel order', () => {
  const dir = join(tmp(), 'cifar-10-batches-bin')
  mkdirSync(dir)
  const record = (label: number, seed: number): Uint8Array => {
    const r = new Uint8Array(3073)
    r[0] = label
    for (let i = 1; i < r.length; i++) r[i] = (i * seed) % 251
    return r
  }
  writeFileSync(join(dir, 'data_batch_1.bin'), Buffer.concat([record(3, 1), record(9, 2)]))
  writeFileSync(join(dir, 'data_batch_2.bin'), record(0, 3))
  writeFileSync(join(dir, 'test_batch.bin'), record(5, 4))
  const d = loadFileDataset(join(dir, '..'), opts)
  assert.is(d.format, 'cifar10')
  assert.equal([d.train.size, d.test.size, d.train.classes], [3, 1, 10])
  assert.equal(d.train.shape, [32, 32, 3])
  assert.equal(Array.from(d.train.y), [3, 9, 0])
  // Row 0, column 1 of image 1 (seed 2): red, green, blue come from the three planes.
  const at = (1 * 1024 + 1) * 3
  const rec = record(9, 2)
  assert.equal(Array.from(d.train.x.subarray(at, at + 3), v => Math.round(v * 255)), [rec[1 + 1], rec[1 + 1024 + 1], rec[1 + 2048 + 1]])
  writeFileSync(join(dir, 'test_batch.bin'), record(12, 4))
  assert.match(fieldError(() => loadFileDataset(join(dir, '..'), opts)), /test_batch\.bin\): record 0 has label 12; CIFAR-10 labels are 0–9/)
})

test('LEAF JSON: samples keep their writer; the natural partition gives each client whole writers', () => {
  const dir = tmp()
  const make = (n: number): Dataset => ({ x: Float32Array.from({ length: n * 16 }, (_v, i) => (i % 16) / 16), y: Uint8Array.from({ length: n }, (_v, i) => i % 62), size: n, shape: [4, 4, 1], classes: 62 })
  // 5 writers with 4, 5, 6, 7, 8 training samples.
  const sizes = [4, 5, 6, 7, 8]
  const writerOfTrain = (i: number): string => { let k = 0; let left = i; while (left >= sizes[k]) { left -= sizes[k]; k++ } return `f${k}` }
  writeLeafDataset(dir, make(30), make(5), (i, set) => set === 'train' ? writerOfTrain(i) : `f${i}`)
  const d = loadFileDataset(dir, opts)
  assert.is(d.format, 'leaf')
  assert.equal([d.train.size, d.test.size, d.train.shape, d.train.classes], [30, 5, [4, 4, 1], 30])
  const parts = partition(d.train.y, { kind: 'natural', clients: 2, seed: 1, groups: d.train.groups })
  assert.equal(parts.map(p => p.length), [4 + 6 + 8, 5 + 7], 'writers 0, 2, 4 and 1, 3')
  for (const p of parts) assert.is(new Set(p.map(i => d.train.groups?.[i])).size, p.length === 18 ? 3 : 2)
  assert.is(fieldError(() => partition(d.train.y, { kind: 'natural', clients: 6, seed: 1, groups: d.train.groups })), 'job.clients: 6 clients, but the data has 5 writers; natural gives each client whole writers')
  assert.match(fieldError(() => partition(d.train.y, { kind: 'natural', clients: 2, seed: 1 })), /^job\.partition: natural needs a dataset/)
})

test('a directory without a known dataset, or a missing one, is named in the error', () => {
  const dir = tmp()
  writeFileSync(join(dir, 'notes.txt'), 'hello')
  assert.match(fieldError(() => loadFileDataset(dir, opts)), /^job\.data_path: .* holds no dataset bt-ps reads: IDX/)
  assert.match(fieldError(() => loadFileDataset(join(dir, 'missing'), opts)), /^job\.data_path: .*missing: ENOENT/)
})

test.after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }) })
test.run()
