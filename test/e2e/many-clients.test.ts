import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BT_PS_BIN } from '../../src/cli/child-process.js'

/** "466.1 kB" / "1.22 MB" as bytes. */
const bytes = (s: string): number => Number(s.split(' ')[0]) * (s.endsWith('MB') ? 1e6 : s.endsWith('kB') ? 1e3 : 1)

test('bt-ps up --clients 12 --clients-per-process 6: two processes of six client ids train rounds; each process gets the model once', () => {
  const dir = mkdtempSync(join(tmpdir(), 'btps-many-'))
  try {
    const r = spawnSync(process.execPath, [BT_PS_BIN, 'up', '--config', 'configs/local.yml', '--clients', '12', '--clients-per-process', '6', '--k', '6', '--rounds', '2', '--hidden-units', '64',
      '--server.runs_dir', join(dir, 'runs'), '--server.checkpoint_dir', join(dir, 'ckpt'), '--log-dir', join(dir, 'logs')], { encoding: 'utf8', timeout: 240_000, env: { ...process.env, NO_COLOR: '1' } })
    const out = r.stdout + r.stderr
    assert.is(r.status, 0, out.slice(-2000))
    assert.match(out, /12 clients in 2 processes ready/)
    const table = out.slice(out.indexOf('round  mode'))
    // Columns are two or more spaces apart; a value ("466.1 kB") has at most one inside.
    const header = table.split('\n')[0].trim().split(/\s{2,}/)
    const col = (row: string, name: string): string => row.trim().split(/\s{2,}/)[header.indexOf(name)]
    // Eight selected (6 × 1.3) among two peers: swarm upload needs a peer per client, so updates come directly.
    const rows = table.split('\n').filter(l => /^\s+\d+\s+bt\s+direct\s+6\/8/.test(l))
    assert.is(rows.length, 2, table)
    for (const row of rows) {
      // One download per process, not per client id: the server sends at most about two copies of the model.
      const sent = bytes(col(row, 'server sent'))
      const model = bytes(col(row, 'model'))
      assert.ok(model > 100e3 && sent < 2.5 * model, `server sent ${sent} bytes of a ${model}-byte model: ${row}`)
    }
    const server = readFileSync(join(dir, 'logs', 'server.log'), 'utf8')
    assert.match(server, /swarm upload needs one client per peer; updates come directly this round/)
    assert.is([...server.matchAll(/client logged in .*client=client-[12]-00[1-6]\b/g)].length, 12, 'twelve ids logged in')
    const first = readFileSync(join(dir, 'logs', 'client-1.log'), 'utf8')
    assert.match(first, /client ids .*count=6 first=client-1-001 last=client-1-006/)
    assert.ok(/trained .*client=client-1-00\d/.test(first) || /trained .*client=client-2-00\d/.test(readFileSync(join(dir, 'logs', 'client-2.log'), 'utf8')))
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('bt-ps clients refuses a bad count, naming the field', () => {
  const r = spawnSync(process.execPath, [BT_PS_BIN, 'clients', '--count', '0'], { encoding: 'utf8', timeout: 60_000 })
  assert.is(r.status, 2)
  assert.match(r.stderr, /client\.count/)
})

test.run()
