import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { stopRole } from '../../src/cli/child-process.js'
import { startCluster, startFaultPeer, until } from '../e2e/cluster.js'

const EXPECTED: Record<string, RegExp> = {
  shape: /update\.tensors\[0\]\.shape: \[\d+\], expected \[\d+,\d+\]/,
  dtype: /update\.tensors\[0\]\.dtype: int32, expected float32/,
  // The server's log escapes the quotes.
  names: /update\.tensors\[0\]\.name: \\?"injected\/kernel\\?", expected/,
  nan: /update\.\S+\[0\]: is NaN/,
  inf: /update\.\S+\[0\]: is Infinity/,
  norm: /update: moves the model by [\d.e+]+, more than the bound/,
  honest: /poisoner is excluded after 6 invalid updates/
}

test('direct upload: poisoned updates (shape, dtype, names, NaN, Inf, norm) are rejected with reasons and never aggregated; the sender is excluded', async () => {
  // The rogue takes one of 3 partitions; K=2 honest updates carry each round.
  const [cluster, close] = await startCluster({ clients: 2, jobClients: 3, jobFlags: ['--job', 'poison', '--upload', 'direct', '--k', '2', '--over-commitment', '1.5', '--local-epochs', '2', '--round-timeout', '60', '--server.max_rejected_updates', '6', '--server.selection_wait_s', '2'] })
  const rogue = startFaultPeer(cluster, 'poisoner', 'poisoned-client.ts', ['--job', 'poison', '--id', 'poisoner'])
  let failed = true
  try {
    await rogue.ready
    await cluster.admin.startRounds(2)
    const poisoned = await rogue.event('poisoned')
    assert.is(poisoned.round, 1)
    const sent = new Map((poisoned.sent as Array<{ variant: string, accepted: boolean, reason: string }>).map(s => [s.variant, s]))
    assert.equal([...sent.keys()], Object.keys(EXPECTED))
    for (const [variant, pattern] of Object.entries(EXPECTED)) {
      assert.not.ok(sent.get(variant)?.accepted, `${variant} update accepted`)
      assert.match(sent.get(variant)?.reason ?? '', pattern, `${variant}: ${sent.get(variant)?.reason ?? ''}`)
    }
    const results = await until('2 rounds done', async () => { const r = (await cluster.admin.status()).results; return r.length >= 2 ? r : undefined }, 120_000)
    const [r1, r2] = results
    assert.equal([...r1.accepted].sort(), ['client-1', 'client-2'], 'only honest updates were aggregated')
    assert.ok(r1.selected.includes('poisoner'))
    assert.not.ok(r2.selected.includes('poisoner'), 'an excluded client is not selected again')
    assert.is(r2.status, 'aggregated')
    for (const r of results) assert.ok((r.testAcc1 ?? 0) > 0.5, `round ${r.round} accuracy ${String(r.testAcc1)}: the aggregate is not poisoned`)

    const log = readFileSync(join(cluster.dir, 'server.log'), 'utf8')
    for (const variant of ['shape', 'dtype', 'names', 'nan', 'inf', 'norm']) {
      assert.ok(log.split('\n').some(l => l.includes('update rejected') && l.includes('poisoner') && EXPECTED[variant].test(l)), `the server logged why the ${variant} update was rejected`)
    }
    assert.match(log, /client excluded: repeated invalid updates.*poisoner/)
    const me = (await cluster.admin.status()).clients.find(c => c.clientId === 'poisoner')
    assert.equal([me?.excluded, me?.rejected], [true, 6], 'bt-ps status shows it excluded')
    // The same refusals, counted by reason on the server's /metrics.
    const m = await cluster.metrics('server')
    assert.equal(['layout', 'non_finite', 'norm', 'excluded'].map(reason => m.value('btps_update_refused_total', { reason })), [3, 2, 1, 1], 'refusals by reason')
    assert.is(m.value('btps_clients_excluded'), 1)
    assert.is(m.value('btps_update_accepted_total', { upload: 'direct' }), 4, 'two honest updates in each of two rounds')
    console.log(`poisoned: ${[...sent.values()].map(s => `${s.variant}: ${s.reason}`).join('; ')}`)
    console.log(`poisoned: rounds ${results.map(r => `${r.round} acc ${(r.testAcc1 ?? 0).toFixed(3)} with ${r.accepted.join(',')}`).join('; ')}`)
    failed = false
  } finally {
    await stopRole(rogue)
    await close(failed)
  }
})

