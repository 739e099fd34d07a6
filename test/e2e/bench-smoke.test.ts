import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { EmulatedNetwork, namespacesUnavailable } from '../../src/bench/netns.js'

const unavailable = namespacesUnavailable()
if (unavailable !== undefined) console.log(`SKIP distribution benchmark smoke run: ${unavailable}`)
const maybe = unavailable === undefined ? test : test.skip

maybe('bench:distribution (N = 2, 4 MiB): all three modes measured, results written, namespaces removed', () => {
  const out = mkdtempSync(join(tmpdir(), 'btps-bench-smoke-'))
  const prefix = `btpssmoke${process.pid}`
  try {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/bench-distribution.ts', '--clients', '2', '--model-mb', '4', '--link-mbit', '40', '--modes', 'bt,ps,http', '--out', out, '--name', 'smoke', '--prefix', prefix], { encoding: 'utf8', timeout: 240_000 })
    assert.is(r.status, 0, r.stderr.slice(-2000))
    assert.match(r.stdout, /mode\s+N\s+model MB\s+T_min s/)
    const { results } = JSON.parse(readFileSync(join(out, 'smoke.json'), 'utf8')) as { results: Array<{ mode: string, clients: number, tMinS: number, rounds: Array<{ completionS: number[], serverEgressBytes: number, modelBytes: number }> }> }
    assert.equal(results.map(x => x.mode), ['bt', 'ps', 'http'])
    for (const res of results) {
      const round = res.rounds[0]
      assert.is(round.completionS.length, 2, `${res.mode}: both clients reported`)
      // No client can beat the physical bound (4 MiB over a 40 Mbit/s link is 0.84 s).
      assert.ok(Math.min(...round.completionS) >= res.tMinS * 0.9, `${res.mode}: ${round.completionS.join(', ')} vs T_min ${res.tMinS}`)
    }
    assert.is(results[1].rounds[0].serverEgressBytes, 2 * results[1].rounds[0].modelBytes, 'ps: the server sends every copy')
    assert.ok(existsSync(join(out, 'smoke.svg')))
    assert.equal(EmulatedNetwork.existing(prefix), [], 'every namespace removed')
  } finally {
    rmSync(out, { recursive: true, force: true })
  }
})

test.run()
