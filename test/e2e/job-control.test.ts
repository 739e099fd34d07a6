import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { execFile, spawn } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { BT_PS_BIN } from '../../src/cli/child-process.js'
import { CheckpointStore } from '../../src/server/checkpoint.js'
import { startCluster, until } from './cluster.js'

const execFileAsync = promisify(execFile)

test('bt-ps stop drops the queued rounds; --now aborts the open one: clients told, nothing aggregated, checkpoint consistent', async () => {
  // Synthetic updates after 3 s of "training": a round stays open long enough to be aborted mid-way.
  const [cluster, close] = await startCluster({ clients: 2, jobFlags: ['--job', 'stopjob', '--job.task', 'distribute', '--job.synthetic_update', 'yes', '--job.compute_s', '3', '--job.model_mb', '1', '--k', '2', '--round-timeout', '60'] })
  let failed = true
  try {
    const auth = ['--server', cluster.adminUrl, '--token-file', cluster.adminTokenFile]
    const btps = async (...args: string[]): Promise<string> => (await execFileAsync(process.execPath, [BT_PS_BIN, ...args, ...auth], { encoding: 'utf8', timeout: 30_000 })).stdout
    const status = async (): Promise<Awaited<ReturnType<typeof cluster.admin.status>>> => await cluster.admin.status()

    // 1. Four rounds queued and followed with --wait; stop while round 2 is open: round 2 finishes, 3 and 4 never start.
    const follower = spawn(process.execPath, [BT_PS_BIN, 'round', '--rounds', '4', '--wait', ...auth], { stdio: ['ignore', 'pipe', 'pipe'] })
    let followed = ''
    follower.stdout.on('data', (d: Buffer) => { followed += d.toString() })
    const followerExit = new Promise<number | null>(resolve => { follower.on('exit', resolve) })
    await until('round 2 open', async () => (await status()).current?.round === 2 ? true : undefined, 60_000)
    const out = await btps('stop')
    assert.match(out, /dropped 2 queued rounds/)
    const r2 = await until('round 2 done', async () => (await status()).results.find(r => r.round === 2), 60_000)
    assert.is(r2.status, 'aggregated', 'the open round finishes as usual')
    assert.is(await followerExit, 0, `bt-ps round --wait ends once the rounds left will not run:\n${followed}`)
    assert.match(followed, /stopped: rounds 3\.\.4 will not run \(bt-ps stop\)/)
    await new Promise(resolve => setTimeout(resolve, 2000))
    let s = await status()
    assert.is(s.round, 2)
    assert.is(s.queued, 0)
    assert.is(s.state, 'idle', 'no round 3 started')

    // 2. Two more rounds; abort round 3 while its clients train.
    const checkpoints = new CheckpointStore(join(cluster.dir, 'checkpoints'), 'stopjob')
    const before = checkpoints.load()!
    assert.is(before.round, 2)
    await cluster.admin.startRounds(2)
    await until('round 3 open, clients training', async () => {
      const x = await status()
      return x.current?.round === 3 && x.clients.some(c => c.state === 'training') ? true : undefined
    }, 60_000)
    const stopped = JSON.parse(await btps('stop', '--now', '--json')) as { now: boolean, dropped: number, aborted?: number }
    assert.equal({ now: stopped.now, dropped: stopped.dropped, aborted: stopped.aborted }, { now: true, dropped: 1, aborted: 3 })
    const r3 = await until('round 3 recorded', async () => (await status()).results.find(r => r.round === 3), 30_000)
    assert.is(r3.status, 'aborted')
    assert.equal(r3.accepted, [], 'nothing of the aborted round is aggregated')
    assert.match(r3.reason ?? '', /stopped by the operator/)
    await until('clients told: back to idle', async () => (await status()).clients.every(c => c.state === 'idle') ? true : undefined, 10_000)
    const after = checkpoints.load()!
    assert.is(after.round, 3, 'the aborted round is in the checkpoint, as aborted')
    after.tensors.forEach((t, i) => { assert.ok(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).equals(Buffer.from(before.tensors[i].data.buffer, before.tensors[i].data.byteOffset, before.tensors[i].data.byteLength)), `${t.name} unchanged`) })
    s = await status()
    assert.is(s.lastStop?.aborted, 3)
    const shown = await btps('status')
    assert.match(shown, /2 queued rounds dropped|1 queued rounds dropped, round 3 aborted/)

    // 3. The job goes on from there.
    await cluster.admin.startRounds(1)
    const r4 = await until('round 4 done', async () => (await status()).results.find(r => r.round === 4), 60_000)
    assert.is(r4.status, 'aggregated')
    console.log(`stop: round 2 finished (${r2.roundS.toFixed(1)} s), rounds 3..4 dropped; stop --now: round 3 ${r3.status} after ${r3.roundS.toFixed(1)} s; round 4 ${r4.status}`)
    failed = false
  } finally {
    await close(failed)
  }
})

test.run()
