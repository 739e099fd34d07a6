import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { startCluster, until } from '../e2e/cluster.js'

test('with the tracker dead clients still get the model from the server; when it returns swarms form again', async () => {
  const [cluster, close] = await startCluster({ clients: 3, jobFlags: ['--job', 'notracker', '--hidden-units', '512', '--local-epochs', '1', '--round-timeout', '60'] })
  let failed = true
  try {
    await cluster.admin.startRounds(1)
    const r1 = await until('round 1 with the tracker', async () => (await cluster.admin.status()).results.find(r => r.round === 1), 60_000)
    assert.ok(r1.peerBytes > 0, 'with a tracker clients pass pieces to each other')

    cluster.tracker.child.kill('SIGKILL')
    await cluster.tracker.exited
    const killedAt = Date.now()
    await cluster.admin.startRounds(1)
    const r2 = await until('round 2 without a tracker', async () => (await cluster.admin.status()).results.find(r => r.round === 2), 60_000)
    const withoutS = (Date.now() - killedAt) / 1000
    assert.is(r2.status, 'aggregated')
    assert.is(r2.accepted.length, 3)
    // Bounded: the distribution took seconds, not the round deadline.
    assert.ok(r2.distributionS < 20, `distribution took ${r2.distributionS} s`)
    assert.ok(r2.serverEgressBytes >= 2.9 * r2.modelBytes, 'without a tracker every client got the model from the server')

    await cluster.restartTracker()
    await cluster.admin.startRounds(1)
    const r3 = await until('round 3 with the tracker back', async () => (await cluster.admin.status()).results.find(r => r.round === 3), 60_000)
    assert.is(r3.accepted.length, 3)
    assert.ok(r3.peerBytes > 0, 'clients exchange pieces again once the tracker is back')
    console.log(`tracker down: round 2 distributed in ${r2.distributionS.toFixed(2)} s straight from the server (${(r2.serverEgressBytes / r2.modelBytes).toFixed(2)} F), done ${withoutS.toFixed(1)} s after the kill; tracker back: round 3 ${((r3.peerBytes / (3 * r3.modelBytes)) * 100).toFixed(0)}% from peers`)
    failed = false
  } finally {
    await close(failed)
  }
})

test.run()
