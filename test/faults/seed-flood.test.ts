import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { startRole, stopRole } from '../../src/cli/child-process.js'
import type { RoleProcess } from '../../src/cli/child-process.js'
import { startCluster, until } from '../e2e/cluster.js'

const from = Array.from({ length: 15 }, (_, i) => `127.0.0.${i + 2}`).join(',')

test('rounds complete while 120 connections from 15 addresses flood the server\'s seed (idle, or interested and never reading)', async () => {
  // A capped server upload keeps each round's download going for a few seconds, so the flood lands in the middle of it.
  const [cluster, close] = await startCluster({ clients: 3, jobFlags: ['--job', 'flood', '--job.task', 'distribute', '--job.model_mb', '8', '--k', '3', '--round-timeout', '60', '--server.upload_limit_mbit', '8', '--client.swarm_fallback_s', '3'] })
  const floods: RoleProcess[] = []
  let failed = true
  try {
    const serverLog = (): string => readFileSync(join(cluster.dir, 'server.log'), 'utf8')
    const bt = /bittorrent=([\d.]+:\d+)/.exec(serverLog())?.[1]
    assert.ok(bt != null, 'the server logs where its BitTorrent listener is')
    for (const [round, interested] of [[1, false], [2, true]] as const) {
      await cluster.admin.startRounds(1)
      const infoHash = await until(`round ${round} announced`, async () => new RegExp(`round announced .*round=${round} .*infoHash=([0-9a-f]{40})`).exec(serverLog())?.[1])
      const flood = startRole(`flood-${round}`, ['--mode', 'idle', '--target', bt, '--info-hash', infoHash, '--connections', '120', '--from', from, ...(interested ? ['--interested'] : [])], join(cluster.dir, `flood-${round}.log`),
        { script: join(process.cwd(), 'test', 'support', 'hostile-bt-peer.ts'), env: { ...process.env, NODE_OPTIONS: '--import tsx' } })
      floods.push(flood)
      const ready = await flood.ready
      const r = await until(`round ${round} done`, async () => (await cluster.admin.status()).results.find(x => x.round === round), 60_000)
      const fellBack = ['client-1', 'client-2', 'client-3'].filter(id => /fetching the model from the server directly/.test(readFileSync(join(cluster.dir, `${id}.log`), 'utf8').split('\n').filter(l => l.includes(`round=${round}`)).join('\n')))
      console.log(`round ${round} (${interested ? 'interested' : 'idle'} flood, ${String(ready.open)} connections in): ${r.status} in ${r.roundS.toFixed(1)} s, server sent ${(r.serverEgressBytes / 1e6).toFixed(1)} MB; fell back to the direct stream: ${fellBack.join(',') || 'none'}`)
      assert.is(r.status, 'distributed', r.reason)
      assert.equal([...r.accepted].sort(), ['client-1', 'client-2', 'client-3'], 'every client holds the model')
      assert.ok(r.roundS < 30, `round ${round} took ${r.roundS.toFixed(1)} s`)
      await stopRole(flood)
    }
    failed = false
  } finally {
    for (const f of floods) await stopRole(f)
    await close(failed)
  }
})

test.run()
