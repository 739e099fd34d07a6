import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { spawn, spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort, startCluster, until } from './cluster.js'
import { parseModel } from '../../src/model/serialize.js'

const aria2 = spawnSync('aria2c', ['--version']).status === 0
if (!aria2) console.log('SKIP BitTorrent interop: aria2c is not installed (scripts/install-system-deps.sh installs Debian\'s aria2)')

// One client training many local epochs keeps round 1 open while aria2c joins its swarm.
const maybe = aria2 ? test : test.skip

maybe('a standard BitTorrent client (aria2c) downloads a round\'s model from the swarm, bytes identical', async () => {
  const [cluster, close] = await startCluster({ clients: 1, jobFlags: ['--local-epochs', '60', '--round-timeout', '300'] })
  const out = mkdtempSync(join(tmpdir(), 'btps-aria2-'))
  let ok = false
  try {
    await until('client online', async () => (await cluster.admin.status()).clients.some(c => c.online) ? true : undefined)
    await cluster.admin.startRounds(1)
    const current = await until('round 1 magnet', async () => { const c = (await cluster.admin.status()).current; return c?.magnet != null ? c : undefined })
    assert.match(current.magnet ?? '', /tr=udp%3A%2F%2F127\.0\.0\.1/)
    const child = spawn('aria2c', ['--dir', out, '--seed-time=0', '--enable-dht=false', '--enable-dht6=false', '--bt-enable-lpd=false',
      // aria2 speaks UDP trackers only with its DHT on; it is given the same tracker's HTTP announce URL instead.
      `--bt-tracker=${cluster.trackerHttp}`, '--bt-exclude-tracker=*', '--bt-stop-timeout=60', '--summary-interval=0', '--console-log-level=warn', `--listen-port=${await freePort()}`, current.magnet ?? ''], { stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (d: Buffer) => { output += d.toString() })
    child.stderr.on('data', (d: Buffer) => { output += d.toString() })
    const code = await new Promise<number | null>(resolve => { child.on('exit', resolve) })
    assert.is(code, 0, `aria2c exit ${String(code)}: ${output.slice(-500)}`)
    const files = readdirSync(out).filter(f => f.endsWith('.btps'))
    assert.equal(files, ['mnist-round-1.btps'])
    const bytes = readFileSync(join(out, files[0]))
    assert.is(createHash('sha256').update(bytes).digest('hex'), current.sha256, 'same bytes the server announced')
    const model = parseModel(bytes)
    assert.is(model.header.round, 1)
    assert.equal(model.tensors.map(t => t.name), ['fc1/kernel', 'fc1/bias', 'fc2/kernel', 'fc2/bias'])
    ok = true
  } finally {
    rmSync(out, { recursive: true, force: true })
    await close(!ok)
  }
})

test.run()
