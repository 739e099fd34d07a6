import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { join } from 'node:path'
import * as tf from '@tensorflow/tfjs'
import { startCluster, until } from './cluster.js'
import { followRounds } from '../../src/cli/progress.js'
import { CheckpointStore } from '../../src/server/checkpoint.js'
import { buildModel, readWeights } from '../../src/model/architectures.js'

// ~3.3 MB model in 50 pieces: fc1 (3.2 MB) is frozen, only fc2 (41 kB) and the header change from round to round.
const HIDDEN = 1024
const N = 3
const ROUNDS = 3

test('fine-tuning with frozen layers: from round 2 on, clients download only the pieces that changed', async () => {
  const [cluster, close] = await startCluster({ clients: N, jobFlags: ['--hidden-units', String(HIDDEN), '--job.frozen_layers', '1', '--server.upload_limit_mbit', '16', '--round-timeout', '120'] })
  let ok = false
  try {
    await until(`${N} clients online`, async () => (await cluster.admin.status()).clients.filter(c => c.online).length === N ? true : undefined)
    await cluster.admin.startRounds(ROUNDS)
    const results = await followRounds(cluster.admin, 1, ROUNDS, () => {})
    console.log(results.map(r => `  round ${r.round}: acc ${r.testAcc1?.toFixed(4)}, server egress ${(r.serverEgressBytes / r.modelBytes).toFixed(3)} F, clients reused ${((r.reusedBytes ?? 0) / 1e6).toFixed(2)} MB of ${(N * r.modelBytes / 1e6).toFixed(2)} MB`).join('\n'))
    const [first, ...later] = results
    assert.is(first.status, 'aggregated')
    assert.is(first.reusedBytes, undefined, 'round 1: nothing held yet')
    assert.ok(first.serverEgressBytes >= first.modelBytes, 'round 1: the whole model leaves the server')
    for (const r of later) {
      assert.is(r.status, 'aggregated')
      assert.is(r.accepted.length, N)
      // Each client held all but the header's piece and the last piece (fc1's tail and fc2) from the round before.
      assert.ok((r.reusedBytes ?? 0) >= 0.95 * N * r.modelBytes, `round ${r.round}: clients reused ${r.reusedBytes} of ${N * r.modelBytes} bytes`)
      // The server sends at most what the clients still lacked (with 2 changed pieces and 3 clients it may hand both to
      // each, since no other piece is left to show): never more than a tenth of the model or so.
      const lacked = N * r.modelBytes - (r.reusedBytes ?? 0)
      assert.ok(r.serverEgressBytes <= 1.1 * lacked && r.serverEgressBytes < 0.15 * r.modelBytes, `round ${r.round}: server sent ${r.serverEgressBytes} bytes of a ${r.modelBytes}-byte model; clients lacked ${lacked}`)
    }
    assert.ok((results[ROUNDS - 1].testAcc1 ?? 0) > (first.testAcc1 ?? 1), `accuracy rises with only fc2 trained: ${first.testAcc1} -> ${results[ROUNDS - 1].testAcc1}`)
    // The frozen tensors leave aggregation bit for bit as they were initialised.
    const checkpoint = new CheckpointStore(join(cluster.dir, 'checkpoints'), 'mnist').load()
    await tf.setBackend('cpu')
    const initial = await readWeights(buildModel(tf, 'mlp', 1, { hiddenUnits: HIDDEN }))
    for (const t of initial) {
      const saved = checkpoint?.tensors.find(c => c.name === t.name)
      const same = saved != null && Buffer.from(saved.data.buffer, saved.data.byteOffset, saved.data.byteLength).equals(Buffer.from(t.data.buffer))
      assert.is(same, t.name.startsWith('fc1/'), `${t.name}: ${t.name.startsWith('fc1/') ? 'frozen, unchanged' : 'trained, changed'}`)
    }
    ok = true
  } finally {
    await close(!ok)
  }
})

test.run()
