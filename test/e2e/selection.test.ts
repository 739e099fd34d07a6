import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { spawnSync } from 'node:child_process'
import { copyFileSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startCluster, until } from './cluster.js'
import { followRounds } from '../../src/cli/progress.js'
import { BT_PS_BIN } from '../../src/cli/child-process.js'

let tracePath = ''
let recorded: string[][] = []

test('job.selection: oort explores first, then scores clients; each decision is logged with its reason and shown by bt-ps status', async () => {
  const [cluster, close] = await startCluster({ clients: 4, jobFlags: ['--job.selection', 'oort', '--k', '2', '--hidden-units', '32', '--round-timeout', '120', '--server.selection_wait_s', '2'] })
  let ok = false
  try {
    await until('4 clients online', async () => (await cluster.admin.status()).clients.filter(c => c.online).length === 4 ? true : undefined)
    await cluster.admin.startRounds(4)
    const results = await followRounds(cluster.admin, 1, 4, () => {})
    for (const r of results) assert.is(r.status, 'aggregated')
    const log = readFileSync(join(cluster.dir, 'server.log'), 'utf8').split('\n').filter(l => l.includes('client selected'))
    assert.is(log.length, 8, 'two selections logged per round')
    assert.ok(log.every(l => /policy=oort reason="(explore \(ε [\d.]+\)|exploit: score [\d.]+ = \(?utility .*)"/.test(l)), log.join('\n'))
    assert.ok(log.slice(0, 2).every(l => l.includes('explore')), 'round 1 explores: nothing is known yet')
    assert.ok(log.some(l => l.includes('exploit: score')), 'a later round exploits what it learned')
    const status = spawnSync(process.execPath, [BT_PS_BIN, 'status', '--server', cluster.admin.base, '--token-file', cluster.adminTokenFile], { encoding: 'utf8' })
    assert.is(status.status, 0, status.stderr)
    assert.match(status.stdout, /selection oort/)
    assert.match(status.stdout, /score\s+last selection/)
    assert.match(status.stdout, /client-\d\s+\d\s+yes\s+\w+\s+.*\s+\d\.\d{3}\s+(exploit|not drawn): score/)
    // The run's trace: one line per round, with who was picked and why and how long each took.
    const trace = readFileSync(join(cluster.runDir, 'selection-trace.jsonl'), 'utf8').trim().split('\n').map(l => JSON.parse(l) as { round: number, policy: string, selected: string[], reasons: Record<string, string>, durationsS: Record<string, number> })
    assert.equal(trace.map(t => t.round), [1, 2, 3, 4])
    assert.equal(trace.map(t => t.selected), results.map(r => r.selected))
    assert.ok(trace.every(t => t.policy === 'oort' && t.selected.every(id => t.reasons[id] !== '' && t.durationsS[id] > 0)))
    tracePath = join(tmpdir(), `btps-trace-${process.pid}.jsonl`)
    copyFileSync(join(cluster.runDir, 'selection-trace.jsonl'), tracePath)
    recorded = results.map(r => r.selected)
    ok = true
  } finally {
    await close(!ok)
  }
})

test('--replay TRACE: a new run selects the same clients in the same rounds', async () => {
  const [cluster, close] = await startCluster({ clients: 4, jobFlags: ['--replay', tracePath, '--k', '2', '--hidden-units', '32', '--round-timeout', '120', '--server.selection_wait_s', '2'] })
  let ok = false
  try {
    await until('4 clients online', async () => (await cluster.admin.status()).clients.filter(c => c.online).length === 4 ? true : undefined)
    await cluster.admin.startRounds(4)
    const results = await followRounds(cluster.admin, 1, 4, () => {})
    assert.equal(results.map(r => r.selected), recorded, 'the same selections, round by round')
    const log = readFileSync(join(cluster.dir, 'server.log'), 'utf8')
    assert.match(log, /client selected .*policy=replay reason="replay of round 1 \(oort: explore/)
    ok = true
  } finally {
    await close(!ok)
    rmSync(tracePath, { force: true })
  }
})

test.run()
