import { writeFileSync, existsSync } from 'node:fs'
import { InvalidInputError } from '../errors.js'
import { readScalars } from '../metrics/event-writer.js'
import type { ParsedArgs } from './args.js'

/** Wide CSV: one row per (run, step), one column per scalar tag. */
export function scalarsToCsv (events: ReturnType<typeof readScalars>): string {
  const tags = [...new Set(events.map(e => e.tag))].sort()
  const rows = new Map<string, { run: string, step: number, wallTime: number, values: Map<string, number> }>()
  for (const e of events) {
    const key = `${e.run}\u0000${e.step}`
    const row = rows.get(key) ?? { run: e.run, step: e.step, wallTime: e.wallTime, values: new Map() }
    row.values.set(e.tag, e.value)
    row.wallTime = Math.max(row.wallTime, e.wallTime)
    rows.set(key, row)
  }
  const quote = (s: string): string => /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s
  const lines = [['run', 'step', 'wall_time', ...tags].map(quote).join(',')]
  for (const r of [...rows.values()].sort((a, b) => a.run.localeCompare(b.run) || a.step - b.step)) {
    lines.push([quote(r.run), r.step, r.wallTime.toFixed(3), ...tags.map(t => r.values.get(t) ?? '')].join(','))
  }
  return lines.join('\n') + '\n'
}

/** `bt-ps logs export --format csv [--runs DIR] [--out FILE]` */
export async function logsCommand (args: ParsedArgs): Promise<number> {
  const [sub] = args.positional
  if (sub !== 'export') throw new InvalidInputError('USAGE', 'logs', `expected "logs export", got ${JSON.stringify(sub ?? '')}`)
  for (const name of args.flags.keys()) if (!['format', 'runs', 'out'].includes(name)) throw new InvalidInputError('USAGE', `--${name}`, 'unknown flag for bt-ps logs export')
  const format = args.flags.get('format') ?? 'csv'
  if (format !== 'csv') throw new InvalidInputError('USAGE', '--format', `only csv is supported, got ${JSON.stringify(format)}`)
  const dir = String(args.flags.get('runs') ?? 'runs')
  if (!existsSync(dir)) throw new InvalidInputError('USAGE', '--runs', `${dir} does not exist`)
  const csv = scalarsToCsv(readScalars(dir))
  const out = args.flags.get('out')
  if (typeof out === 'string') writeFileSync(out, csv)
  else process.stdout.write(csv)
  return 0
}
