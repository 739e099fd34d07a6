#!/usr/bin/env -S node --import tsx
/**
 * Whole-round benchmark on an emulated cluster (the same one as bench-distribution: a network namespace per host,
 * links capped with tc, the real bt-ps processes inside). Each round the clients fetch the model through the swarm,
 * "train" for --compute-s seconds and send a synthetic update of the model's size, `direct`ly to the server or
 * reduced among themselves first (`swarm`); the server aggregates. Root only.
 */
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { directUploadBound, distributionBounds, mbitToBytesPerS, uploadBound } from '../src/bench/bounds.js'
import { benchArgs } from '../src/bench/bench-args.js'
import type { BenchArgs } from '../src/bench/bench-args.js'
import { coreCount } from '../src/bench/cpu.js'
import { BenchSession, median } from '../src/bench/emulated-job.js'
import type { ClusterHosts } from '../src/bench/emulated-job.js'
import { DEFAULT_CONGESTION_CONTROL, congestionControlUnavailable, namespacesUnavailable } from '../src/bench/netns.js'
import type { EmulatedNetwork } from '../src/bench/netns.js'
import { timestampedName, writeResultFiles } from '../src/bench/result-files.js'
import { lineChart } from '../src/bench/svg-chart.js'
import { renderTable } from '../src/cli/table.js'

const USAGE = `usage: npm run bench:round -- [--clients N[,N...]] [--model-mb F] [--link-mbit B] [--upload direct,swarm]
                              [--compute-s C] [--repeat R] [--json FILE] [--out DIR] [--name NAME]
                              [--server-mbit S] [--piece-kib P] [--prefix P] [--tcp-cc NAME]

Runs rounds of a distribution job with synthetic updates (--job.task distribute --job.synthetic_update yes) on an
emulated cluster of N clients, for each N and each upload mode, and compares the phases with their lower bounds:
  download   announcement until the last client held the model, vs T_min (Kumar-Ross)
  upload     first update reaching the server until the aggregate was complete, vs F/min(d_s, u_min) (F/B when the
             server's link is as fast as the clients'); direct uploads also vs N*F/d_s
  round      the whole round minus the compute time, vs T_min + F/B
Writes <out>/<name>.json, .txt (the table) and .svg. Needs root (network namespaces and tc).

  --clients N[,N...]   clients per run (default 8)
  --model-mb F         model size in MiB (default 32)
  --link-mbit B        every client's link, both ways (default 20)
  --server-mbit S      the server's link, both ways (default: B)
  --upload MODES       direct, swarm or both (default direct,swarm)
  --compute-s C        seconds each client "trains" before it sends its update (default 2)
  --repeat R           rounds per N and mode (default 1)
  --json FILE          JSON results here instead of <out>/<name>.json
  --out DIR            output folder (default bench/results)
  --name NAME          output file names (default round-<time>)
  --piece-kib P        swarm piece size (default 0: chosen from the model size)
  --prefix P           namespace name prefix (default btps<pid>)
  --tcp-cc NAME        the hosts' TCP congestion control (default cubic, Linux's default; 'system': this machine's)
Process logs are deleted at the end unless the run failed or BENCH_KEEP_LOGS=1.`

type Upload = 'direct' | 'swarm'
const UPLOADS: readonly Upload[] = ['direct', 'swarm']

/** One round of one run. Times in seconds; F is the model's size in bytes (modelBytes). */
interface Row {
  upload: Upload
  clients: number
  round: number
  modelBytes: number
  linkMbit: number
  serverMbit: number
  computeS: number
  /** Clients that held the model, and updates aggregated, when the round ended. */
  held: number
  updates: number
  downloadS: number | null
  uploadS: number | null
  roundS: number
  roundMinusComputeS: number
  tMinS: number
  uploadBoundS: number
  directUploadBoundS: number
  /** T_min + the upload bound: what (round − compute) is compared with. */
  targetS: number
  serverIngressF: number
  serverEgressF: number
  peerBytes: number
  cpuBound: boolean
  cpuNote: string
  machineBusy: number
  wallS: number
  dropped?: string[]
}

const args: BenchArgs = benchArgs('bench:round')
const num = args.num

