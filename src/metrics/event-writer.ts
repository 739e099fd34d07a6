import { appendFileSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { decodeScalarEvents, encodeFileVersionEvent, encodeScalarEvent, frameRecord, readRecords } from './tfevents.js'
import type { ScalarEvent } from './tfevents.js'

/** Appends scalar summaries to `<dir>/events.out.tfevents.<secs>.<host>`, a file TensorBoard reads live. */
export class EventWriter {
  readonly file: string

  constructor (dir: string) {
    mkdirSync(dir, { recursive: true })
    const now = Date.now() / 1000
    this.file = join(dir, `events.out.tfevents.${Math.floor(now)}.${hostname()}`)
    writeFileSync(this.file, frameRecord(encodeFileVersionEvent(now)))
  }

  scalar (tag: string, value: number, step: number, wallTime = Date.now() / 1000): void {
    appendFileSync(this.file, frameRecord(encodeScalarEvent({ tag, value, step, wallTime })))
  }

  scalars (values: Record<string, number | undefined>, step: number): void {
    const wallTime = Date.now() / 1000
    const records = Object.entries(values)
      .filter((e): e is [string, number] => e[1] !== undefined && Number.isFinite(e[1]))
      .map(([tag, value]) => frameRecord(encodeScalarEvent({ tag, value, step, wallTime })))
    if (records.length > 0) appendFileSync(this.file, Buffer.concat(records))
  }
}

/** Every scalar in every event file under `dir` (recursively), with the run directory it came from. */
export function readScalars (dir: string): Array<ScalarEvent & { run: string }> {
  const out: Array<ScalarEvent & { run: string }> = []
  const walk = (d: string, run: string): void => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name)
      if (statSync(p).isDirectory()) walk(p, run === '' ? name : `${run}/${name}`)
      else if (name.includes('tfevents')) {
        for (const payload of readRecords(readFileSync(p))) for (const e of decodeScalarEvents(payload)) out.push({ ...e, run })
      }
    }
  }
  walk(dir, '')
  return out
}
