import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ReplaySelection, SelectionTrace, readTrace } from '../../../src/server/selection/trace.js'
import { createRng } from '../../../src/training/rng.js'

const dir = mkdtempSync(join(tmpdir(), 'btps-trace-'))

test('a trace records each round; a replay picks the same clients, says who is missing now, and draws beyond the trace', () => {
  const path = join(dir, 'selection-trace.jsonl')
  const trace = new SelectionTrace(path)
  trace.write({ round: 1, policy: 'oort', eligible: ['a', 'b', 'c', 'd'], offline: [], selected: ['c', 'a'], reasons: { c: 'explore (ε 0.90)', a: 'explore (ε 0.90)' }, durationsS: { c: 3.2, a: 4.1 }, accepted: ['c', 'a'] })
  trace.write({ round: 2, policy: 'oort', eligible: ['a', 'b', 'c'], offline: ['d'], selected: ['b', 'd'], reasons: { b: 'exploit: score 0.9', d: 'explore' }, durationsS: { b: 2, d: 120 }, accepted: ['b'] })
  const rounds = readTrace(path)
  assert.equal([...rounds.keys()], [1, 2])
  const replay = new ReplaySelection(rounds)
  const r1 = replay.select(1, ['a', 'b', 'c', 'd'], 2, createRng(1))
  assert.equal(r1.selected, ['c', 'a'])
  assert.match(r1.decisions.find(d => d.clientId === 'c')?.reason ?? '', /^replay of round 1 \(oort: explore \(ε 0\.90\)\)$/)
  const r2 = replay.select(2, ['a', 'b', 'c'], 2, createRng(2))
  assert.equal(r2.selected, ['b'])
  assert.is(r2.decisions.find(d => d.clientId === 'd')?.reason, 'replay of round 2: recorded, but not eligible now')
  const r3 = replay.select(3, ['a', 'b', 'c'], 2, createRng(3))
  assert.is(r3.selected.length, 2)
  assert.ok(r3.decisions.every(d => d.reason.startsWith('beyond the trace (2 rounds): ')))
})

test('a bad trace is named with its line', () => {
  const path = join(dir, 'bad.jsonl')
  writeFileSync(path, '{"round":1,"selected":["a"]}\nnot json\n')
  assert.throws(() => readTrace(path), /job\.replay \(.*bad\.jsonl:2\): is not JSON/)
  writeFileSync(path, '{"round":"one"}\n')
  assert.throws(() => readTrace(path), /bad\.jsonl:1\): needs a round number/)
  assert.throws(() => readTrace(join(dir, 'none.jsonl')), /job\.replay: .*none\.jsonl: ENOENT/)
})

test.after(() => { rmSync(dir, { recursive: true, force: true }) })
test.run()
