import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { EmulatedNetwork, namespacesUnavailable } from '../../src/bench/netns.js'

const unavailable = namespacesUnavailable()
if (unavailable !== undefined) console.log(`SKIP whole-round benchmark smoke run: ${unavailable}`)
const maybe = unavailable === undefined ? test : test.skip

interface Row { upload: string, clients: number, downloadS: number, uploadS: number, roundS: number, uploadBoundS: number, tMinS: number, serverIngressF: number, serverEgressF: number, cpuBound: boolean }

maybe('bench:round (N = 2, 1 MiB): direct and swarm uploads measured, swarm takes fewer bytes in at the server', () => {
  const out = mkdtempSync(join(tmpdir(), 'btps-bench-round-smoke-'))
  const prefix = `btpsrsmoke${process.pid}`
  try {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/bench-round.ts', '--clients', '2', '--model-mb', '1', '--link-mbit', '100', '--upload', 'direct,swarm', '--compute-s', '0.5', '--out', out, '--name', 'smoke', '--prefix', prefix], { encoding: 'utf8', timeout: 240_000 })
    assert.is(r.status, 0, r.stderr.slice(-2000))
    assert.match(r.stdout, /upload\s+N\s+held\s+updates\s+model MB\s+T_min s/)
    assert.is(r.stdout.split('\n').filter(l => /^(direct|swarm)\s+2\s+all\s+all\s/.test(l)).length, 2, 'both modes: both clients held the model and both updates were aggregated')
    const { machine, results } = JSON.parse(readFileSync(join(out, 'smoke.json'), 'utf8')) as { machine: { cores: number }, results: Row[] }
    assert.ok(machine.cores >= 1)
    assert.equal(results.map(x => x.upload), ['direct', 'swarm'])
    for (const row of results) {
      assert.is(row.clients, 2)
      for (const key of ['downloadS', 'uploadS', 'roundS', 'uploadBoundS', 'tMinS', 'serverIngressF', 'serverEgressF'] as const) {
        assert.ok(typeof row[key] === 'number' && Number.isFinite(row[key]) && row[key] > 0, `${row.upload}: ${key} = ${String(row[key])}`)
      }
      assert.type(row.cpuBound, 'boolean')
      // No round can beat the physical bounds (compute time aside).
      assert.ok(row.downloadS >= row.tMinS * 0.9, `${row.upload}: download ${row.downloadS} vs T_min ${row.tMinS}`)
      assert.ok(row.roundS >= 0.5, `${row.upload}: round ${row.roundS} s includes 0.5 s of compute`)
    }
    const [direct, swarm] = results
    assert.ok(direct.serverIngressF >= 1.9, `direct: the server takes in both updates (${direct.serverIngressF} F)`)
    assert.ok(swarm.serverIngressF < direct.serverIngressF, `swarm ${swarm.serverIngressF} F < direct ${direct.serverIngressF} F`)
    assert.ok(existsSync(join(out, 'smoke.svg')))
    assert.ok(existsSync(join(out, 'smoke.txt')))
    assert.equal(EmulatedNetwork.existing(prefix), [], 'every namespace removed')
  } finally {
    rmSync(out, { recursive: true, force: true })
  }
})

test('bench:round rejects a bad flag with exit code 2, naming it', () => {
  for (const [args, flag] of [[['--upload', 'carrier-pigeon'], '--upload'], [['--clients', 'many'], '--clients'], [['--bogus'], '--bogus']] as const) {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/bench-round.ts', ...args], { encoding: 'utf8', timeout: 60_000 })
    assert.is(r.status, 2, `${args.join(' ')}: ${r.stderr}`)
    assert.ok(r.stderr.includes(flag), r.stderr)
  }
})

test.run()
