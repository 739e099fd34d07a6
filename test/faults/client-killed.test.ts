import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { startCluster, until } from '../e2e/cluster.js'

test('clients killed mid-download and mid-training: the round ends with the others, they are left out until they return', async () => {
  // The server's upload is capped so a round's download lasts long enough to kill a client inside it.
  const [cluster, close] = await startCluster({ clients: 5, jobFlags: ['--job', 'dead', '--hidden-units', '512', '--k', '3', '--over-commitment', '1.67', '--local-epochs', '2', '--round-timeout', '90', '--server.upload_limit_mbit', '6', '--server.selection_wait_s', '2'] })
  let failed = true
  try {
    const byId = new Map(cluster.processes.filter(p => p.name.startsWith('client-')).map(p => [p.name, p]))
    const { first } = await cluster.admin.startRounds(1)
    assert.is(first, 1)
    const t0 = Date.now()
    const downloading = await until('a client downloading round 1', async () => {
      const s = await cluster.admin.status()
      return s.current?.round === 1 ? s.clients.find(c => c.state === 'downloading')?.clientId : undefined
    }, 30_000)
    byId.get(downloading)?.child.kill('SIGKILL')
    const training = await until('another client training round 1', async () => {
      const s = await cluster.admin.status()
      return s.clients.find(c => c.state === 'training' && c.clientId !== downloading)?.clientId
    }, 60_000)
    byId.get(training)?.child.kill('SIGKILL')
    const dead = [downloading, training]

    const r1 = await until('round 1 done', async () => (await cluster.admin.status()).results.find(r => r.round === 1), 90_000)
    assert.is(r1.status, 'aggregated')
    assert.is(r1.accepted.length, 3)
    assert.ok(r1.accepted.every(id => !dead.includes(id)), `accepted ${r1.accepted.join(',')} includes a dead client`)
    assert.ok((r1.finishedAt - r1.announcedAt) / 1000 < 90, 'before the deadline')
    const r1S = (Date.now() - t0) / 1000

    await until('the dead clients offline', async () => {
      const s = await cluster.admin.status()
      return s.clients.filter(c => dead.includes(c.clientId)).every(c => !c.online) ? true : undefined
    }, 30_000)
    await cluster.admin.startRounds(1)
    const r2 = await until('round 2 done', async () => (await cluster.admin.status()).results.find(r => r.round === 2), 90_000)
    assert.is(r2.selected.length, 3, 'only the live clients are selected')
    assert.ok(r2.selected.every(id => !dead.includes(id)))
    assert.is(r2.status, 'aggregated')

    const back = await cluster.startClient(downloading)
    assert.ok(back.child.pid != null)
    await until('the restarted client online again', async () => (await cluster.admin.status()).clients.find(c => c.clientId === downloading && c.online) != null ? true : undefined, 30_000)
    await cluster.admin.startRounds(1)
    const r3 = await until('round 3 done', async () => (await cluster.admin.status()).results.find(r => r.round === 3), 90_000)
    assert.ok(r3.selected.includes(downloading), `round 3 selected ${r3.selected.join(',')}`)
    assert.not.ok(r3.selected.includes(training), 'the client still dead is not selected')
    assert.is(r3.status, 'aggregated')
    console.log(`client kills: round 1 done ${r1S.toFixed(1)} s after it started with ${r1.accepted.length} of 5 (2 killed); round 2 selected ${r2.selected.length}; the restarted client was selected in round 3`)
    failed = false
  } finally {
    await close(failed)
  }
})

test.run()
