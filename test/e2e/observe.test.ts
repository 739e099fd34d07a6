import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { spawn, spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { BT_PS_BIN } from '../../src/cli/child-process.js'
import { startCluster, until } from './cluster.js'

test('logs follow streams round events as they happen; logs plot and logs export --json read the runs', async () => {
  const [cluster, close] = await startCluster({ clients: 2, jobFlags: ['--hidden-units', '64', '--round-timeout', '120'] })
  let failed = true
  try {
    await until('2 clients online', async () => (await cluster.admin.status()).clients.filter(c => c.online).length === 2 ? true : undefined)
    const follow = spawn(process.execPath, [BT_PS_BIN, 'logs', 'follow', '--server', cluster.adminUrl, '--token-file', cluster.adminTokenFile, '--rounds', '2', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    follow.stdout.on('data', (b: Buffer) => { out += b.toString() })
    follow.stderr.on('data', (b: Buffer) => { err += b.toString() })
    const exited = new Promise<number | null>(resolve => { follow.once('exit', code => { resolve(code) }) })
    // Rounds start once the follower holds the stream: it says so on stderr.
    await until('follower connected', async () => err.includes('following ') ? true : undefined, 20_000)
    await cluster.admin.startRounds(2)
    assert.is(await exited, 0, err)
    const events = out.trim().split('\n').map(l => JSON.parse(l) as { type: string, round?: number, clientId?: string, state?: string, result?: { status: string } })
    const rounds = events.filter(e => e.type !== 'client').map(e => `${e.type} ${String(e.round)}`)
    assert.equal(rounds, ['announced 1', 'finished 1', 'announced 2', 'finished 2'], 'each round as it happens, then it exits after --rounds 2')
    assert.ok(events.some(e => e.type === 'client' && e.state === 'training'), 'clients\' state changes are followed')
    assert.equal(events.filter(e => e.type === 'finished').map(e => e.result?.status), ['aggregated', 'aggregated'])

    const runs = dirname(cluster.runDir)
    const svg = join(cluster.dir, 'curves.svg')
    const plot = spawnSync(process.execPath, [BT_PS_BIN, 'logs', 'plot', '--runs', runs, '-o', svg], { encoding: 'utf8' })
    assert.is(plot.status, 0, plot.stderr)
    const text = readFileSync(svg, 'utf8')
    for (const title of ['test accuracy by round', 'test loss by round', 'test accuracy over time', 'test loss over time']) assert.ok(text.includes(title), title)
    assert.is((text.match(/<circle /g) ?? []).length, 8, 'two rounds on each of four charts')

    const exported = spawnSync(process.execPath, [BT_PS_BIN, 'logs', 'export', '--runs', runs, '--json'], { encoding: 'utf8' })
    assert.is(exported.status, 0, exported.stderr)
    const rows = JSON.parse(exported.stdout) as Array<{ step: number, values: Record<string, number> }>
    assert.equal(rows.map(r => r.step), [1, 2])
    assert.ok(rows.every(r => r.values.test_acc_1 > 0.1), 'accuracy in every row')
    failed = false
  } finally {
    await close(failed)
  }
})

const noPty = spawnSync('script', ['--version'], { stdio: 'ignore' }).error != null
if (noPty) console.log('SKIP the terminal test: util-linux `script` is not installed')
const withPty = noPty ? test.skip : test

withPty('round --wait on a terminal draws a bar per phase; with NO_COLOR, a line per change', async () => {
  // A ~0.8 MB model through a 2 Mbit/s server link: each round's download takes seconds, long enough to be drawn.
  const [cluster, close] = await startCluster({ clients: 2, jobFlags: ['--hidden-units', '256', '--server.upload_limit_mbit', '2', '--round-timeout', '120'] })
  let failed = true
  try {
    await until('2 clients online', async () => (await cluster.admin.status()).clients.filter(c => c.online).length === 2 ? true : undefined)
    // `script` runs the command on a pseudo-terminal, as a person's shell would.
    const onTty = async (env: NodeJS.ProcessEnv): Promise<string> => {
      const command = [process.execPath, BT_PS_BIN, 'round', '--server', cluster.adminUrl, '--token-file', cluster.adminTokenFile, '--rounds', '1', '--wait'].map(a => `'${a}'`).join(' ')
      const r = spawnSync('script', ['-qec', command, '/dev/null'], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 120_000 })
      assert.is(r.status, 0, r.stdout + r.stderr)
      return r.stdout
    }
    const bars = await onTty({ NO_COLOR: '', TERM: 'xterm' })
    assert.match(bars, /model held +[█░]{30} /)
    assert.match(bars, /updates in +[█░]{30} +\d\/2 updates/)
    assert.ok(bars.includes('\u001b[3A'), 'redrawn in place')
    assert.match(bars, /round 1\/1 done: acc/)
    const lines = await onTty({ NO_COLOR: '1', TERM: 'xterm' })
    assert.not.match(lines, /[█░]/)
    assert.match(lines, /round 2\/2: 2 selected \| downloading \d training \d uploading \d \| updates \d/)
    assert.match(lines, /round 2\/2 done: acc/)
    failed = false
  } finally {
    await close(failed)
  }
})

test.run()
