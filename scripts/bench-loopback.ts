#!/usr/bin/env -S node --import tsx
/**
 * CPU per byte of the swarm: one server and one client on this machine's loopback, no link caps, rounds of a
 * `job.task: distribute` job. Reports, per round, the client's download rate (announcement until it held the
 * verified model) and the CPU seconds each process spent per GB. Uses ports 6969, 7000 and 8080 on 127.0.0.1.
 *
 *   npm run bench:loopback -- [--model-mb F] [--rounds R] [--piece-kib P] [--json FILE] [--out DIR] [--name NAME]
 */
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { benchArgs } from '../src/bench/bench-args.js'
import type { BenchArgs } from '../src/bench/bench-args.js'
import { coreCount } from '../src/bench/cpu.js'
import { BenchSession, loopbackHosts } from '../src/bench/emulated-job.js'
import { timestampedName, writeResultFiles } from '../src/bench/result-files.js'
import { lineChart } from '../src/bench/svg-chart.js'
import { renderTable } from '../src/cli/table.js'

interface Row { round: number, modelBytes: number, downloadS: number, mbPerS: number, serverCpuSPerGb: number, clientCpuSPerGb: number, machineBusy: number }

const args: BenchArgs = benchArgs('bench:loopback')
const num = args.num
const USAGE = 'usage: npm run bench:loopback -- [--model-mb F] [--rounds R] [--piece-kib P] [--json FILE] [--out DIR] [--name NAME]'
let parsed
try {
  parsed = parseArgs({
    options: {
      'model-mb': { type: 'string', default: '256' },
      rounds: { type: 'string', default: '3' },
      'piece-kib': { type: 'string', default: '0' },
      json: { type: 'string' },
      out: { type: 'string', default: 'bench/results' },
      name: { type: 'string' },
      help: { type: 'boolean', default: false }
    }
  })
} catch (err) {
  args.fail(`${(err as Error).message}\n${USAGE}`)
}
const { values } = parsed
if (values.help) { console.log(USAGE); process.exit(0) }
const modelMiB = num('model-mb', values['model-mb'], 1, 4096)
const rounds = Math.round(num('rounds', values.rounds, 1, 100))
const pieceKib = String(Math.round(num('piece-kib', values['piece-kib'], 0, 65536)))

const log = (line: string): void => { console.error(line) }
const session = new BenchSession({ log, workPrefix: 'btps-bench-loopback-' })
session.exitOnSignals()

async function main (): Promise<Row[]> {
  log(`bench:loopback: model ${modelMiB} MiB, ${rounds} round(s), one server and one client on 127.0.0.1, ${coreCount()} cores`)
  const logDir = join(session.work, 'logs')
  mkdirSync(logDir, { recursive: true })
  const flags = ['--job.task', 'distribute', '--job.model_mb', String(modelMiB), '--job.piece_kib', pieceKib, '--transfer', 'bt', '--clients', '1', '--round-timeout', '600', '--log-level', 'info']
  const job = await session.startJob(loopbackHosts(1), undefined, logDir, flags)
  const rows: Row[] = []
  for (let r = 1; r <= rounds; r++) {
    const m = await job.round()
    const res = m.value
    const downloadS = res.completionS[0] ?? NaN
    const gb = res.modelBytes / 1e9
    const row: Row = {
      round: r,
      modelBytes: res.modelBytes,
      downloadS,
      mbPerS: res.modelBytes / 1e6 / downloadS,
      serverCpuSPerGb: (m.cpuSeconds.server ?? NaN) / gb,
      clientCpuSPerGb: (m.cpuSeconds['client-1'] ?? NaN) / gb,
      machineBusy: m.machineBusy
    }
    rows.push(row)
    log(`  round ${r}: ${row.mbPerS.toFixed(0)} MB/s (${downloadS.toFixed(2)} s), CPU per GB: server ${row.serverCpuSPerGb.toFixed(2)} s, client ${row.clientCpuSPerGb.toFixed(2)} s; machine ${(m.machineBusy * 100).toFixed(0)}% busy`)
  }
  await job.stop()
  return rows
}

try {
  const rows = await main()
  const table = renderTable(['round', 'model MB', 'download s', 'MB/s', 'server CPU s/GB', 'client CPU s/GB', 'machine busy'],
    rows.map(r => [r.round, (r.modelBytes / 1e6).toFixed(1), r.downloadS.toFixed(2), r.mbPerS.toFixed(0), r.serverCpuSPerGb.toFixed(2), r.clientCpuSPerGb.toFixed(2), `${(r.machineBusy * 100).toFixed(0)}%`]))
  console.log(table)
  const svg = lineChart({ title: 'loopback: one server to one client', xLabel: 'round', yLabel: 'MB/s', series: [{ name: 'download', color: '#1f77b4', points: rows.map(r => [r.round, r.mbPerS]) }] })
  const files = writeResultFiles({ out: values.out, name: values.name ?? timestampedName('loopback'), jsonFile: values.json, json: { machine: { cores: coreCount() }, results: rows }, svg, table })
  log(`\nwrote ${files.jsonFile}, ${files.tableFile}, ${files.svgFile}`)
  await session.cleanup()
} catch (err) {
  session.keepLogs = true
  log(`bench:loopback failed: ${(err as Error).message}`)
  await session.cleanup()
  process.exit(1)
}
