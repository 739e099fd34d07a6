import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { startCluster, until } from './cluster.js'
import { followRounds } from '../../src/cli/progress.js'

// client-1 computes at 6 ms a sample, client-2 is offline from 25 s to 50 s after it starts, client-3 has thin links.
const PROFILES = {
  profiles: [
    { name: 'slow-cpu', compute_ms_per_sample: 6 },
    { name: 'flaky', online: [[0, 25], [50, 100000]] },
    { name: 'thin-link', uplink_kbps: 400, downlink_kbps: 800 }
  ],
  clients: { 'client-1': 'slow-cpu', 'client-2': 'flaky', 'client-3': 'thin-link' }
}

test('device profiles are enforced for real: padded training, capped links, and a client offline on schedule is not selected', async () => {
  // The profile file has to exist before the clients start: its path goes in with the job flags.
  const path = join('/tmp', `btps-profiles-${process.pid}.json`)
  writeFileSync(path, JSON.stringify(PROFILES))
  const [cluster, close] = await startCluster({ clients: 3, jobFlags: ['--job.profiles', path, '--k', '2', '--job.train_samples', '2000', '--round-timeout', '60', '--server.selection_wait_s', '1'] })
  let ok = false
  try {
    await until('3 clients online', async () => (await cluster.admin.status()).clients.filter(c => c.online).length === 3 ? true : undefined)
    await cluster.admin.startRounds(1)
    const [r1] = await followRounds(cluster.admin, 1, 1, () => {})
    assert.is(r1.status, 'aggregated')
    // client-2 goes offline on its schedule; a round now picks among the other two.
    await until('client-2 offline', async () => (await cluster.admin.status()).clients.find(c => c.clientId === 'client-2')?.state === 'offline' ? true : undefined, 40_000)
    await cluster.admin.startRounds(1)
    const [r2] = await followRounds(cluster.admin, 2, 2, () => {})
    assert.is(r2.status, 'aggregated')
    assert.not.ok(r2.selected.includes('client-2'), `round 2 selected ${r2.selected.join(',')} while client-2 was offline`)
    await until('client-2 back online', async () => (await cluster.admin.status()).clients.find(c => c.clientId === 'client-2')?.state === 'idle' ? true : undefined, 40_000)
    const log = (name: string): string => readFileSync(join(cluster.dir, `${name}.log`), 'utf8')
    assert.match(log('client-2'), /device offline \(profile schedule\)[\s\S]*device online \(profile schedule\)/)
    // Training padded to 6 ms a sample (one local epoch over its partition).
    for (const line of log('client-1').split('\n').filter(l => l.includes(' trained '))) {
      const samples = Number(/samples=(\d+)/.exec(line)?.[1])
      const seconds = Number(/ seconds=([\d.]+)/.exec(line)?.[1])
      assert.ok(seconds >= samples * 0.006 - 0.01, `client-1 trained ${samples} samples in ${seconds} s`)
      assert.match(line, /measuredS=/)
    }
    // What client-3 downloaded (pieces it held from the round before are not) came through its 800 kbit/s downlink,
    // less 64 KiB of burst and one socket read (up to 64 KiB) in hand on each of its 3 connections (server, 2 peers).
    const downloads = log('client-3').split('\n').filter(l => l.includes('model received')).map(l => ({
      seconds: Number(/seconds=([\d.]+)/.exec(l)?.[1]),
      bytes: 1e6 * (Number(/fromPeersMB=([\d.]+)/.exec(l)?.[1]) + Number(/fromServerMB=([\d.]+)/.exec(l)?.[1]))
    }))
    assert.ok(downloads.length > 0 && downloads.every(d => d.seconds >= (d.bytes - 4 * 65536 - 10_000) / 100_000), `client-3 downloads: ${downloads.map(d => `${d.bytes} B in ${d.seconds} s`).join(', ')}`)
    console.log(`  profiles: client-3 downloads ${downloads.map(d => `${(d.bytes / 1e3).toFixed(0)} kB in ${d.seconds} s`).join(', ')}; round 2 selected ${r2.selected.join(',')}`)
    ok = true
  } finally {
    await close(!ok)
    rmSync(path, { force: true })
  }
})

test.run()