test('swarm upload: the same poisoned updates are refused where they arrive (declaration at the server, values at the owners); the sender is excluded', async () => {
  const [cluster, close] = await startCluster({ clients: 2, jobClients: 3, jobFlags: ['--job', 'poison-swarm', '--upload', 'swarm', '--k', '2', '--over-commitment', '1.5', '--local-epochs', '2', '--round-timeout', '60', '--server.max_rejected_updates', '6', '--server.selection_wait_s', '2', '--server.upload_stall_s', '3'] })
  const rogue = startFaultPeer(cluster, 'poisoner', 'poisoned-client.ts', ['--job', 'poison-swarm', '--id', 'poisoner'])
  let failed = true
  try {
    await rogue.ready
    await cluster.admin.startRounds(4)
    // A broken update the server admits (its declaration looks right) holds the poisoner's place for that round.
    const sent = new Map<string, { accepted: boolean, reason: string, round: number }>()
    for (const round of [1, 2, 3]) {
      const e = await rogue.event(`poisoned-round-${round}`)
      for (const s of e.sent as Array<{ variant: string, accepted: boolean, reason: string }>) sent.set(s.variant, { ...s, round })
    }
    assert.equal([...sent.keys()], Object.keys(EXPECTED))
    const inSwarm: Record<string, RegExp> = { ...EXPECTED, nan: /update\.\S+\[\d+\]: is NaN/, inf: /update\.\S+\[\d+\]: is Infinity/ }
    for (const [variant, pattern] of Object.entries(inSwarm)) {
      assert.not.ok(sent.get(variant)?.accepted, `${variant} update accepted`)
      assert.match(sent.get(variant)?.reason ?? '', pattern, `${variant}: ${sent.get(variant)?.reason ?? ''}`)
    }
    const results = await until('4 rounds done', async () => { const r = (await cluster.admin.status()).results; return r.length >= 4 ? r : undefined }, 180_000)
    for (const r of results) {
      assert.is(r.upload, 'swarm')
      assert.is(r.status, 'aggregated', `round ${r.round}: ${r.reason ?? ''}`)
      assert.not.ok(r.accepted.includes('poisoner'), `round ${r.round} aggregated the poisoner`)
      assert.ok((r.testAcc1 ?? 0) > 0.5, `round ${r.round} accuracy ${String(r.testAcc1)}: the aggregate is not poisoned`)
    }
    assert.ok(results[0].dropped?.some(d => d.startsWith('poisoner (invalid')), `round 1 dropped ${String(results[0].dropped)}`)
    assert.not.ok(results[3].selected.includes('poisoner'), 'an excluded client is not selected again')
    const log = readFileSync(join(cluster.dir, 'server.log'), 'utf8')
    for (const variant of ['shape', 'dtype', 'names', 'nan', 'inf', 'norm']) {
      assert.ok(log.split('\n').some(l => l.includes('update rejected') && l.includes('poisoner') && inSwarm[variant].test(l)), `the server logged why the ${variant} update was rejected`)
    }
    const me = (await cluster.admin.status()).clients.find(c => c.clientId === 'poisoner')
    assert.equal([me?.excluded, me?.rejected], [true, 6], 'bt-ps status shows it excluded')
    console.log(`poisoned (swarm): ${[...sent.entries()].map(([variant, s]) => `${variant} (round ${s.round}): ${s.reason}`).join('; ')}`)
    console.log(`poisoned (swarm): rounds ${results.map(r => `${r.round} acc ${(r.testAcc1 ?? 0).toFixed(3)} with ${r.accepted.join(',')}`).join('; ')}`)
    failed = false
  } finally {
    await stopRole(rogue)
    await close(failed)
  }
})

test.run()
