#!/usr/bin/env -S node --import tsx
/**
 * Soak: one tracker, one server and many light clients (`bt-ps clients` processes of many client ids each, on a
 * distribution-only job, no training) logging in, heartbeating and downloading round after round for a fixed time,
 * all on 127.0.0.1. Reports the log-in time, the announce rate the tracker handled, the heartbeat load at the
 * server, server RSS over time, rounds completed and errors.
 *
 *   npm run bench:soak -- [--clients 200] [--workers 4] [--duration-s 300] [--model-mb 0.25] [--k 40] [--gap-s 2] [--out DIR]
 *
 * `--workers`: client processes (each one libp2p and BitTorrent peer for its share of the client ids).
 *
 * Process logs are deleted at the end unless the run failed or BENCH_KEEP_LOGS=1.
 */
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { benchArgs } from '../src/bench/bench-args.js'
import type { BenchArgs } from '../src/bench/bench-args.js'
import { machineCpu, coreCount } from '../src/bench/cpu.js'
import { rssMb } from '../src/bench/rss.js'
import { lineChart } from '../src/bench/svg-chart.js'
import { AdminClient, readTokenFile } from '../src/cli/admin-client.js'
import { startRole, stopRole } from '../src/cli/child-process.js'
import type { RoleProcess } from '../src/cli/child-process.js'
import { renderTable } from '../src/cli/table.js'
import { loadPsk } from '../src/net/psk.js'

const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '200' },
    workers: { type: 'string', default: '4' },
    'duration-s': { type: 'string', default: '300' },
    'model-mb': { type: 'string', default: '0.25' },
    k: { type: 'string', default: '40' },
    'gap-s': { type: 'string', default: '2' },
    out: { type: 'string', default: 'bench/results' },
    name: { type: 'string', default: 'soak' }
  }
})
const args: BenchArgs = benchArgs('bench:soak')
const num = (name: string, min: number, max: number): number => args.num(name, (values as Record<string, string | undefined>)[name], min, max)
const clients = num('clients', 1, 10000)
const workers = Math.min(num('workers', 1, 64), clients)
const durationS = num('duration-s', 10, 86400)
const modelMb = num('model-mb', 0.01, 64)
const k = Math.min(num('k', 1, 10000), clients)
const gapS = num('gap-s', 0, 3600)

/** Each client id's heartbeat interval (sent in one batch per client process). */
const HEARTBEAT_S = 2

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

const dir = mkdtempSync(join(tmpdir(), 'btps-soak-'))
const running: RoleProcess[] = []
let cleaned: Promise<void> | undefined
/** Stops every process (once, whoever asks); the logs stay for the report, or for a look when `keep`. */
const cleanup = async (keep: boolean): Promise<void> => {
  cleaned ??= (async () => {
    for (const p of [...running].reverse()) await stopRole(p)
  })()
  await cleaned
  if (keep) console.error(`\nlogs kept in ${dir}`)
}
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => { void cleanup(true).then(() => process.exit(130)) })

const config = join(dir, 'job.json')
writeFileSync(config, JSON.stringify({
  job: { id: 'soak', task: 'distribute', model_mb: modelMb, clients, clients_per_round: k, over_commitment: 1, round_timeout_s: 60, psk_file: join(dir, 'swarm.key') },
  tracker: { announce_interval_s: 5, load_log_s: 5 },
  server: { runs_dir: join(dir, 'runs'), checkpoint_dir: join(dir, 'checkpoints'), selection_wait_s: 2, resume: 'no', max_ids_per_peer: Math.ceil(clients / workers) },
  client: { heartbeat_s: HEARTBEAT_S },
  log: { level: 'info' }
}))
// The tracker reads the job's key too (it serves only the job's torrents), so it exists before anyone starts.
loadPsk(join(dir, 'swarm.key'), { create: true })

