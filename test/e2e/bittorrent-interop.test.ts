import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { spawn, spawnSync } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort, startCluster, until } from './cluster.js'
import type { Cluster } from './cluster.js'
import { parseModelHeader } from '../../src/model/serialize.js'
import { renderTable } from '../../src/cli/table.js'

// Standard BitTorrent clients fetch a live round's model from the server alone: the one bt-ps client holds the
// model, then is stopped (SIGSTOP) while it "trains", so it neither serves pieces nor ends the round. The server's
// upload is capped. Each client's transfer (the server's sent-bytes counter, sampled every 100 ms, from its first
// rise to its last) is reported against the cap, beside the client's whole run (start, metadata, tracker, transfer).
// DHT, local discovery and port mapping are off in every client, so no traffic leaves the machine.
const CAP_MBIT = 80
// Transmission asks a peer for 4 blocks at first, then once a second for 10 s worth at the rate it saw over the last
// 2 s: about 3 s pass before it asks for as much as the cap carries, whatever the seed does. At the cap, 32 MiB
// takes 3.4 s, so the share reported is the server's and not just that ramp.
const MODEL_MIB = 32
const PYTHON = '/usr/bin/python3'
const LIBTORRENT_FETCH = join(import.meta.dirname, '..', 'support', 'libtorrent-fetch.py')

interface Fetch { seconds: number, file: string }
interface StandardClient { name: string, missing?: string, fetch: (magnet: string, out: string) => Promise<Fetch> }

const has = (cmd: string, args: string[]): boolean => spawnSync(cmd, args, { stdio: 'ignore' }).status === 0

/** Runs `child` until it exits (or `doneWhen` matches its output, then stops it); its output on failure. */
async function watch (child: ChildProcess, what: string, doneWhen?: RegExp): Promise<number> {
  const t0 = performance.now()
  let output = ''
  let done = false
  return await new Promise<number>((resolve, reject) => {
    const onData = (d: Buffer): void => {
      output = (output + d.toString()).slice(-4000)
      if (!done && doneWhen?.test(output) === true) { done = true; resolve((performance.now() - t0) / 1000); child.kill('SIGTERM') }
    }
    child.stdout?.on('data', onData)
    child.stderr?.on('data', onData)
    const timer = setTimeout(() => { child.kill('SIGKILL') }, 120_000)
    child.on('exit', (code, signal) => {
      clearTimeout(timer)
      if (done) return
      if (code === 0 && doneWhen == null) resolve((performance.now() - t0) / 1000)
      else reject(new Error(`${what} exited with ${String(code ?? signal)}: ${output.slice(-600)}`))
    })
  })
}

/** The one file a client wrote under `out` (skipping its own state folders). */
const onlyFile = (out: string): string => {
  const files = readdirSync(out, { withFileTypes: true }).filter(f => f.isFile() && f.name.endsWith('.btps'))
  assert.is(files.length, 1, `one model file in ${out}: ${files.map(f => f.name).join(', ')}`)
  return join(out, files[0].name)
}

const CLIENTS: StandardClient[] = [
  {
    name: 'aria2c',
    missing: has('aria2c', ['--version']) ? undefined : 'aria2c is not installed (Debian\'s aria2)',
    fetch: async (magnet, out) => {
      const child = spawn('aria2c', ['--dir', out, '--seed-time=0', '--enable-dht=false', '--enable-dht6=false', '--bt-enable-lpd=false',
        '--bt-stop-timeout=60', '--summary-interval=0', '--console-log-level=warn', `--listen-port=${await freePort()}`, magnet], { stdio: ['ignore', 'pipe', 'pipe'] })
      return { seconds: await watch(child, 'aria2c'), file: onlyFile(out) }
    }
  },
  {
    name: 'libtorrent',
    missing: has(PYTHON, ['-c', 'import libtorrent']) ? undefined : 'python3-libtorrent is not installed',
    fetch: async (magnet, out) => {
      const child = spawn(PYTHON, [LIBTORRENT_FETCH, magnet, out, String(await freePort()), '100'], { stdio: ['ignore', 'pipe', 'pipe'] })
      let report = ''
      child.stdout.on('data', (d: Buffer) => { report += d.toString() })
      await watch(child, 'libtorrent-fetch.py')
      return { seconds: (JSON.parse(report) as { seconds: number }).seconds, file: onlyFile(out) }
    }
  },
  {
    name: 'transmission-cli',
    missing: has('transmission-cli', ['--version']) ? undefined : 'transmission-cli is not installed',
    fetch: async (magnet, out) => {
      const config = join(out, '.transmission')
      mkdirSync(config)
      const port = await freePort()
      writeFileSync(join(config, 'settings.json'), JSON.stringify({
        'dht-enabled': false, 'lpd-enabled': false, 'pex-enabled': false, 'utp-enabled': false, 'port-forwarding-enabled': false,
        'rpc-enabled': false, 'peer-port': port, 'download-dir': out, 'incomplete-dir-enabled': false, 'rename-partial-files': false
      }))
      // transmission-cli seeds until stopped: it is stopped once it says so.
      const child = spawn('transmission-cli', ['-g', config, '-w', out, '-p', String(port), '-M', magnet], { stdio: ['ignore', 'pipe', 'pipe'] })
      return { seconds: await watch(child, 'transmission-cli', /Seeding/), file: onlyFile(out) }
    }
  }
]

