import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { rssMb } from '../../src/bench/rss.js'
import { stopRole } from '../../src/cli/child-process.js'
import { startCluster, startFaultPeer, until } from '../e2e/cluster.js'

/**
 * 3 honest clients and one that starts its upload first and then stalls (or vanishes); 4 selected, K = 3 (or 2 in
 * swarm rounds, where the staller takes one of the K places). The round must finish on time with honest updates.
 */
async function stalledRound (upload: 'direct' | 'swarm', pace: 'silence' | 'trickle' | 'vanish'): Promise<void> {
  const job = `stall-${upload}-${pace}`
  const k = upload === 'swarm' ? 2 : 3
  const [cluster, close] = await startCluster({ clients: 3, jobClients: 4, jobFlags: ['--job', job, '--upload', upload, '--k', String(k), '--over-commitment', String(4 / k), '--round-timeout', '60', '--server.selection_wait_s', '2', '--server.upload_stall_s', '3'] })
  const staller = startFaultPeer(cluster, 'staller', 'stalling-contributor.ts', ['--job', job, '--id', 'staller', '--pace', pace])
  let failed = true
  try {
    await staller.ready
    await cluster.admin.startRounds(1)
    const started = await staller.event('stalling')
    assert.ok(started.admitted, `the staller's upload was taken first: ${String(started.reason)}`)
    const r = await until('round 1 done', async () => (await cluster.admin.status()).results.find(x => x.round === 1), 60_000)
    assert.is(r.status, 'aggregated', r.reason)
    assert.ok(r.selected.includes('staller'))
    assert.not.ok(r.accepted.includes('staller'), 'the stalled update is not in the aggregate')
    assert.ok(r.accepted.length >= (upload === 'swarm' ? 1 : 3), `aggregated ${r.accepted.join(',')}`)
    assert.ok(r.roundS < 50, `round took ${r.roundS.toFixed(1)} s of its 60 s`)
    assert.ok((r.testAcc1 ?? 0) > 0.5)
    if (upload === 'swarm') assert.ok(r.dropped?.some(d => d.startsWith('staller (missing')), `dropped: ${String(r.dropped)}`)
    if (upload === 'swarm') assert.ok(((await cluster.metrics('server')).value('btps_upload_contributors_dropped_total', { reason: 'missing' }) ?? 0) >= 1, 'the staller dropped, the round committed again without it')
    console.log(`${upload} upload, ${pace} sender: round 1 aggregated ${r.accepted.join(',')} in ${r.roundS.toFixed(1)} s${r.dropped != null ? `; dropped ${r.dropped.join('; ')}` : ''}`)
    failed = false
  } finally {
    await stopRole(staller)
    await close(failed)
  }
}

test('direct upload: an update that trickles at 1 byte/s holds one reader, not the round', async () => { await stalledRound('direct', 'trickle') })
test('swarm upload: a contributor whose shards stop after their headers is dropped and the round committed again without it', async () => { await stalledRound('swarm', 'silence') })
test('swarm upload: a contributor that dies after it was admitted is dropped; never a mixed aggregate, never a hang', async () => { await stalledRound('swarm', 'vanish') })

test('direct upload, 10 rounds with a sender at 1 byte/s in each: every round aggregates the honest updates on time, server memory stays flat', async () => {
  const job = 'stall-ten'
  const [cluster, close] = await startCluster({ clients: 3, jobClients: 4, jobFlags: ['--job', job, '--upload', 'direct', '--k', '3', '--over-commitment', String(4 / 3), '--round-timeout', '60', '--server.selection_wait_s', '2', '--server.upload_stall_s', '3'] })
  const staller = startFaultPeer(cluster, 'staller', 'stalling-contributor.ts', ['--job', job, '--id', 'staller', '--pace', 'trickle'])
  let failed = true
  try {
    await staller.ready
    await cluster.admin.startRounds(10)
    const rss: number[] = []
    const times: number[] = []
    for (let round = 1; round <= 10; round++) {
      const r = await until(`round ${round} done`, async () => (await cluster.admin.status()).results.find(x => x.round === round), 60_000)
      rss.push(rssMb(cluster.server.child.pid))
      times.push(r.roundS)
      assert.is(r.status, 'aggregated', `round ${round}: ${r.reason}`)
      assert.ok(r.selected.includes('staller'), `round ${round} selected the staller`)
      assert.equal([...r.accepted].sort(), ['client-1', 'client-2', 'client-3'], `round ${round} aggregated the honest updates`)
    }
    const stalled = readFileSync(join(cluster.dir, 'staller.log'), 'utf8').match(/"event":"stalling"/g)?.length ?? 0
    assert.ok(stalled >= 8, `the staller stalled ${stalled} of 10 rounds`)
    console.log(`10 rounds with a 1 byte/s sender (stalling in ${stalled}): round times ${times.map(t => t.toFixed(1)).join('/')} s; server RSS ${rss.map(m => m.toFixed(0)).join('/')} MiB`)
    assert.ok(Math.max(...times) < 20, 'no round waited for the trickle')
    // From round 3 on (after the evaluator and the first aggregates have warmed up), memory does not climb.
    assert.ok(Math.max(...rss.slice(2)) - rss[2] < 40, `server RSS ${rss.map(m => m.toFixed(0)).join('/')} MiB`)
    failed = false
  } finally {
    await stopRole(staller)
    await close(failed)
  }
})

test.run()
