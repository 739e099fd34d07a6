import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { join } from 'node:path'
import { CheckpointStore } from '../../src/server/checkpoint.js'
import { flatten } from '../../src/aggregation/shards.js'
import { startCluster, until } from './cluster.js'

test('job.upload: swarm trains like direct while the server receives about one model per round', async () => {
  // 4 selected (K = 3, over-commitment 1.34): each owns a shard, the first 3 updates are committed.
  const [cluster, close] = await startCluster({ clients: 4, jobFlags: ['--job', 'swarmup', '--upload', 'swarm', '--k', '3', '--over-commitment', '1.34', '--local-epochs', '2', '--round-timeout', '90', '--server.selection_wait_s', '2'] })
  let failed = true
  try {
    await cluster.admin.startRounds(2)
    const results = await until('2 rounds done', async () => { const r = (await cluster.admin.status()).results; return r.length >= 2 ? r : undefined }, 150_000)
    for (const r of results) {
      assert.is(r.upload, 'swarm')
      assert.is(r.status, 'aggregated', r.reason)
      assert.is(r.accepted.length, 3)
      assert.is(r.selected.length, 4)
      const ingressF = r.serverIngressBytes / r.modelBytes
      assert.ok(ingressF > 0.9 && ingressF <= 1.2, `round ${r.round}: server ingress ${ingressF.toFixed(2)} F (direct would be 3 F)`)
      assert.ok((r.uploadS ?? -1) >= 0, 'the upload phase is measured')
      assert.ok((r.testAcc1 ?? 0) > 0.6, `round ${r.round} accuracy ${String(r.testAcc1)}`)
    }
    assert.ok((results[1].testAcc1 ?? 0) >= (results[0].testAcc1 ?? 0) - 0.02, 'accuracy does not fall')
    console.log(`swarm upload: ${results.map(r => `round ${r.round} acc ${(r.testAcc1 ?? 0).toFixed(3)}, ingress ${(r.serverIngressBytes / r.modelBytes).toFixed(2)} F, upload ${(r.uploadS ?? 0).toFixed(2)} s`).join('; ')}`)
    failed = false
  } finally {
    await close(failed)
  }
})

/** One distribution round whose 3 clients all send the same seeded synthetic updates; returns the aggregate. */
async function aggregateOf (upload: 'direct' | 'swarm'): Promise<{ values: Float32Array, ingressF: number }> {
  const job = `exact-${upload}`
  const [cluster, close] = await startCluster({ clients: 3, jobFlags: ['--job', job, '--job.task', 'distribute', '--job.model_mb', '0.5', '--job.synthetic_update', 'yes', '--upload', upload, '--round-timeout', '60'] })
  let failed = true
  try {
    await cluster.admin.startRounds(1)
    const r = await until('round 1 done', async () => (await cluster.admin.status()).results.find(x => x.round === 1), 60_000)
    assert.is(r.status, 'aggregated', r.reason)
    assert.is(r.accepted.length, 3)
    const cp = new CheckpointStore(join(cluster.dir, 'checkpoints'), job).load()
    assert.is(cp?.round, 1)
    failed = false
    return { values: flatten(cp?.tensors ?? []), ingressF: r.serverIngressBytes / r.modelBytes }
  } finally {
    await close(failed)
  }
}

test('exactness: for the same contributors the swarm aggregate equals the direct one within float32 rounding', async () => {
  const direct = await aggregateOf('direct')
  const swarm = await aggregateOf('swarm')
  assert.is(swarm.values.length, direct.values.length)
  let worst = 0
  for (let i = 0; i < direct.values.length; i++) worst = Math.max(worst, Math.abs(swarm.values[i] - direct.values[i]) / Math.max(Math.abs(direct.values[i]), 1e-30))
  assert.ok(worst <= 1e-6, `max relative difference ${worst}`)
  assert.ok(direct.ingressF > 2.9, `direct ingress ${direct.ingressF.toFixed(2)} F`)
  assert.ok(swarm.ingressF < 1.2, `swarm ingress ${swarm.ingressF.toFixed(2)} F`)
  console.log(`exactness: ${direct.values.length} values, max relative difference ${worst.toExponential(2)}; server ingress direct ${direct.ingressF.toFixed(2)} F, swarm ${swarm.ingressF.toFixed(2)} F`)
})

test.run()