let parsed
try {
  parsed = parseArgs({
    options: {
      clients: { type: 'string', default: '8' },
      'model-mb': { type: 'string', default: '32' },
      'link-mbit': { type: 'string', default: '20' },
      'server-mbit': { type: 'string' },
      upload: { type: 'string', default: 'direct,swarm' },
      'compute-s': { type: 'string', default: '2' },
      repeat: { type: 'string', default: '1' },
      json: { type: 'string' },
      out: { type: 'string', default: 'bench/results' },
      name: { type: 'string' },
      prefix: { type: 'string', default: `btps${process.pid}` },
      'tcp-cc': { type: 'string', default: DEFAULT_CONGESTION_CONTROL },
      'piece-kib': { type: 'string', default: '0' },
      help: { type: 'boolean', default: false }
    }
  })
} catch (err) {
  args.fail(`${(err as Error).message}\n${USAGE}`)
}
const { values } = parsed
if (values.help) { console.log(USAGE); process.exit(0) }
const clientCounts = values.clients.split(',').map(v => Math.round(num('clients', v, 1, 200)))
const modelMiB = num('model-mb', values['model-mb'], 0.01, 4096)
const linkMbit = num('link-mbit', values['link-mbit'], 0.1, 100000)
const serverMbit = values['server-mbit'] === undefined ? linkMbit : num('server-mbit', values['server-mbit'], 0.1, 100000)
const computeS = num('compute-s', values['compute-s'], 0, 86400)
const repeat = Math.round(num('repeat', values.repeat, 1, 100))
const pieceKib = String(Math.round(num('piece-kib', values['piece-kib'], 0, 65536)))
const uploads = values.upload.split(',').map(m => m.trim()) as Upload[]
for (const m of uploads) if (!UPLOADS.includes(m)) args.fail(`--upload: unknown mode ${JSON.stringify(m)} (direct, swarm)`)
const congestionControl = values['tcp-cc']
const noCongestionControl = congestionControlUnavailable(congestionControl)
if (noCongestionControl !== undefined) args.fail(`--tcp-cc: ${noCongestionControl}`)
const unavailable = namespacesUnavailable()
if (unavailable !== undefined) args.fail(`cannot emulate a cluster here: ${unavailable}`)

const log = (line: string): void => { console.error(line) }
const session = new BenchSession({ log, workPrefix: 'btps-bench-round-' })
session.exitOnSignals()

const fixed = (x: number | null, digits = 2): string => x === null || !Number.isFinite(x) ? '-' : x.toFixed(digits)
const finite = (x: number | undefined): number | null => x !== undefined && Number.isFinite(x) ? x : null

async function runMode (upload: Upload, hosts: ClusterHosts, net: EmulatedNetwork, logDir: string): Promise<Row[]> {
  const n = hosts.clients.length
  const F = modelMiB * 1048576
  // Generous: a star in both directions, three times over, plus the compute time.
  const timeoutS = Math.ceil(3 * (n * F / mbitToBytesPerS(serverMbit) * 2) + computeS + 120)
  const flags = [
    '--job.task', 'distribute', '--job.model_mb', String(modelMiB), '--job.synthetic_update', 'yes', '--job.compute_s', String(computeS),
    '--job.piece_kib', pieceKib, '--upload', upload, '--transfer', 'bt', '--clients', String(n), '--round-timeout', String(timeoutS), '--log-level', 'info'
  ]
  const job = await session.startJob(hosts, net, logDir, flags)
  log(`  ${upload}: tracker, server and ${n} clients up; running ${repeat} round(s)`)
  const ds = mbitToBytesPerS(serverMbit)
  const u = hosts.clients.map(() => mbitToBytesPerS(linkMbit))
  const rows: Row[] = []
  for (let r = 1; r <= repeat; r++) {
    const m = await job.round()
    const res = m.value
    if (res.upload !== undefined && res.upload !== upload) throw new Error(`the server ran upload ${res.upload}, not ${upload}`)
    const F = res.modelBytes
    const { tMin } = distributionBounds(F, ds, u, u)
    const upBound = uploadBound(F, ds, u)
    const row: Row = {
      upload,
      clients: n,
      round: r,
      modelBytes: F,
      linkMbit,
      serverMbit,
      computeS,
      held: res.completionS.length,
      updates: res.accepted.length,
      downloadS: res.completionS.length > 0 ? Math.max(...res.completionS) : null,
      uploadS: finite(res.uploadS),
      roundS: res.roundS,
      roundMinusComputeS: res.roundS - computeS,
      tMinS: tMin,
      uploadBoundS: upBound,
      directUploadBoundS: directUploadBound(F, ds, u),
      targetS: tMin + upBound,
      serverIngressF: res.serverIngressBytes / F,
      serverEgressF: res.serverEgressBytes / F,
      peerBytes: res.peerBytes,
      cpuBound: m.cpu.limited,
      cpuNote: m.cpu.why,
      machineBusy: m.machineBusy,
      wallS: m.wallS,
      ...(res.dropped !== undefined && res.dropped.length > 0 ? { dropped: res.dropped } : {})
    }
    rows.push(row)
    // A round that ended without every client or update is reported (columns "held", "updates"), and its logs kept.
    if (row.held < n || row.updates < n) {
      session.keepLogs = true
      log(`  ${upload} N=${n} round ${r}: ${row.held} of ${n} clients held the model, ${row.updates} updates aggregated (see the logs)`)
    }
    if (row.uploadS === null) log(`  ${upload} N=${n} round ${r}: the round result has no uploadS (status ${res.status})`)
    log(`  ${upload} N=${n} round ${r}: download ${fixed(row.downloadS)} s (T_min ${fixed(tMin)}, ${fixed(row.downloadS === null ? null : row.downloadS / tMin)}x), ` +
      `upload ${fixed(row.uploadS)} s (F/B ${fixed(upBound)}, ${fixed(row.uploadS === null ? null : row.uploadS / upBound)}x), ` +
      `round ${fixed(row.roundS)} s - compute ${computeS} = ${fixed(row.roundMinusComputeS)} s (T_min + F/B ${fixed(row.targetS)}, ${fixed(row.roundMinusComputeS / row.targetS)}x), ` +
      `server in ${fixed(row.serverIngressF)} F, out ${fixed(row.serverEgressF)} F; CPU: ${row.cpuNote}`)
  }
  await job.stop()
  return rows
}

