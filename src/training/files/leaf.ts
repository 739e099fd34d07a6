import { readFileSync } from 'node:fs'
import { basename } from 'node:path'
import { InvalidInputError } from '../../errors.js'

/** Samples of LEAF JSON files: pixels as floats, labels, and each sample's writer (an index into `writers`). */
export interface LeafSamples { x: Float32Array, y: Uint8Array, groups: Uint32Array, writers: string[], pixels: number }

/**
 * Reads LEAF JSON files (FEMNIST and the other LEAF image sets): `{ users, user_data: { <user>: { x, y } } }`, each x a
 * flat list of pixel values, each y a class index. Writers keep their file order; a writer found in several files
 * is one writer.
 */
export function readLeaf (paths: readonly string[], writers: string[] = []): LeafSamples {
  const xs: number[][] = []
  const ys: number[] = []
  const groups: number[] = []
  const index = new Map(writers.map((w, i) => [w, i]))
  let pixels = -1
  for (const path of paths) {
    const field = `job.data_path (${basename(path)})`
    let doc: { users?: unknown, user_data?: unknown }
    try { doc = JSON.parse(readFileSync(path, 'utf8')) as typeof doc } catch (err) { throw new InvalidInputError('DATA_INVALID', field, `is not JSON: ${(err as Error).message}`) }
    if (!Array.isArray(doc.users) || doc.user_data == null || typeof doc.user_data !== 'object') throw new InvalidInputError('DATA_INVALID', field, 'is not a LEAF file (it needs "users" and "user_data")')
    const data = doc.user_data as Record<string, { x?: unknown, y?: unknown }>
    for (const user of doc.users) {
      const d = data[String(user)]
      if (d == null || !Array.isArray(d.x) || !Array.isArray(d.y) || d.x.length !== d.y.length) throw new InvalidInputError('DATA_INVALID', `${field}.user_data.${String(user)}`, 'needs lists x and y of the same length')
      if (!index.has(String(user))) { index.set(String(user), writers.length); writers.push(String(user)) }
      const w = index.get(String(user))!
      d.x.forEach((img: unknown, i: number) => {
        const label = (d.y as unknown[])[i]
        if (!Array.isArray(img) || !img.every(v => typeof v === 'number' && Number.isFinite(v))) throw new InvalidInputError('DATA_INVALID', `${field}.user_data.${String(user)}.x[${i}]`, 'is not a list of numbers')
        if (pixels < 0) pixels = img.length
        if (img.length !== pixels || pixels === 0) throw new InvalidInputError('DATA_INVALID', `${field}.user_data.${String(user)}.x[${i}]`, `has ${img.length} values, the first sample has ${pixels}`)
        if (!Number.isInteger(label) || (label as number) < 0 || (label as number) > 255) throw new InvalidInputError('DATA_INVALID', `${field}.user_data.${String(user)}.y[${i}]`, `${JSON.stringify(label)} is not a class index 0–255`)
        xs.push(img as number[])
        ys.push(label as number)
        groups.push(w)
      })
    }
  }
  const x = new Float32Array(xs.length * Math.max(pixels, 0))
  xs.forEach((img, i) => { x.set(img, i * pixels) })
  return { x, y: Uint8Array.from(ys), groups: Uint32Array.from(groups), writers, pixels }
}
