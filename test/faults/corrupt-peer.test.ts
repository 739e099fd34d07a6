import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { stopRole } from '../../src/cli/child-process.js'
import { startCluster, startFaultPeer, until } from '../e2e/cluster.js'

test('a peer serving corrupt pieces: they fail verification, are fetched elsewhere, it is banned; every client holds the exact model', async () => {
  // The server's upload is capped so clients want pieces from other peers, the rogue among them.
  const [cluster, close] = await startCluster({ clients: 3, jobFlags: ['--job', 'rogue', '--job.task', 'distribute', '--job.model_mb', '4', '--k', '3', '--round-timeout', '60', '--server.upload_limit_mbit', '16'] })
  const rogue = startFaultPeer(cluster, 'rogue', 'rogue-peer.ts', ['--tracker', cluster.trackerUdp, '--job', 'rogue'])
  let failed = true
  try {
    await rogue.ready
    await cluster.admin.startRounds(1)
    const joined = await rogue.event('joined')
    assert.is(joined.round, 1)
    const r1 = await until('round 1 done', async () => (await cluster.admin.status()).results.find(r => r.round === 1), 60_000)
    await stopRole(rogue)
    const done = await rogue.event('done')
    const scrapes = await Promise.all(['client-1', 'client-2', 'client-3'].map(async id => await cluster.metrics(id)))
    const failures = scrapes.map(m => m.value('btps_swarm_hash_failures_total') ?? -1)
    const bans = scrapes.map(m => m.value('btps_swarm_bans_total') ?? -1)
    console.log(`rogue: ${String(done.connections)} connections, ${String(done.served)} bad blocks sent; hash failures per client ${failures.join('/')}, bans ${bans.join('/')}; round ${r1.roundS.toFixed(2)} s, ${(r1.peerShare * 100).toFixed(0)}% of bytes from peers`)
    assert.ok(Number(done.served) > 0, 'the rogue was asked for pieces')
    assert.ok(failures.some(n => n > 0), 'its pieces failed verification')
    failures.forEach((n, i) => { if (n > 0) assert.ok(bans[i] >= 1, `client-${i + 1} had ${n} bad pieces but banned no one`) })
    // One bad piece bans the rogue (a second may land in the same moment): it is asked for nothing more this round.
    assert.ok(failures.every(n => n <= 2), `hash failures per client ${failures.join('/')}`)
    assert.is(r1.status, 'distributed')
    assert.equal([...r1.accepted].sort(), ['client-1', 'client-2', 'client-3'], 'every client reported the model whose SHA-256 the server announced')
    // Every verified piece is counted once, by who sent it: the server or another peer (the rogue's never verify).
    const pieces = scrapes.map(m => (m.value('btps_swarm_pieces_total', { source: 'server' }) ?? 0) + (m.value('btps_swarm_pieces_total', { source: 'peer' }) ?? 0))
    const server = await cluster.metrics('server')
    assert.ok(pieces.every(n => n > 0 && n === pieces[0]), `pieces verified per client ${pieces.join('/')}`)
    assert.is(server.value('btps_update_accepted_total', { upload: 'receipt' }), 3, 'three receipts admitted')
    assert.is(server.value('btps_round_finished_total', { status: 'distributed' }), 1)
    failed = false
  } finally {
    await stopRole(rogue)
    await close(failed)
  }
})

test.run()
