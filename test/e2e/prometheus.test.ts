import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { spawn, spawnSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { freePort, startCluster, until } from './cluster.js'

const PROMETHEUS = spawnSync('prometheus', ['--version'], { encoding: 'utf8' })
const missing = PROMETHEUS.error != null ? 'prometheus is not installed (scripts/install-system-deps.sh installs Debian\'s)' : undefined

interface Vector { metric: Record<string, string>, value: [number, string] }

if (missing != null) console.log(`SKIP the Prometheus test: ${missing}`)
const maybe = missing != null ? test.skip : test

maybe('a real Prometheus scrapes tracker, server and clients, and its API answers for the series', async () => {
  // Two rounds of a small MLP job in swarm upload, so rounds, updates, pieces and phases all have samples.
  const [cluster, close] = await startCluster({ clients: 3, jobFlags: ['--hidden-units', '64', '--round-timeout', '120', '--job.upload', 'swarm'] })
  const dir = join(cluster.dir, 'prometheus')
  mkdirSync(dir)
  const port = await freePort()
  const target = (url: string): string => new URL(url).host
  const urls = cluster.metricsUrls()
  writeFileSync(join(dir, 'prometheus.yml'), [
    'global: { scrape_interval: 1s, scrape_timeout: 1s }',
    'scrape_configs:',
    '  - job_name: bt-ps-server',
    `    authorization: { type: Bearer, credentials_file: ${cluster.adminTokenFile} }`,
    `    static_configs: [{ targets: ['${target(urls.server)}'] }]`,
    '  - job_name: bt-ps-tracker',
    `    static_configs: [{ targets: ['${target(urls.tracker)}'] }]`,
    '  - job_name: bt-ps-clients',
    `    static_configs: [{ targets: [${['client-1', 'client-2', 'client-3'].map(id => `'${target(urls[id])}'`).join(', ')}] }]`,
    ''
  ].join('\n'))
  const prom = spawn('prometheus', [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`], { stdio: ['ignore', 'ignore', 'pipe'] })
  let log = ''
  prom.stderr.on('data', (b: Buffer) => { log = (log + b.toString()).slice(-4000) })
  const query = async (q: string): Promise<Vector[]> => {
    const res = await fetch(`http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(q)}`)
    const body = await res.json() as { status: string, data: { result: Vector[] } }
    assert.is(body.status, 'success', q)
    return body.data.result
  }
  let failed = true
  try {
    await until('every target up', async () => {
      const up = await query('up').catch(() => [])
      return up.length === 5 && up.every(v => v.value[1] === '1') ? up : undefined
    }, 60_000)
    await cluster.admin.startRounds(2)
    await until('2 rounds done', async () => (await cluster.admin.status()).results.length >= 2 ? true : undefined, 180_000)
    // Prometheus has the series once it has scraped after the second round.
    const rounds = await until('rounds in Prometheus', async () => {
      const v = await query('btps_round_finished_total{status="aggregated"}')
      return v[0]?.value[1] === '2' ? v : undefined
    }, 30_000)
    const shown: Record<string, Vector[]> = { 'btps_round_finished_total{status="aggregated"}': rounds }
    const ask = async (q: string): Promise<Vector[]> => { shown[q] = await query(q); return shown[q] }
    const accepted = await ask('sum(btps_update_accepted_total{upload="swarm"})')
    assert.is(accepted[0]?.value[1], '6', 'three contributions in each of two rounds')
    const pieces = await ask('sum by (role) (btps_swarm_pieces_total)')
    assert.ok(pieces.some(v => v.metric.role === 'client' && Number(v.value[1]) > 0), 'clients verified pieces')
    const phases = await ask('btps_round_phase_seconds_count{phase="round"}')
    assert.is(phases[0]?.value[1], '2')
    const online = await ask('btps_clients_online')
    assert.is(online[0]?.value[1], '3')
    const announces = await ask('btps_tracker_announces_total{result="answered"}')
    assert.ok(Number(announces[0]?.value[1]) > 0, 'the tracker answered announces')
    const rss = await ask('btps_process_resident_memory_bytes')
    assert.equal(rss.map(v => v.metric.role).sort(), ['client', 'client', 'client', 'server', 'tracker'])
    await ask('sum by (role, direction) (btps_swarm_bytes_total)')
    await ask('btps_client_rounds_total{outcome="accepted"}')
    for (const [q, v] of Object.entries(shown)) console.log(`prometheus: ${q} => ${v.map(x => `${JSON.stringify(x.metric)} ${x.value[1]}`).join('; ')}`)
    failed = false
  } finally {
    prom.kill('SIGTERM')
    await new Promise(resolve => { if (prom.exitCode != null) resolve(null); else prom.once('exit', resolve) })
    if (failed) console.error(`--- prometheus\n${log}`)
    await close(failed)
  }
})

test.run()
