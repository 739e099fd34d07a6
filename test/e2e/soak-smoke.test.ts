import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

test('bench:soak (8 clients, 15 s): rounds complete with no errors, announces counted, RSS sampled, files written', () => {
  const out = mkdtempSync(join(tmpdir(), 'btps-soak-smoke-'))
  try {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/bench-soak.ts', '--clients', '8', '--workers', '2', '--duration-s', '15', '--k', '4', '--model-mb', '0.05', '--out', out, '--name', 'smoke'], { encoding: 'utf8', timeout: 240_000 })
    assert.is(r.status, 0, r.stdout.slice(-1500) + r.stderr.slice(-1500))
    assert.match(r.stdout, /announces handled\s+\d+/)
    const res = JSON.parse(readFileSync(join(out, 'smoke.json'), 'utf8')) as { rounds: number, roundsShort: number, announces: number, errors: number, onlineAtEnd: number, samples: unknown[], serverRssMb: { end: number } }
    assert.ok(res.rounds >= 2, `${res.rounds} rounds`)
    assert.is(res.roundsShort, 0)
    assert.is(res.errors, 0)
    assert.is(res.onlineAtEnd, 8)
    assert.ok(res.announces > 0)
    assert.ok(res.samples.length >= 3 && res.serverRssMb.end > 0)
    assert.ok(existsSync(join(out, 'smoke.svg')))
  } finally {
    rmSync(out, { recursive: true, force: true })
  }
})

test.run()
