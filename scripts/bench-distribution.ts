#!/usr/bin/env -S node --import tsx
/**
 * Distribution benchmark on an emulated cluster: one network namespace per host (tracker, server, each client),
 * links capped with tc, the real bt-ps processes inside. Compares transfer modes `bt` (swarm), `ps` (server
 * streams to each client) and `http` (plain HTTP server) with the Kumar–Ross lower bound, and with that bound over TCP
 * (T_tcp: the headers of each packet take their share of the link). Root only.
 *
 *   npm run bench:distribution -- [--clients N[,N...]] [--model-mb F] [--link-mbit B] [--server-mbit S]
 *                                 [--modes bt,ps,http] [--repeat R] [--json FILE] [--out DIR] [--piece-kib P] [--train]
 *                                 [--tcp-cc NAME]   (the hosts' TCP congestion control: cubic by default, 'system': this machine's)
 *                                 [--mtu BYTES]     (the links' MTU: 1500 by default; 9000, jumbo frames, takes a sixth of the
 *                                                    kernel's per-packet work, for swarms whose kernel work fills the cores)
 *
 * Each round also reports the share of TCP segments sent again and the retransmission timeouts, all hosts together:
 * losses, not only the rates, can hold a round back.
 *
 * Process logs are deleted at the end unless the run failed or BENCH_KEEP_LOGS=1.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { DEFAULT_CONGESTION_CONTROL, congestionControlUnavailable, namespacesUnavailable } from '../src/bench/netns.js'
import type { EmulatedNetwork } from '../src/bench/netns.js'
import { distributionBounds, mbitToBytesPerS, tcpPayloadShare } from '../src/bench/bounds.js'
import { benchArgs } from '../src/bench/bench-args.js'
import type { BenchArgs } from '../src/bench/bench-args.js'
import { coreCount } from '../src/bench/cpu.js'
import { BenchSession, measured, median } from '../src/bench/emulated-job.js'
import type { ClusterHosts } from '../src/bench/emulated-job.js'
import { timestampedName, writeResultFiles } from '../src/bench/result-files.js'
import { tcpCounters, tcpCountersSince } from '../src/bench/tcp-counters.js'
import type { TcpCounters } from '../src/bench/tcp-counters.js'
import { lineChart } from '../src/bench/svg-chart.js'
import { startRole, stopRole } from '../src/cli/child-process.js'
import { renderTable } from '../src/cli/table.js'
import { serializeModel } from '../src/model/serialize.js'
import { syntheticModel } from '../src/model/synthetic.js'

type Mode = 'bt' | 'ps' | 'http'
/** `tcp`: all hosts' TCP counters over the round: the share of segments sent again, and RTOs, tell when losses rather than the links' rates held a round back. */
interface RoundMeasure { completionS: number[], serverEgressBytes: number, peerBytes: number, modelBytes: number, cpuSeconds: Record<string, number>, machineBusy: number, wallS: number, cpuLimited: boolean, cpuNote: string, tcp: TcpCounters }
interface RunResult { mode: Mode, clients: number, modelMiB: number, linkMbit: number, serverMbit: number, modelBytes: number, tMinS: number, tcpMinS: number, starS: number, rounds: RoundMeasure[] }

const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '8' },
    'model-mb': { type: 'string', default: '32' },
    'link-mbit': { type: 'string', default: '20' },
    'server-mbit': { type: 'string' },
    modes: { type: 'string', default: 'bt,ps,http' },
    repeat: { type: 'string', default: '1' },
    json: { type: 'string' },
    out: { type: 'string', default: 'bench/results' },
    name: { type: 'string' },
    prefix: { type: 'string', default: `btps${process.pid}` },
    'tcp-cc': { type: 'string', default: DEFAULT_CONGESTION_CONTROL },
    mtu: { type: 'string', default: '1500' },
    train: { type: 'boolean', default: false },
    'piece-kib': { type: 'string', default: '0' },
    help: { type: 'boolean', default: false }
  }
})

const args: BenchArgs = benchArgs('bench:distribution')
const num = args.num
if (values.help) { console.log('see the header of scripts/bench-distribution.ts'); process.exit(0) }
const clientCounts = values.clients.split(',').map(v => Math.round(num('clients', v, 1, 200)))
const modelMiB = num('model-mb', values['model-mb'], 0.01, 4096)
const linkMbit = num('link-mbit', values['link-mbit'], 0.1, 100000)
const serverMbit = values['server-mbit'] === undefined ? linkMbit : num('server-mbit', values['server-mbit'], 0.1, 100000)
const repeat = Math.round(num('repeat', values.repeat, 1, 100))
const modes = values.modes.split(',').map(m => m.trim()) as Mode[]
for (const m of modes) if (!['bt', 'ps', 'http'].includes(m)) args.fail(`--modes: unknown mode ${JSON.stringify(m)} (bt, ps, http)`)
const congestionControl = values['tcp-cc']
const mtu = Math.round(num('mtu', values.mtu, 576, 65000))
const noCongestionControl = congestionControlUnavailable(congestionControl)
if (noCongestionControl !== undefined) args.fail(`--tcp-cc: ${noCongestionControl}`)
const unavailable = namespacesUnavailable()
if (unavailable !== undefined) args.fail(`cannot emulate a cluster here: ${unavailable}`)

