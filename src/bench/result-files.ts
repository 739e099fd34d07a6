import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

/** `<kind>-<ISO time>` with characters a file name can hold: the name of a run given no --name. */
export const timestampedName = (kind: string): string => `${kind}-${new Date().toISOString().replace(/[:.]/g, '-')}`

/**
 * A benchmark's outputs: `jsonFile` (default `<out>/<name>.json`) with `{ machine, results }`, `<out>/<name>.svg`
 * and the table in `<out>/<name>.txt`. Returns the paths written.
 */
export function writeResultFiles (opts: { out: string, name: string, jsonFile?: string, json: unknown, svg: string, table: string }): { jsonFile: string, svgFile: string, tableFile: string } {
  mkdirSync(opts.out, { recursive: true })
  const jsonFile = opts.jsonFile ?? join(opts.out, `${opts.name}.json`)
  const svgFile = join(opts.out, `${opts.name}.svg`)
  const tableFile = join(opts.out, `${opts.name}.txt`)
  writeFileSync(jsonFile, JSON.stringify(opts.json, null, 2))
  writeFileSync(svgFile, opts.svg)
  writeFileSync(tableFile, opts.table + '\n')
  return { jsonFile, svgFile, tableFile }
}
