import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { spawn, spawnSync } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { appendFileSync, chmodSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startRole, stopRole } from '../../src/cli/child-process.js'
import type { RoleProcess } from '../../src/cli/child-process.js'
import { AdminClient, readTokenFile } from '../../src/cli/admin-client.js'
import { magnetInfoHash } from '../../src/swarm/metainfo.js'
import { freePort, until } from './cluster.js'

const installed = spawnSync('opentracker', ['-h'], { stdio: 'ignore' }).error == null
if (!installed) console.log('SKIP opentracker: it is not installed (scripts/install-system-deps.sh installs Debian\'s opentracker)')
const maybe = installed ? test : test.skip

// Debian builds opentracker in whitelist mode: it tracks only the infohashes listed in its whitelist file, which it
// reads again on SIGHUP. The test lists each round's torrent as the server announces it, as an operator would.
maybe('bt-ps clients share a round\'s model through Debian\'s opentracker instead of bt-ps\'s tracker', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'btps-opentracker-'))
  // opentracker drops root for "nobody" and chroots to `-d`: the folder and its whitelist must be readable to it.
  chmodSync(dir, 0o755)
  const whitelist = join(dir, 'whitelist.txt')
  writeFileSync(whitelist, '')
  chmodSync(whitelist, 0o644)
  const port = await freePort()
  const processes: RoleProcess[] = []
  let opentracker: ChildProcess | undefined
  let ok = false
  try {
    opentracker = spawn('opentracker', ['-i', '127.0.0.1', '-p', String(port), '-P', String(port), '-d', dir, '-w', 'whitelist.txt'], { stdio: ['ignore', 'ignore', 'pipe'] })
    let trackerOutput = ''
    opentracker.stderr?.on('data', (d: Buffer) => { trackerOutput += d.toString() })
    await until('opentracker answering', async () => {
      const res = await fetch(`http://127.0.0.1:${port}/stats`).catch(() => undefined)
      return res != null ? true : undefined
    }, 10_000).catch(() => { throw new Error(`opentracker did not start: ${trackerOutput}`) })
    const tracker = `udp://127.0.0.1:${port}`
    // An open job: no pre-shared key, so nothing needs registering with a bt-ps tracker.
    // The server's upload is capped so that clients need each other: the star would take 3 × 8 MiB at 2 MB/s.
    const job = ['--job.task', 'distribute', '--job.model_mb', '8', '--transfer', 'bt', '--clients', '3', '--round-timeout', '120', '--log-level', 'info', '--tracker', tracker, '--server.upload_limit_mbit', '16']
    const server = startRole('server', ['server', ...job, '--p2p-port', String(await freePort()), '--admin-port', String(await freePort()), '--runs-dir', join(dir, 'runs'), '--checkpoint-dir', join(dir, 'checkpoints')], join(dir, 'server.log'))
    processes.push(server)
    const s = await server.ready
    for (let i = 1; i <= 3; i++) {
      processes.push(startRole(`client-${i}`, ['client', ...job, '--server', (s.addrs as string[])[0], '--id', `client-${i}`], join(dir, `client-${i}.log`)))
    }
    await Promise.all(processes.map(async p => await p.ready))
    const admin = new AdminClient(String(s.admin), readTokenFile(String(s.adminTokenFile)))
    await until('3 clients online', async () => (await admin.status()).clients.filter(c => c.online).length === 3 ? true : undefined)
    for (let round = 1; round <= 2; round++) {
      await admin.startRounds(1)
      const magnet = await until(`round ${round} announced`, async () => { const c = (await admin.status()).current; return c?.round === round ? c.magnet : undefined })
      appendFileSync(whitelist, `${magnetInfoHash(magnet)}\n`)
      opentracker.kill('SIGHUP')
      const result = await until(`round ${round} finished`, async () => (await admin.status()).results.find(r => r.round === round), 120_000)
      console.log(`opentracker round ${round}: ${result.status}, ${result.completionS.length} clients held the model, ${(result.peerShare * 100).toFixed(0)}% of model bytes from peers, ${result.distributionS.toFixed(2)} s`)
      assert.is(result.status, 'distributed')
      assert.is(result.completionS.length, 3, 'every client held the verified model')
      assert.ok(result.peerShare > 0, 'clients found each other through opentracker and passed pieces on')
    }
    ok = true
  } finally {
    for (const p of processes.reverse()) await stopRole(p)
    opentracker?.kill('SIGTERM')
    if (!ok || process.env.BTPS_KEEP_TEST_DIRS === '1') {
      for (const f of readdirSync(dir).filter(n => n.endsWith('.log'))) console.error(`--- ${f}\n${readFileSync(join(dir, f), 'utf8').split('\n').slice(-15).join('\n')}`)
    } else rmSync(dir, { recursive: true, force: true })
  }
})

test.run()