const log = (line: string): void => { console.error(line) }
const session = new BenchSession({ log })
session.exitOnSignals()

async function runBtPs (mode: 'bt' | 'ps', hosts: ClusterHosts, net: EmulatedNetwork, logDir: string): Promise<RoundMeasure[]> {
  const n = hosts.clients.length
  const starS = n * modelMiB * 1048576 / mbitToBytesPerS(serverMbit)
  const task = values.train
    ? ['--job.task', 'train', '--model', 'mlp', '--hidden-units', String(Math.max(1, Math.round(modelMiB * 1048576 / (4 * 795))))]
    : ['--job.task', 'distribute', '--job.model_mb', String(modelMiB)]
  const common = [...task, '--job.piece_kib', values['piece-kib'], '--transfer', mode, '--clients', String(n), '--round-timeout', String(Math.ceil(starS * 3 + 120)), '--log-level', process.env.BENCH_LOG_LEVEL ?? 'info']
  const job = await session.startJob(hosts, net, logDir, common)
  log(`  ${mode}: tracker, server and ${n} clients up; running ${repeat} round(s)`)
  const out: RoundMeasure[] = []
  for (let r = 0; r < repeat; r++) {
    const tcpBefore = tcpCounters(net)
    const m = await job.round()
    const tcp = tcpCountersSince(tcpCounters(net), tcpBefore)
    const res = m.value
    // A round that ended at its deadline without every client is reported (column "held"), and its logs kept.
    if (res.completionS.length < n) session.keepLogs = true
    out.push({ completionS: res.completionS, serverEgressBytes: res.serverEgressBytes, peerBytes: res.peerBytes, modelBytes: res.modelBytes, cpuSeconds: m.cpuSeconds, machineBusy: m.machineBusy, wallS: m.wallS, cpuLimited: m.cpu.limited, cpuNote: m.cpu.why, tcp })
  }
  await job.stop()
  return out
}

async function runHttp (hosts: Pick<ClusterHosts, 'server' | 'clients'>, net: EmulatedNetwork, logDir: string): Promise<RoundMeasure[]> {
  const bytes = serializeModel({ jobId: 'bench', round: 1 }, syntheticModel(modelMiB, 1))
  const file = join(logDir, 'model.btps')
  writeFileSync(file, bytes)
  const script = (name: string): string => resolve('scripts/bench', name)
  const out: RoundMeasure[] = []
  for (let r = 0; r < repeat; r++) {
    const server = startRole('http-server', ['--file', file, '--host', hosts.server.address, '--port', '8000'], join(logDir, 'http-server.log'), { wrap: net.wrap(hosts.server), script: script('http-serve.js') })
    session.started(server)
    const { url } = await server.ready
    const startAt = Date.now() + 1500 + hosts.clients.length * 150
    const clients = hosts.clients.map((h, i) => startRole(`http-client-${i + 1}`, ['--url', String(url), '--start-at', String(startAt)], join(logDir, `http-client-${i + 1}.log`), { wrap: net.wrap(h), script: script('http-fetch.js') }))
    session.started(...clients)
    const tcpBefore = tcpCounters(net)
    const m = await measured([server, ...clients], async () => await Promise.all(clients.map(async c => await c.event('done'))))
    const tcp = tcpCountersSince(tcpCounters(net), tcpBefore)
    await stopRole(server)
    const stats = await server.event('stats')
    out.push({
      completionS: m.value.map(d => (Number(d.heldAt) - startAt) / 1000).sort((a, b) => a - b),
      serverEgressBytes: Number(stats.bytesSent),
      peerBytes: 0,
      modelBytes: bytes.byteLength,
      cpuSeconds: m.cpuSeconds,
      machineBusy: m.machineBusy,
      wallS: m.wallS,
      cpuLimited: m.cpu.limited,
      cpuNote: m.cpu.why,
      tcp
    })
    for (const c of clients) await stopRole(c)
    session.stoppedAll()
  }
  return out
}

