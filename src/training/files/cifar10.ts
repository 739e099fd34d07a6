import { readFileSync } from 'node:fs'
import { basename } from 'node:path'
import { InvalidInputError } from '../../errors.js'

export const CIFAR_SHAPE: readonly number[] = [32, 32, 3]
const PLANE = 32 * 32
const RECORD = 1 + 3 * PLANE

/**
 * Reads CIFAR-10 binary batches (`data_batch_1.bin` …, `test_batch.bin`): records of one label byte (0–9) and
 * 3,072 pixel bytes, the red plane, then green, then blue, each 32×32 row by row. Returns the images as bytes in
 * height × width × channel order (what the CNN reads) and their labels.
 */
export function readCifarBatches (paths: readonly string[]): { x: Uint8Array, y: Uint8Array } {
  const batches = paths.map(path => {
    const bytes = readFileSync(path)
    if (bytes.length === 0 || bytes.length % RECORD !== 0) throw new InvalidInputError('DATA_INVALID', `job.data_path (${basename(path)})`, `has ${bytes.length} bytes, not a whole number of ${RECORD}-byte CIFAR-10 records`)
    return { path, bytes }
  })
  const n = batches.reduce((a, b) => a + b.bytes.length / RECORD, 0)
  const x = new Uint8Array(n * 3 * PLANE)
  const y = new Uint8Array(n)
  let k = 0
  for (const { path, bytes } of batches) {
    for (let r = 0; r < bytes.length / RECORD; r++, k++) {
      const at = r * RECORD
      if (bytes[at] > 9) throw new InvalidInputError('DATA_INVALID', `job.data_path (${basename(path)})`, `record ${r} has label ${bytes[at]}; CIFAR-10 labels are 0–9`)
      y[k] = bytes[at]
      for (let p = 0; p < PLANE; p++) {
        for (let c = 0; c < 3; c++) x[(k * PLANE + p) * 3 + c] = bytes[at + 1 + c * PLANE + p]
      }
    }
  }
  return { x, y }
}
