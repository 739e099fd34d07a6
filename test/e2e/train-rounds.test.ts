import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { join } from 'node:path'
import { startCluster, until } from './cluster.js'
import { spawnSync } from 'node:child_process'
import { followRounds } from '../../src/cli/progress.js'
import { BT_PS_BIN } from '../../src/cli/child-process.js'
import { readScalars } from '../../src/metrics/event-writer.js'
import { CheckpointStore } from '../../src/server/checkpoint.js'
import type { RoundResult } from '../../src/server/round-result.js'

// ~3.3 MB model (50 pieces); the server's upload is capped at 16 Mbit/s in both modes, as a cluster link would be.
const JOB = ['--hidden-units', '1024', '--server.upload_limit_mbit', '16', '--round-timeout', '120']
const N = 3

async function runTwoRounds (transfer: 'bt' | 'ps'): Promise<{ results: RoundResult[], runDir: string, dir: string }> {
  const [cluster, close] = await startCluster({ clients: N, jobFlags: [...JOB, '--transfer', transfer] })
  let ok = false
  try {
    await until('3 clients online', async () => (await cluster.admin.status()).clients.filter(c => c.online).length === N ? true : undefined)
    // Rounds are triggered the way an operator does it: `bt-ps round --wait` against the admin API.
    const cli = spawnSync(process.execPath, [BT_PS_BIN, 'round', '--server', cluster.admin.base, '--token-file', cluster.adminTokenFile, '--rounds', '2', '--wait'], { encoding: 'utf8', timeout: 240_000 })
    assert.is(cli.status, 0, cli.stdout + cli.stderr)
    assert.match(cli.stdout, /queued rounds 1\.\.2/)
    assert.match(cli.stdout, /round 2\/2 done: acc/)
    assert.match(cli.stdout, new RegExp(`\\n\\s+2\\s+${transfer}\\s+swarm\\s+3/3`))
    const results = await followRounds(cluster.admin, 1, 2, () => {})
    const status = spawnSync(process.execPath, [BT_PS_BIN, 'status', '--server', cluster.admin.base, '--token-file', cluster.adminTokenFile], { encoding: 'utf8' })
    assert.is(status.status, 0)
    assert.match(status.stdout, /job mnist: model mlp, dataset mnist, selection random, transfer /)
    assert.match(status.stdout, /clients \(3 online\)/)
    assert.match(status.stdout, /client-3\s+\d\s+yes\s+idle/)
    const events = readScalars(cluster.runDir)
    assert.equal(events.filter(e => e.tag === 'test_acc_1').map(e => e.step), [1, 2], 'TensorBoard has test_acc_1 for both rounds')
    for (const tag of ['test_acc_5', 'test_loss', 'distribution', 'calculation', 'aggregation', 'epoch_time', 'network_bytes_sent (GB)', 'network_bytes_recv (GB)']) {
      assert.ok(events.some(e => e.tag === tag), `scalar ${tag} written`)
    }
    const checkpoint = new CheckpointStore(join(cluster.dir, 'checkpoints'), 'mnist').load()
    assert.is(checkpoint?.round, 2, 'checkpoint after the last round')
    ok = true
    return { results, runDir: cluster.runDir, dir: cluster.dir }
  } finally {
    await close(!ok)
  }
}

test('bt: tracker + server + 3 clients train 2 rounds; accuracy rises; clients serve each other pieces', async () => {
  const { results } = await runTwoRounds('bt')
  const [r1, r2] = results
  console.log(results.map(r => `  bt round ${r.round}: acc ${r.testAcc1?.toFixed(4)} egress ${(r.serverEgressBytes / r.modelBytes).toFixed(2)} F, from peers ${(r.peerShare * 100).toFixed(1)}%, distribution ${r.distributionS.toFixed(2)} s`).join('\n'))
  for (const r of results) {
    assert.is(r.status, 'aggregated')
    assert.is(r.accepted.length, N)
    assert.ok(r.serverEgressBytes < N * r.modelBytes, `round ${r.round}: server sent ${r.serverEgressBytes} bytes, N·F = ${N * r.modelBytes}`)
    assert.ok(r.peerShare > 0, `round ${r.round}: clients got pieces from each other`)
  }
  assert.ok((r1.testAcc1 ?? 0) > 0.5, `round 1 accuracy ${r1.testAcc1}`)
  assert.ok((r2.testAcc1 ?? 0) > (r1.testAcc1 ?? 1), `accuracy rises: ${r1.testAcc1} -> ${r2.testAcc1}`)
  assert.ok((r2.testLoss ?? 9) < (r1.testLoss ?? 0), `loss falls: ${r1.testLoss} -> ${r2.testLoss}`)
})

test('ps: the same job with the server streaming the model to each client; egress is N·F', async () => {
  const { results } = await runTwoRounds('ps')
  const [r1, r2] = results
  console.log(results.map(r => `  ps round ${r.round}: acc ${r.testAcc1?.toFixed(4)} egress ${(r.serverEgressBytes / r.modelBytes).toFixed(2)} F, distribution ${r.distributionS.toFixed(2)} s`).join('\n'))
  for (const r of results) {
    assert.is(r.transfer, 'ps')
    assert.is(r.accepted.length, N)
    assert.is(r.serverEgressBytes, N * r.modelBytes)
    assert.is(r.peerShare, 0)
  }
  assert.ok((r2.testAcc1 ?? 0) > (r1.testAcc1 ?? 1), `accuracy rises: ${r1.testAcc1} -> ${r2.testAcc1}`)
})

test.run()
