import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { startCluster, until } from '../e2e/cluster.js'

/**
 * Swarm upload with 4 clients selected and K = 3: one of them is killed (or stopped) while it trains, so it
 * contributes nothing but still owns a shard. That shard must come straight from the 3 contributors.
 */
async function ownerDown (how: 'SIGKILL' | 'SIGSTOP'): Promise<void> {
  const [cluster, close] = await startCluster({ clients: 4, jobFlags: ['--job', `owner-${how.toLowerCase()}`, '--upload', 'swarm', '--hidden-units', '512', '--k', '3', '--over-commitment', '1.34', '--local-epochs', '2', '--round-timeout', '90', '--server.selection_wait_s', '2', '--server.upload_stall_s', '3'] })
  let failed = true
  const byId = new Map(cluster.processes.filter(p => p.name.startsWith('client-')).map(p => [p.name, p]))
  let victim: string | undefined
  try {
    await cluster.admin.startRounds(1)
    victim = await until('a client training round 1', async () => (await cluster.admin.status()).clients.find(c => c.state === 'training')?.clientId, 60_000)
    const downAt = Date.now()
    byId.get(victim)?.child.kill(how)
    const r = await until('round 1 done', async () => (await cluster.admin.status()).results.find(x => x.round === 1), 90_000)
    assert.is(r.status, 'aggregated', r.reason)
    assert.is(r.selected.length, 4)
    assert.equal([...r.accepted].sort(), [...r.selected].filter(id => id !== victim).sort(), 'the same contributors: the three live clients')
    assert.ok((r.finishedAt - r.announcedAt) / 1000 < 90, 'before the deadline')
    const ingressF = r.serverIngressBytes / r.modelBytes
    // The dead owner's shard came from the 3 contributors (3/4 F more); at most every shard could have (3 F).
    assert.ok(ingressF > 1.2 && ingressF <= 3.01, `ingress ${ingressF.toFixed(2)} F`)
    const m = await cluster.metrics('server')
    assert.ok((m.value('btps_upload_owner_fallbacks_total') ?? 0) >= 1, 'the dead owner\'s shard came from the contributors')
    assert.is(m.value('btps_upload_contributors_dropped_total'), 0, 'no contributor was lost')
    console.log(`owner ${how === 'SIGKILL' ? 'killed' : 'stopped'} while training: round 1 aggregated ${r.accepted.join(',')} ${((r.finishedAt - downAt) / 1000).toFixed(1)} s after, ingress ${ingressF.toFixed(2)} F, accuracy ${(r.testAcc1 ?? 0).toFixed(3)}`)
    failed = false
  } finally {
    if (how === 'SIGSTOP' && victim != null) byId.get(victim)?.child.kill('SIGCONT')
    await close(failed)
  }
}

test('swarm upload: a shard owner killed mid-round; its shard is fetched from the contributors, same contributors', async () => { await ownerDown('SIGKILL') })
test('swarm upload: a shard owner stalled (SIGSTOP) mid-round; the round completes by its deadline without it', async () => { await ownerDown('SIGSTOP') })

test.run()