async function main (): Promise<Row[]> {
  const rows: Row[] = []
  log(`bench:round: clients ${clientCounts.join(',')}, model ${modelMiB} MiB, links ${linkMbit} Mbit/s (server ${serverMbit}), upload ${uploads.join(',')}, compute ${computeS} s, ${repeat} round(s) each, ${coreCount()} cores, TCP ${congestionControl}`)
  for (const n of clientCounts) {
    const { network, hosts } = session.openCluster(values.prefix, n, linkMbit, serverMbit, congestionControl)
    log(`N = ${n}: ${network.hosts.length} hosts in namespaces ${values.prefix}-*`)
    for (const upload of uploads) {
      const logDir = join(session.work, `${upload}-${n}`)
      mkdirSync(logDir, { recursive: true })
      rows.push(...await runMode(upload, hosts, network, logDir))
    }
    session.closeCluster()
  }
  return rows
}

function table (rows: Row[]): string {
  const part = (k: number, n: number): string => k === n ? 'all' : `${k}/${n}`
  return renderTable(
    ['upload', 'N', 'held', 'updates', 'model MB', 'T_min s', 'download s', 'F/B s', 'upload s', 'upload/(F/B)', 'N*F/d_s', 'round s', 'round-C s', 'T_min+F/B', '(round-C)/target', 'server in', 'server out', 'client<->client', 'CPU-bound'],
    rows.map(r => [
      r.upload, r.clients, part(r.held, r.clients), part(r.updates, r.clients), (r.modelBytes / 1e6).toFixed(1),
      fixed(r.tMinS), fixed(r.downloadS), fixed(r.uploadBoundS), fixed(r.uploadS), fixed(r.uploadS === null ? null : r.uploadS / r.uploadBoundS), fixed(r.directUploadBoundS),
      fixed(r.roundS), fixed(r.roundMinusComputeS), fixed(r.targetS), fixed(r.roundMinusComputeS / r.targetS),
      `${fixed(r.serverIngressF)} F`, `${fixed(r.serverEgressF)} F`, `${(r.peerBytes / 1e6).toFixed(1)} MB`,
      r.cpuBound ? `yes (${r.cpuNote})` : 'no'
    ])
  )
}

function chart (rows: Row[]): string {
  const colors: Record<Upload, string> = { direct: '#d62728', swarm: '#1f77b4' }
  const ns = [...new Set(rows.map(r => r.clients))]
  const first = (n: number): Row => rows.find(r => r.clients === n)!
  const point = (n: number, y: number): [number, number] => [n, y]
  return lineChart({
    title: `Round time minus compute (${modelMiB} MiB, ${linkMbit} Mbit/s links, compute ${computeS} s)`,
    xLabel: 'clients (N)',
    yLabel: 'seconds',
    series: [
      ...uploads.map(upload => ({
        name: upload,
        color: colors[upload],
        points: ns.filter(n => rows.some(r => r.upload === upload && r.clients === n))
          .map(n => point(n, median(rows.filter(r => r.upload === upload && r.clients === n).map(r => r.roundMinusComputeS))))
      })),
      { name: 'T_min + F/B', color: '#2ca02c', dashed: true, points: ns.map(n => point(n, first(n).targetS)) },
      { name: 'T_min + N·F/d_s (direct)', color: '#7f7f7f', dashed: true, points: ns.map(n => point(n, first(n).tMinS + first(n).directUploadBoundS)) }
    ]
  })
}

try {
  const rows = await main()
  const text = table(rows)
  const files = writeResultFiles({ out: values.out, name: values.name ?? timestampedName('round'), jsonFile: values.json, json: { machine: { cores: coreCount(), tcpCongestionControl: congestionControl }, results: rows }, svg: chart(rows), table: text })
  console.log(text)
  console.log(`\nwrote ${files.jsonFile}, ${files.tableFile}, ${files.svgFile}`)
} catch (err) {
  console.error(`bench:round failed: ${String((err as Error).message ?? err)}`)
  session.keepLogs = true
  process.exitCode = 1
} finally {
  if (process.env.BENCH_KEEP_LOGS != null) session.keepLogs = true
  await session.cleanup()
}
