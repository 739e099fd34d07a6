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

/**
 * `bt-ps up`: tracker, server and job.clients clients as separate processes on 127.0.0.1 (ports chosen by the
 * OS), runs job.rounds rounds, prints progress and the per-round table, stops everything. Ctrl-C stops all.
 */
export async function upCommand (config: Config, opts: { file?: string, logDir?: string, flags: ParsedArgs }): Promise<number> {
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
    say(`bt-ps up: job ${config.job.id}, model ${config.job.model}, dataset ${config.job.dataset}, ${config.job.clients} clients, ${config.job.rounds} rounds, transfer ${config.job.transfer}, upload ${config.job.upload}; logs in ${logDir}`)
    const tracker = startRole('tracker', ['tracker', '--config', configFile, '--tracker.port', '0', '--tracker.host', '127.0.0.1'], join(logDir, 'tracker.log'))
    children.push(tracker)
    const t = await race(tracker.ready)
    watch(tracker)
    say(`tracker ready: ${String(t.udp)} (private: ${String(t.http).replace('/announce', '/stats.json')} takes the job's stats token)`)
    const server = startRole('server', ['server', '--config', configFile, '--tracker.url', String(t.udp), '--server.host', '127.0.0.1', '--server.p2p_port', '0', '--server.admin_host', '127.0.0.1', '--server.admin_port', '0', '--server.resume', 'no'], join(logDir, 'server.log'))
    children.push(server)
    const s = await race(server.ready)
    watch(server)
    const addr = (s.addrs as string[])[0]
    say(`server ready: ${addr}, admin ${String(s.admin)}, evaluation backend ${String(s.backend)}`)
    say(`TensorBoard: tensorboard --logdir ${resolve(String(s.runDir))}`)
    for (let i = 1; i <= config.job.clients; i++) {
      const c = startRole(`client-${i}`, ['client', '--config', configFile, '--tracker.url', String(t.udp), '--client.server', addr, '--client.id', `client-${i}`, '--client.host', '127.0.0.1'], join(logDir, `client-${i}.log`))
      children.push(c)
    }
    const ready = await race(Promise.all(children.slice(2).map(async c => await c.ready)))
    children.slice(2).forEach(watch)
    say(`${ready.length} clients ready (backends: ${[...new Set(ready.map(r => String(r.backend)))].join(', ')})`)
    const admin = new AdminClient(String(s.admin), readTokenFile(String(s.adminTokenFile)))
    while ((await admin.status()).clients.filter(c => c.online).length < config.job.clients) await sleep(200, controller.signal)
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