try {
  const t0 = Date.now()
  const tracker = startRole('tracker', ['tracker', '--config', config, '--port', '0', '--host', '127.0.0.1'], join(dir, 'tracker.log'))
  running.push(tracker)
  const t = await tracker.ready
  const server = startRole('server', ['server', '--config', config, '--tracker', String(t.udp), '--p2p-port', '0', '--admin-port', '0'], join(dir, 'server.log'))
  running.push(server)
  const s = await server.ready
  const admin = new AdminClient(String(s.admin), readTokenFile(String(s.adminTokenFile)))
  const rssStart = rssMb(server.child.pid)
  const per = Math.ceil(clients / workers)
  for (let w = 0; w * per < clients; w++) {
    const count = Math.min(per, clients - w * per)
    const p = startRole(`clients-${w + 1}`, ['clients', '--config', config, '--tracker', String(t.udp), '--server', (s.addrs as string[])[0], '--count', String(count), '--id-prefix', `soak-${w + 1}`, '--log.level', 'warn'], join(dir, `clients-${w + 1}.log`))
    running.push(p)
  }
  for (;;) {
    const online = (await admin.status()).clients.filter(c => c.online).length
    process.stdout.write(`\r${((Date.now() - t0) / 1000).toFixed(0)} s: ${online}/${clients} clients logged in`)
    if (online >= clients) break
    if (Date.now() - t0 > 600_000) throw new Error(`only ${online} of ${clients} clients logged in within 10 minutes`)
    // The status lists every client: with thousands, asking every second would be load of its own.
    await sleep(clients > 1000 ? 3000 : 1000)
  }
  const loginS = (Date.now() - t0) / 1000
  console.log(`\nall ${clients} clients logged in after ${loginS.toFixed(0)} s; soaking for ${durationS} s (${k} clients a round, ${modelMb} MiB model)`)

  const token = readTokenFile(String(s.adminTokenFile))
  const heartbeatCounts = async (): Promise<{ messages: number, bytes: number }> => {
    const text = await (await fetch(`${String(s.admin)}/metrics`, { headers: { authorization: `Bearer ${token}` } })).text()
    const sum = (name: string): number => [...text.matchAll(new RegExp(`^${name}\\{[^}]*\\} (\\S+)$`, 'gm'))].reduce((a, m) => a + Number(m[1]), 0)
    return { messages: sum('btps_clients_heartbeat_messages_total'), bytes: sum('btps_clients_heartbeat_bytes_total') }
  }
  const heartbeatsBefore = await heartbeatCounts()
  const samples: Array<{ t: number, rss: number, trackerRss: number, clientsRss: number, busy: number }> = []
  const soakStart = Date.now()
  let cpu = machineCpu()
  const sample = (): void => {
    const now = machineCpu()
    samples.push({ t: (Date.now() - soakStart) / 1000, rss: rssMb(server.child.pid), trackerRss: rssMb(tracker.child.pid), clientsRss: running.filter(p => p.name.startsWith('clients-')).reduce((a, p) => a + rssMb(p.child.pid), 0), busy: (now.busy - cpu.busy) / Math.max(1e-9, now.total - cpu.total) })
    cpu = now
  }
  sample()
  const sampler = setInterval(sample, 5000)
  const rounds: Array<{ round: number, status: string, held: number, roundS: number }> = []
  try {
    while (Date.now() - soakStart < durationS * 1000) {
      const { first } = await admin.startRounds(1)
      for (;;) {
        const r = (await admin.status()).results.find(x => x.round === first)
        if (r != null) {
          rounds.push({ round: r.round, status: r.status, held: r.accepted.length, roundS: r.roundS })
          const last = samples.at(-1)
          process.stdout.write(`\r${((Date.now() - soakStart) / 1000).toFixed(0)} s: round ${r.round} ${r.accepted.length}/${r.selected.length} held in ${r.roundS.toFixed(1)} s, server RSS ${last?.rss.toFixed(0) ?? '-'} MB   `)
          break
        }
        await sleep(250)
      }
      // Between rounds clients only heartbeat and announce, as they do while a real job evaluates or waits.
      await sleep(gapS * 1000)
    }
  } finally {
    clearInterval(sampler)
  }
  sample()
  const heartbeatsAfter = await heartbeatCounts()
  const status = await admin.status()
  const onlineAtEnd = status.clients.filter(c => c.online).length
  const soakS = (Date.now() - soakStart) / 1000
  await cleanup(false)

  // Announces: the tracker's own count, logged every 5 s and when it stops.
  const loads = [...readFileSync(join(dir, 'tracker.log'), 'utf8').matchAll(/tracker load .*?announces=(\d+)/g)].map(m => Number(m[1]))
  const announces = loads.at(-1) ?? 0
  const errors = readdirSync(dir).filter(f => f.endsWith('.log')).flatMap(f => readFileSync(join(dir, f), 'utf8').split('\n').filter(l => / ERROR /.test(l)).map(l => `${f}: ${l}`))
  const warnings = readdirSync(dir).filter(f => f.endsWith('.log')).reduce((n, f) => n + readFileSync(join(dir, f), 'utf8').split('\n').filter(l => / WARN /.test(l)).length, 0)
  // Growth: the server's RSS over the second half of the soak, by least squares (MB per minute).
  const half = samples.filter(x => x.t >= soakS / 2)
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length)
  const mt = mean(half.map(x => x.t))
  const mr = mean(half.map(x => x.rss))
  const slope = half.reduce((a, x) => a + (x.t - mt) * (x.rss - mr), 0) / Math.max(1e-9, half.reduce((a, x) => a + (x.t - mt) ** 2, 0)) * 60
  const heartbeats = { messagesPerS: (heartbeatsAfter.messages - heartbeatsBefore.messages) / soakS, kbPerS: (heartbeatsAfter.bytes - heartbeatsBefore.bytes) / soakS / 1000, clientsPerS: clients / HEARTBEAT_S }
  const failedRounds = rounds.filter(r => r.status === 'failed' || r.held < k).length
  const busy = mean(samples.slice(1).map(x => x.busy))
  const result = {
    clients, workers, k, modelMb, durationS: soakS, loginS, rounds: rounds.length, roundsShort: failedRounds, medianRoundS: rounds.map(r => r.roundS).sort((a, b) => a - b)[Math.floor(rounds.length / 2)] ?? 0,
    announces, announcesPerS: announces / ((Date.now() - t0) / 1000), onlineAtEnd, heartbeats, roundsPerMin: rounds.length / (soakS / 60),
    serverRssMb: { start: rssStart, afterLogin: samples[0]?.rss ?? 0, end: samples.at(-1)?.rss ?? 0, max: Math.max(...samples.map(x => x.rss)), secondHalfSlopeMbPerMin: slope },
    trackerRssMb: { start: samples[0]?.trackerRss ?? 0, end: samples.at(-1)?.trackerRss ?? 0 },
    clientProcessesRssMb: samples.at(-1)?.clientsRss ?? 0,
    machineBusy: busy, cores: coreCount(), errors: errors.length, warnings, samples
  }
  const rows: Array<[string, string]> = [
    ['clients (client processes)', `${clients} (${workers})`],
    ['all logged in after', `${loginS.toFixed(0)} s`],
    ['soak', `${soakS.toFixed(0)} s`],
    ['rounds completed', `${rounds.length} (${failedRounds} short of ${k} clients)`],
    ['median round', `${result.medianRoundS.toFixed(2)} s (${result.roundsPerMin.toFixed(1)} rounds a minute)`],
    ['heartbeats at the server', `${heartbeats.messagesPerS.toFixed(1)} messages/s, ${heartbeats.kbPerS.toFixed(1)} kB/s (${heartbeats.clientsPerS.toFixed(0)} client heartbeats/s in batches)`],
    ['announces handled', `${announces} (${result.announcesPerS.toFixed(1)}/s)`],
    ['clients online at the end', `${onlineAtEnd}/${clients}`],
    ['server RSS start / after login / end / max', `${rssStart.toFixed(0)} / ${result.serverRssMb.afterLogin.toFixed(0)} / ${result.serverRssMb.end.toFixed(0)} / ${result.serverRssMb.max.toFixed(0)} MB`],
    ['server RSS trend, second half', `${slope >= 0 ? '+' : ''}${slope.toFixed(2)} MB/min`],
    ['tracker RSS start / end', `${result.trackerRssMb.start.toFixed(0)} / ${result.trackerRssMb.end.toFixed(0)} MB`],
    ['machine busy', `${(busy * 100).toFixed(0)}% of ${coreCount()} cores${busy > 0.9 ? ' (CPU-bound)' : ''}`],
    ['errors logged / warnings', `${errors.length} / ${warnings}`]
  ]
  console.log('\n\n' + renderTable(['soak', 'value'], rows))
  for (const e of errors.slice(0, 10)) console.log(e)
  const out = resolve(values.out)
  mkdirSync(out, { recursive: true })
  writeFileSync(join(out, `${values.name}.json`), JSON.stringify(result, null, 1))
  writeFileSync(join(out, `${values.name}.svg`), lineChart({
    title: `bt-ps soak: ${clients} clients, ${rounds.length} rounds in ${soakS.toFixed(0)} s`,
    xLabel: 'seconds into the soak',
    yLabel: 'RSS (MB)',
    series: [
      { name: 'server', points: samples.map(x => [x.t, x.rss]), color: '#1f77b4' },
      { name: 'tracker', points: samples.map(x => [x.t, x.trackerRss]), color: '#2ca02c' }
    ]
  }))
  console.log(`results: ${join(out, `${values.name}.json`)}, ${join(out, `${values.name}.svg`)}`)
  if (process.env.BENCH_KEEP_LOGS !== '1') rmSync(dir, { recursive: true, force: true })
  process.exitCode = errors.length === 0 && failedRounds === 0 ? 0 : 1
} catch (err) {
  console.error(`\nbench:soak: ${err instanceof Error ? err.message : String(err)}`)
  await cleanup(true)
  process.exitCode = 1
}
