import { writeFileSync, existsSync } from 'node:fs'
import { InvalidInputError } from '../errors.js'
import { readScalars } from '../metrics/event-writer.js'
import type { RoundEvent } from '../server/round-events.js'
import type { StatusView } from '../server/admin-api.js'
import type { ParsedArgs } from './args.js'
import { adminClient, only } from './round.js'
import { scalarsPlot } from './scalars-plot.js'

type Scalars = ReturnType<typeof readScalars>

/** One row per (run, step), with every scalar tag of that step. */
function scalarRows (events: Scalars): Array<{ run: string, step: number, wallTime: number, values: Record<string, number> }> {
  const rows = new Map<string, { run: string, step: number, wallTime: number, values: Record<string, number> }>()
  for (const e of events) {
    const key = `${e.run}\u0000${e.step}`
    const row = rows.get(key) ?? { run: e.run, step: e.step, wallTime: e.wallTime, values: {} }
    row.values[e.tag] = e.value
    row.wallTime = Math.max(row.wallTime, e.wallTime)
    rows.set(key, row)
  }
  return [...rows.values()].sort((a, b) => a.run.localeCompare(b.run) || a.step - b.step)
}

/** Wide CSV: one row per (run, step), one column per scalar tag. */
export function scalarsToCsv (events: Scalars): string {
  const tags = [...new Set(events.map(e => e.tag))].sort()
  const quote = (s: string): string => /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s
  const lines = [['run', 'step', 'wall_time', ...tags].map(quote).join(',')]
  for (const r of scalarRows(events)) lines.push([quote(r.run), r.step, r.wallTime.toFixed(3), ...tags.map(t => r.values[t] ?? '')].join(','))
  return lines.join('\n') + '\n'
}

function runsDir (args: ParsedArgs): string {
  const dir = String(args.flags.get('runs') ?? 'runs')
  if (!existsSync(dir)) throw new InvalidInputError('USAGE', '--runs', `${dir} does not exist`)
  return dir
}

/** `bt-ps logs export [--format csv|json | --json] [--runs DIR] [--out FILE]` */
function exportCommand (args: ParsedArgs): number {
  only({ ...args, positional: args.positional.slice(1) }, ['format', 'json', 'runs', 'out'], 'logs export')
  const format = args.flags.get('json') === true ? 'json' : args.flags.get('format') ?? 'csv'
  if (format !== 'csv' && format !== 'json') throw new InvalidInputError('USAGE', '--format', `expected csv or json, got ${JSON.stringify(format)}`)
  const events = readScalars(runsDir(args))
  const text = format === 'csv' ? scalarsToCsv(events) : JSON.stringify(scalarRows(events), null, 2) + '\n'
  const out = args.flags.get('out')
  if (typeof out === 'string') writeFileSync(out, text)
  else process.stdout.write(text)
  return 0
}

/** `bt-ps logs plot [--runs DIR] -o FILE.svg`: accuracy and loss against round and against time. */
function plotCommand (args: ParsedArgs): number {
  only({ ...args, positional: args.positional.slice(1) }, ['runs', 'out'], 'logs plot')
  const out = args.flags.get('out')
  if (typeof out !== 'string' || !out.endsWith('.svg')) throw new InvalidInputError('USAGE', '-o', `expected an output file FILE.svg, got ${JSON.stringify(out ?? null)}`)
  const dir = runsDir(args)
  const events = readScalars(dir)
  if (!events.some(e => e.tag === 'test_acc_1' || e.tag === 'test_loss')) throw new InvalidInputError('USAGE', '--runs', `no test_acc_1 or test_loss scalars under ${dir}`)
  writeFileSync(out, scalarsPlot(events))
  console.log(`wrote ${out}`)
  return 0
}

const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`

/** One line for a round event, as `logs follow` prints it. */
export function describeEvent (e: RoundEvent): string {
  if (e.type === 'announced') return `round ${e.round} announced: ${e.selected.length} selected (${e.selected.join(', ')}), transfer ${e.transfer}, upload ${e.upload}, model ${mb(e.bytes)}`
  if (e.type === 'stopped') return `rounds stopped: ${e.dropped} queued dropped${e.aborted != null ? `, round ${e.aborted} aborted` : ''}`
  const r = e.result
  const F = Math.max(1, r.modelBytes)
  const acc = r.testAcc1 != null ? `acc ${r.testAcc1.toFixed(4)} loss ${r.testLoss?.toFixed(4) ?? '-'}, ` : ''
  return `round ${r.round} ${r.status}: ${acc}${r.accepted.length}/${r.selected.length} clients in ${r.roundS.toFixed(1)} s (distribution ${r.distributionS.toFixed(1)} s); server out ${(r.serverEgressBytes / F).toFixed(2)} F, in ${(r.serverIngressBytes / F).toFixed(2)} F${r.reason != null ? `; ${r.reason}` : ''}`
}

/**
 * `bt-ps logs follow --server URL [--rounds N] [--json]`: the server's round events as they happen, and clients'
 * state changes; until Ctrl-C, or after N rounds finish. --json: one JSON object per line.
 */
async function followCommand (args: ParsedArgs): Promise<number> {
  only({ ...args, positional: args.positional.slice(1) }, ['server', 'token', 'token-file', 'json', 'rounds'], 'logs follow')
  const raw = args.flags.get('rounds')
  const rounds = raw === undefined ? Infinity : Number(raw)
  if (raw !== undefined && !(Number.isInteger(rounds) && rounds >= 1)) throw new InvalidInputError('USAGE', '--rounds', `expected a whole number from 1, got ${JSON.stringify(raw)}`)
  const json = args.flags.get('json') === true
  const admin = adminClient(args)
  const controller = new AbortController()
  const onSignal = (): void => { controller.abort() }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  const states = new Map<string, string>()
  let finished = 0
  const print = (line: string, data: Record<string, unknown>): void => { console.log(json ? JSON.stringify(data) : `${new Date().toISOString().slice(11, 19)} ${line}`) }
  try {
    await admin.follow((type, data) => {
      if (type === 'status') {
        // Only what changed: a client's state (and how much of the model it holds while downloading).
        for (const c of (data as StatusView).clients) {
          const state = c.excluded ? 'excluded' : c.online ? c.state : 'offline'
          if (states.get(c.clientId) === state) continue
          if (states.size > 0 || state !== 'idle') print(`${c.clientId} ${state}${state === 'downloading' && c.held != null ? ` (${Math.round(c.held * 100)}%)` : ''}`, { type: 'client', clientId: c.clientId, state, round: c.round })
          states.set(c.clientId, state)
        }
        return
      }
      const e = data as RoundEvent
      print(describeEvent(e), { ...e })
      if (e.type === 'finished' && ++finished >= rounds) controller.abort()
    }, controller.signal, () => { process.stderr.write(`following ${admin.base} (Ctrl-C stops)\n`) })
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
  return 0
}

/** `bt-ps logs export|follow|plot` */
export async function logsCommand (args: ParsedArgs): Promise<number> {
  const [sub] = args.positional
  if (sub === 'export') return exportCommand(args)
  if (sub === 'plot') return plotCommand(args)
  if (sub === 'follow') return await followCommand(args)
  throw new InvalidInputError('USAGE', 'logs', `expected export, follow or plot, got ${JSON.stringify(sub ?? '')}`)
}
