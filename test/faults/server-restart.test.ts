import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { BT_PS_BIN } from '../../src/cli/child-process.js'
import { startCluster, until } from '../e2e/cluster.js'

test('a server killed mid-round resumes from its checkpoint: same round, same model bytes, every round once', async () => {
  const [cluster, close] = await startCluster({ clients: 3, jobFlags: ['--job', 'resume', '--hidden-units', '64', '--local-epochs', '3', '--round-timeout', '120'] })
  let failed = true
  try {
    // The operator's `bt-ps round --wait` rides out the restart.
    const cli = spawn(process.execPath, [BT_PS_BIN, 'round', '--server', cluster.admin.base, '--token-file', cluster.adminTokenFile, '--rounds', '3', '--wait'], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    cli.stdout.on('data', (d: Buffer) => { out += d.toString() })
    cli.stderr.on('data', (d: Buffer) => { out += d.toString() })
    const cliExit = new Promise<number | null>(resolve => { cli.on('exit', resolve) })

    const before = await until('round 2 under way', async () => {
      const s = await cluster.admin.status()
      return s.current?.round === 2 && s.current.sha256 != null && s.clients.some(c => c.state === 'training') ? s : undefined
    })
    const killedAt = Date.now()
    cluster.server.child.kill('SIGKILL')
    await cluster.server.exited
    const state = JSON.parse(readFileSync(join(cluster.dir, 'checkpoints', 'resume', 'state.json'), 'utf8')) as { round: number, target: number }
    assert.equal([state.round, state.target], [1, 3], 'the checkpoint holds round 1 and the job\'s 3 rounds')

    await cluster.restartServer()
    const again = await until('round 2 announced again', async () => {
      const s = await cluster.admin.status().catch(() => undefined)
      return s?.current?.round === 2 ? s : undefined
    })
    const reannouncedS = (Date.now() - killedAt) / 1000
    assert.is(again.current?.sha256, before.current?.sha256, 'the re-run round 2 distributes the same model bytes')
    assert.equal(again.results, before.results, 'round 1 came back from the checkpoint unchanged')

    let timer: NodeJS.Timeout | undefined
    const code = await Promise.race([cliExit, new Promise<string>(resolve => { timer = setTimeout(() => { resolve('timeout') }, 120_000) })])
    clearTimeout(timer)
    assert.is(code, 0, `bt-ps round --wait: ${out}`)
    assert.match(out, /server unreachable, waiting for it to come back/)
    const final = await cluster.admin.status()
    assert.equal(final.results.map(r => r.round), [1, 2, 3], 'no round lost or counted twice')
    assert.ok(final.results.every(r => r.accepted.length === 3))
    assert.is(final.queued, 0)
    console.log(`server restart: round 2 announced again ${reannouncedS.toFixed(1)} s after the kill; job done ${((Date.now() - killedAt) / 1000).toFixed(1)} s after it`)
    failed = false
  } finally {
    await close(failed)
  }
})

test.run()
