import { InvalidInputError } from '../errors.js'
import type { ParsedArgs } from './args.js'
import { AdminClient, readTokenFile } from './admin-client.js'
import { followRounds } from './progress.js'
import { PhaseBars } from './phase-bars.js'
import { resultsTable } from './results-table.js'
import { renderTable } from './table.js'

export function only (args: ParsedArgs, allowed: string[], command: string): void {
  for (const name of args.flags.keys()) if (!allowed.includes(name)) throw new InvalidInputError('USAGE', `--${name}`, `unknown flag for bt-ps ${command}`)
  if (args.positional.length > 0) throw new InvalidInputError('USAGE', 'arguments', `bt-ps ${command} takes no arguments, got ${args.positional.join(' ')}`)
}

function serverUrl (args: ParsedArgs): string {
  const v = args.flags.get('server') ?? process.env.BTPS_ADMIN_URL
  if (typeof v !== 'string' || !/^https?:\/\/[^\s/]+/.test(v)) throw new InvalidInputError('USAGE', '--server', `expected the admin API URL (http://host:port), got ${JSON.stringify(v ?? null)}`)
  return v
}

/** --token, --token-file, BTPS_ADMIN_TOKEN or BTPS_ADMIN_TOKEN_FILE, in that order. */
export function adminClient (args: ParsedArgs): AdminClient {
  const token = args.flags.get('token')
  const file = args.flags.get('token-file')
  if (token === true || file === true) throw new InvalidInputError('USAGE', token === true ? '--token' : '--token-file', 'needs a value')
  const env = process.env
  const value = token ?? (file != null ? readTokenFile(file) : env.BTPS_ADMIN_TOKEN ?? (env.BTPS_ADMIN_TOKEN_FILE != null ? readTokenFile(env.BTPS_ADMIN_TOKEN_FILE, 'BTPS_ADMIN_TOKEN_FILE') : undefined))
  return new AdminClient(serverUrl(args), value)
}

/** `bt-ps stop`: drop the queued rounds; with --now, abort the one in progress too. */
export async function stopCommand (args: ParsedArgs): Promise<number> {
  only(args, ['server', 'now', 'json', 'token', 'token-file'], 'stop')
  const stopped = await adminClient(args).stopRounds(args.flags.get('now') === true)
  if (args.flags.get('json') === true) { console.log(JSON.stringify(stopped)); return 0 }
  const parts = [`dropped ${stopped.dropped} queued round${stopped.dropped === 1 ? '' : 's'}`]
  if (stopped.aborted != null) parts.push(`aborted round ${stopped.aborted} (nothing of it aggregated; the checkpoint keeps round ${stopped.aborted - 1})`)
  else if (stopped.now) parts.push('no round was open to abort')
  console.log(parts.join('; '))
  return 0
}

/** `bt-ps round`: queue rounds on a running server; with --wait, follow them and print the table (or JSON). */
export async function roundCommand (args: ParsedArgs): Promise<number> {
  only(args, ['server', 'rounds', 'wait', 'json', 'token', 'token-file'], 'round')
  const raw = args.flags.get('rounds') ?? '1'
  const rounds = Number(raw)
  if (typeof raw !== 'string' || !Number.isInteger(rounds) || rounds < 1 || rounds > 10000) throw new InvalidInputError('USAGE', '--rounds', `expected a whole number 1..10000, got ${JSON.stringify(raw)}`)
  const admin = adminClient(args)
  const json = args.flags.get('json') === true
  const { first, last } = await admin.startRounds(rounds)
  // With --json, stdout carries only the JSON; progress goes to stderr.
  const say = (line: string): void => { if (json) process.stderr.write(line + '\n'); else console.log(line) }
  say(`queued rounds ${first}..${last} on ${admin.base}`)
  if (args.flags.get('wait') !== true) { if (json) console.log(JSON.stringify({ first, last })); return 0 }
  const out = json ? process.stderr : process.stdout
  const results = await followRounds(admin, first, last, say, undefined, PhaseBars.wanted(out) ? new PhaseBars(out) : undefined)
  if (json) console.log(JSON.stringify(results, null, 2))
  else console.log('\n' + resultsTable(results))
  return results.every(r => r.status !== 'failed') ? 0 : 1
}

/** `bt-ps status`: clients, current round and recent results. */
export async function statusCommand (args: ParsedArgs): Promise<number> {
  only(args, ['server', 'json', 'token', 'token-file'], 'status')
  const s = await adminClient(args).status()
  if (args.flags.get('json') === true) { console.log(JSON.stringify(s, null, 2)); return 0 }
  console.log(`job ${s.jobId}: model ${s.model}, dataset ${s.dataset}, selection ${s.selection}, transfer ${s.transfer}, backend ${s.backend ?? '-'}, server ${s.state}, ${s.round} rounds done, ${s.queued} queued`)
  if (s.lastStop != null) console.log(`stopped at ${new Date(s.lastStop.at).toISOString()}: ${s.lastStop.dropped} queued rounds dropped${s.lastStop.aborted != null ? `, round ${s.lastStop.aborted} aborted` : ''}`)
  if (s.current != null) console.log(`round ${s.current.round} open: ${s.current.accepted.length} updates from ${s.current.selected.length} selected (${s.current.selected.join(', ')})`)
  console.log(`\nclients (${s.clients.filter(c => c.online).length} online):`)
  console.log(renderTable(['client', 'partition', 'online', 'state', 'backend', 'last seen s', 'score', 'last selection'], s.clients.map(c => [c.clientId, c.partition, c.online ? 'yes' : 'no', c.excluded ? `excluded (${c.rejected} invalid updates)` : c.state, c.backend, c.lastSeenS, c.selection?.score?.toFixed(3) ?? '-', c.selection?.reason ?? '-'])))
  if (s.results.length > 0) console.log('\nlast rounds:\n' + resultsTable(s.results.slice(-10)))
  console.log(`\nTensorBoard: tensorboard --logdir ${s.runDir}`)
  return 0
}
