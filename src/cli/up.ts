import { mkdirSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { toRawConfig } from '../config/raw.js'
import type { Config } from '../config/schema.js'
import { BtpsError } from '../errors.js'
import { loadPsk } from '../net/psk.js'
import { sleep } from '../abort.js'
import type { ParsedArgs } from './args.js'
import { AdminClient, readTokenFile } from './admin-client.js'
import { startRole, stopRole } from './child-process.js'
import type { RoleProcess } from './child-process.js'
import { followRounds } from './progress.js'
import { PhaseBars } from './phase-bars.js'
import { resultsTable } from './results-table.js'

/** Up to this many clients, `bt-ps up` runs each in a process of its own; beyond, they share CLIENT_PROCESSES processes. */
const OWN_PROCESS_MAX = 8
const CLIENT_PROCESSES = 4

/**
 * `bt-ps up`: tracker, server and job.clients clients on 127.0.0.1 (ports chosen by the OS), runs job.rounds rounds,
 * prints progress and the per-round table, stops everything. Ctrl-C stops all. A few clients run as a process each;
 * more (`--clients 1000`) as `bt-ps clients` processes of `clientsPerProcess` client ids.
 */
export async function upCommand (config: Config, opts: { file?: string, logDir?: string, clientsPerProcess?: number, flags: ParsedArgs }): Promise<number> {
  const clients = config.job.clients
  const perProcess = Math.min(clients, opts.clientsPerProcess ?? (clients <= OWN_PROCESS_MAX ? 1 : Math.ceil(clients / CLIENT_PROCESSES)))
  const stamp = new Date().toISOString().replace(/[:.]/g, '-')
  const logDir = resolve(opts.logDir ?? join(config.server.runsDir, config.job.id, `logs-${stamp}`))
  mkdirSync(logDir, { recursive: true })
  const configFile = join(logDir, 'config.json')
  // Always a private job: a key of its own unless the file names one. Made here, not by the server: the tracker
  // starts first and reads it too.
  const raw = toRawConfig(config)
  const pskFile = config.job.pskFile !== '' ? config.job.pskFile : join(logDir, 'swarm.key')
  raw.job.psk_file = pskFile
  loadPsk(pskFile, { create: true })
  writeFileSync(configFile, JSON.stringify(raw, null, 2))
  const children: RoleProcess[] = []
  const controller = new AbortController()
  let interrupted = false
  const onSignal = (): void => { interrupted = true; controller.abort() }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  const say = (line: string): void => { console.log(line) }
  const race = async <T>(p: Promise<T>): Promise<T> => await Promise.race([p, new Promise<never>((_r, reject) => { controller.signal.addEventListener('abort', () => { reject(new BtpsError('ABORTED', 'interrupted')) }, { once: true }) })])
  // Any child that dies while the job runs ends the job with its log tail.
  const watch = (p: RoleProcess): void => { void p.exited.then(code => { if (!controller.signal.aborted) { say(`${p.name} exited (code ${String(code)}); see ${p.logFile}`); controller.abort() } }) }
  const t0 = performance.now()
  try {
    const groups = Math.ceil(clients / perProcess)
    say(`bt-ps up: job ${config.job.id}, model ${config.job.model}, dataset ${config.job.dataset}, ${clients} clients${perProcess > 1 ? ` in ${groups} processes` : ''}, ${config.job.rounds} rounds, transfer ${config.job.transfer}, upload ${config.job.upload}; logs in ${logDir}`)
    const tracker = startRole('tracker', ['tracker', '--config', configFile, '--tracker.port', '0', '--tracker.host', '127.0.0.1'], join(logDir, 'tracker.log'))
    children.push(tracker)
    const t = await race(tracker.ready)
    watch(tracker)
    say(`tracker ready: ${String(t.udp)} (private: ${String(t.http).replace('/announce', '/stats.json')} takes the job's stats token)`)
    const server = startRole('server', ['server', '--config', configFile, '--tracker.url', String(t.udp), '--server.host', '127.0.0.1', '--server.p2p_port', '0', '--server.admin_host', '127.0.0.1', '--server.admin_port', '0', '--server.resume', 'no', '--server.max_ids_per_peer', String(Math.max(perProcess, config.server.maxIdsPerPeer))], join(logDir, 'server.log'))
    children.push(server)
    const s = await race(server.ready)
    watch(server)
    const addr = (s.addrs as string[])[0]
    say(`server ready: ${addr}, admin ${String(s.admin)}, evaluation backend ${String(s.backend)}`)
    say(`TensorBoard: tensorboard --logdir ${resolve(String(s.runDir))}`)
    const common = ['--config', configFile, '--tracker.url', String(t.udp), '--client.server', addr, '--client.host', '127.0.0.1']
    for (let i = 1; i <= groups; i++) {
      const name = `client-${i}`
      // The last process takes what is left: 1000 clients at 300 a process are 300, 300, 300 and 100 ids.
      const count = Math.min(perProcess, clients - (i - 1) * perProcess)
      const args = perProcess === 1 ? ['client', ...common, '--client.id', name] : ['clients', ...common, '--client.count', String(count), '--client.id_prefix', name]
      children.push(startRole(name, args, join(logDir, `${name}.log`)))
    }
    const ready = await race(Promise.all(children.slice(2).map(async c => await c.ready)))
    children.slice(2).forEach(watch)
    say(`${perProcess > 1 ? `${clients} clients in ${ready.length} processes` : `${ready.length} clients`} ready (backends: ${[...new Set(ready.map(r => String(r.backend)))].join(', ')})`)
    const admin = new AdminClient(String(s.admin), readTokenFile(String(s.adminTokenFile)))
    while ((await admin.status()).clients.filter(c => c.online).length < clients) await sleep(200, controller.signal)
    const { first, last } = await admin.startRounds(config.job.rounds)
    const results = await followRounds(admin, first, last, say, controller.signal, PhaseBars.wanted(process.stdout) ? new PhaseBars(process.stdout) : undefined)
    say('\n' + resultsTable(results))
    say(`\ndone in ${((performance.now() - t0) / 1000).toFixed(1)} s; event files in ${resolve(String(s.runDir))}`)
    return results.every(r => r.status !== 'failed') ? 0 : 1
  } catch (err) {
    if (interrupted) { say('interrupted: stopping every process'); return 130 }
    throw err
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    controller.abort()
    await Promise.all([...children].reverse().slice(0, -2).map(async c => { await stopRole(c) }))
    for (const c of children.slice(0, 2).reverse()) await stopRole(c)
  }
}
