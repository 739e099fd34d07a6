import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { spawn, execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BT_PS_BIN } from '../../src/cli/child-process.js'

function runBtps (args: string[], onLine?: (line: string, child: ReturnType<typeof spawn>) => void): Promise<{ code: number | null, out: string }> {
  const child = spawn(process.execPath, [BT_PS_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  const take = (d: Buffer): void => {
    const text = d.toString()
    out += text
    for (const line of text.split('\n')) if (line !== '') onLine?.(line, child)
  }
  child.stdout.on('data', take)
  child.stderr.on('data', take)
  return new Promise(resolve => { child.on('exit', code => { resolve({ code, out }) }) })
}

const processesMentioning = (marker: string): string[] =>
  execFileSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' }).split('\n').filter(l => l.includes(marker) && !l.includes(' ps -eo'))

test('bt-ps up runs the local cluster to the end and prints the per-round table; logs export gives CSV', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'btps-up-'))
  try {
    const { code, out } = await runBtps(['up', '--config', 'configs/local.yml', '--clients', '2', '--k', '2', '--rounds', '2', '--hidden-units', '64', '--server.runs_dir', join(dir, 'runs'), '--server.checkpoint_dir', join(dir, 'ckpt')])
    assert.is(code, 0, out.slice(-1500))
    assert.match(out, /tracker ready: udp:\/\/127\.0\.0\.1:\d+/)
    assert.match(out, /2 clients ready/)
    assert.match(out, /round 1\/2/)
    const table = out.slice(out.indexOf('round  mode'))
    assert.match(table, /round\s+mode\s+upload\s+updates\s+test acc\s+top-5\s+loss\s+distrib s\s+train s\s+upload s\s+aggr s\s+round s\s+server sent\s+server recv\s+model\s+from peers/)
    const rows = table.split('\n').filter(l => /^\s+\d+\s+bt\s+swarm\s+2\/2/.test(l))
    assert.is(rows.length, 2, table)
    assert.equal(processesMentioning(dir), [], 'no process left behind')
    const csv = await runBtps(['logs', 'export', '--format', 'csv', '--runs', join(dir, 'runs')])
    assert.is(csv.code, 0)
    const lines = csv.out.trim().split('\n')
    assert.ok(lines[0].startsWith('run,step,wall_time,'))
    assert.ok(lines[0].includes('test_acc_1') && lines[0].includes('network_bytes_sent (GB)'))
    assert.is(lines.length, 3, csv.out)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('Ctrl-C stops every process bt-ps up started', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'btps-up-int-'))
  try {
    let sent = false
    const { code, out } = await runBtps(['up', '--clients', '2', '--rounds', '50', '--server.runs_dir', join(dir, 'runs'), '--server.checkpoint_dir', join(dir, 'ckpt')], (line, child) => {
      if (!sent && /round 1\/50/.test(line)) { sent = true; child.kill('SIGINT') }
    })
    assert.ok(sent, out.slice(-1000))
    assert.is(code, 130, out.slice(-1000))
    assert.match(out, /interrupted: stopping every process/)
    assert.equal(processesMentioning(dir), [], 'no process left behind')
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test.run()