let cluster: Cluster | undefined
let close: ((failed?: boolean) => Promise<void>) | undefined
let round: { magnet: string, sha256: string } | undefined
let failed = false
const rows: string[][] = []

/** Samples the server's piece bytes sent while `run` runs: the seconds from the first byte to the last, and bytes. */
async function serverTransfer<T> (c: Cluster, run: () => Promise<T>): Promise<{ value: T, seconds: number, bytes: number, firstByteS: number, secondHalfS: number }> {
  const sent = async (): Promise<number> => (await c.metrics('server')).value('btps_swarm_bytes_total', { direction: 'sent' }) ?? 0
  const base = await sent()
  const samples: Array<[number, number]> = []
  const t0 = performance.now()
  let running = true
  const sampler = (async () => {
    while (running) {
      samples.push([performance.now(), await sent() - base])
      await new Promise(resolve => setTimeout(resolve, 100))
    }
  })()
  try {
    const value = await run()
    running = false
    await sampler
    samples.push([performance.now(), await sent() - base])
    const bytes = samples.at(-1)![1]
    // From the last sample with nothing sent yet to the first sample with everything sent.
    const start = samples.findLast(([, b]) => b === 0)?.[0] ?? samples[0][0]
    const end = samples.find(([, b]) => b === bytes)![0]
    // The second half of the bytes: the server's pace once the client asks for enough at a time.
    const half = samples.find(([, b]) => b >= bytes / 2)![0]
    return { value, seconds: (end - start) / 1000, bytes, firstByteS: (start - t0) / 1000, secondHalfS: (end - half) / 1000 }
  } finally {
    running = false
    await sampler
  }
}

test.before(async () => {
  if (CLIENTS.every(c => c.missing != null)) return
  ;[cluster, close] = await startCluster({
    clients: 1,
    jobFlags: ['--job.task', 'distribute', '--job.model_mb', String(MODEL_MIB), '--job.synthetic_update', 'yes', '--job.compute_s', '600', '--round-timeout', '900', '--server.upload_limit_mbit', String(CAP_MBIT)]
  })
  const c = cluster
  await until('client online', async () => (await c.admin.status()).clients.some(x => x.online) ? true : undefined)
  await c.admin.startRounds(1)
  const current = await until('round 1 magnet', async () => { const s = (await c.admin.status()).current; return s?.magnet != null ? s : undefined })
  await until('the bt-ps client holds the model', async () => (await c.admin.status()).clients.some(x => x.held === 1) ? true : undefined)
  c.processes.find(p => p.name === 'client-1')?.child.kill('SIGSTOP')
  // The tracker's HTTP announce URL: aria2 speaks UDP trackers only with its DHT on.
  const magnet = (current.magnet ?? '').replace(/&tr=[^&]*/g, '') + `&tr=${encodeURIComponent(cluster.trackerHttp)}`
  round = { magnet, sha256: String(current.sha256) }
})

test.after(async () => {
  cluster?.processes.find(p => p.name === 'client-1')?.child.kill('SIGCONT')
  if (rows.length > 0) console.log(`\nstandard clients, alone with the server (upload capped at ${CAP_MBIT} Mbit/s), ${MODEL_MIB} MiB model:\n${renderTable(['client', 'whole run s', 'first byte at s', 'transfer s', 'server sent MB', 'transfer MB/s', 'share of cap', 'second half MB/s'], rows)}`)
  await close?.(failed)
})

for (const client of CLIENTS) {
  if (client.missing != null) {
    console.log(`SKIP BitTorrent interop with ${client.name}: ${client.missing} (scripts/install-system-deps.sh installs it)`)
    test.skip(`${client.name} downloads a live round's model from the server, bytes identical`, () => {})
    continue
  }
  test(`${client.name} downloads a live round's model from the server, bytes identical`, async () => {
    const out = mkdtempSync(join(tmpdir(), `btps-interop-${client.name}-`))
    try {
      const transfer = await serverTransfer(cluster!, async () => await client.fetch(round!.magnet, out))
      const bytes = readFileSync(transfer.value.file)
      const mbPerS = transfer.bytes / 1e6 / transfer.seconds
      rows.push([client.name, transfer.value.seconds.toFixed(2), transfer.firstByteS.toFixed(2), transfer.seconds.toFixed(2), (transfer.bytes / 1e6).toFixed(1), mbPerS.toFixed(2), `${(mbPerS * 8 / CAP_MBIT * 100).toFixed(0)}%`, (transfer.bytes / 2e6 / transfer.secondHalfS).toFixed(2)])
      assert.is(createHash('sha256').update(bytes).digest('hex'), round!.sha256, 'the same bytes the server announced')
      assert.is(parseModelHeader(bytes).header.round, 1)
    } catch (err) {
      failed = true
      throw err
    } finally {
      rmSync(out, { recursive: true, force: true })
    }
  })
}

test.run()