async function main (): Promise<RunResult[]> {
  const results: RunResult[] = []
  log(`bench:distribution: clients ${clientCounts.join(',')}, model ${modelMiB} MiB, links ${linkMbit} Mbit/s (server ${serverMbit}), modes ${modes.join(',')}, ${repeat} round(s) each, ${coreCount()} cores, TCP ${congestionControl}, MTU ${mtu}`)
  for (const n of clientCounts) {
    const { network, hosts } = session.openCluster(values.prefix, n, linkMbit, serverMbit, congestionControl, mtu)
    const { clients } = hosts
    log(`N = ${n}: ${network.hosts.length} hosts in namespaces ${values.prefix}-*`)
    for (const mode of modes) {
      const logDir = join(session.work, `${mode}-${n}`)
      mkdirSync(logDir, { recursive: true })
      const rounds = mode === 'http' ? await runHttp(hosts, network, logDir) : await runBtPs(mode, hosts, network, logDir)
      const modelBytes = rounds[0].modelBytes
      const u = mbitToBytesPerS(linkMbit)
      const { tMin, star } = distributionBounds(modelBytes, mbitToBytesPerS(serverMbit), clients.map(() => u), clients.map(() => u))
      results.push({ mode, clients: n, modelMiB, linkMbit, serverMbit, modelBytes, tMinS: tMin, tcpMinS: tMin / tcpPayloadShare(mtu), starS: star, rounds })
      const last = rounds.at(-1)!
      if (last.completionS.length < n) log(`  ${mode} N=${n}: only ${last.completionS.length} of ${n} clients held the model when the round ended (see the logs)`)
      log(`  ${mode} N=${n}: slowest client ${Math.max(...last.completionS).toFixed(2)} s (T_min ${tMin.toFixed(2)} s, ratio ${(Math.max(...last.completionS) / tMin).toFixed(2)}), server sent ${(last.serverEgressBytes / modelBytes).toFixed(2)} F; TCP: ${last.tcp.retransmitted} of ${last.tcp.segments} segments sent again, ${last.tcp.timeouts} RTOs; CPU: ${last.cpuNote}`)
    }
    session.closeCluster()
  }
  return results
}

function table (results: RunResult[]): string {
  return renderTable(
    ['mode', 'N', 'held', 'model MB', 'T_min s', 'star s', 'first s', 'median s', 'last s', 'last/T_min', 'last/T_tcp', 'server sent', 'client<->client', 'TCP resent', 'RTOs', 'CPU-bound'],
    results.flatMap(r => r.rounds.map(m => [
      r.mode, r.clients, m.completionS.length === r.clients ? 'all' : `${m.completionS.length}/${r.clients}`, (r.modelBytes / 1e6).toFixed(1), r.tMinS.toFixed(2), r.starS.toFixed(2),
      Math.min(...m.completionS).toFixed(2), median(m.completionS).toFixed(2), Math.max(...m.completionS).toFixed(2),
      (Math.max(...m.completionS) / r.tMinS).toFixed(2), (Math.max(...m.completionS) / r.tcpMinS).toFixed(2), `${(m.serverEgressBytes / r.modelBytes).toFixed(2)} F`, `${(m.peerBytes / 1e6).toFixed(1)} MB`,
      `${(100 * m.tcp.retransmitted / Math.max(1, m.tcp.segments)).toFixed(1)}%`, m.tcp.timeouts,
      m.cpuLimited ? `yes (${m.cpuNote})` : 'no'
    ]))
  )
}

function chart (results: RunResult[]): string {
  const colors: Record<string, string> = { bt: '#1f77b4', ps: '#d62728', http: '#ff7f0e' }
  const ns = [...new Set(results.map(r => r.clients))]
  const byN = (n: number): RunResult => results.find(r => r.clients === n)!
  const slowest = (r: RunResult): number => median(r.rounds.map(m => Math.max(...m.completionS)))
  return lineChart({
    title: `Time until every client holds the model (${modelMiB} MiB, ${linkMbit} Mbit/s links)`,
    xLabel: 'clients (N)',
    yLabel: 'seconds',
    series: [
      ...modes.map(mode => ({ name: mode, color: colors[mode], points: results.filter(r => r.mode === mode).map(r => [r.clients, slowest(r)] as [number, number]) })),
      { name: 'T_min (P2P bound)', color: '#2ca02c', dashed: true, points: ns.map(n => [n, byN(n).tMinS] as [number, number]) },
      { name: 'T_tcp (T_min with TCP/IP headers)', color: '#9467bd', dashed: true, points: ns.map(n => [n, byN(n).tcpMinS] as [number, number]) },
      { name: 'star bound', color: '#7f7f7f', dashed: true, points: ns.map(n => [n, byN(n).starS] as [number, number]) }
    ]
  })
}

try {
  const results = await main()
  const text = table(results)
  const files = writeResultFiles({ out: values.out, name: values.name ?? timestampedName('distribution'), jsonFile: values.json, json: { machine: { cores: coreCount(), tcpCongestionControl: congestionControl, mtu }, results }, svg: chart(results), table: text })
  console.log(text)
  console.log(`\nwrote ${files.jsonFile}, ${files.svgFile}`)
} catch (err) {
  console.error(`bench:distribution failed: ${String((err as Error).message ?? err)}`)
  session.keepLogs = true
  process.exitCode = 1
} finally {
  if (process.env.BENCH_KEEP_LOGS != null) session.keepLogs = true
  await session.cleanup()
}
