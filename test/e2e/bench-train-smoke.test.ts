import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

interface Row { backend: string, model: string, params: number, batch: number, samples: number, samplesPerS: number, loss: number, testAcc?: number }

test('bench:train times real local training per backend and batch, and names a backend it cannot start', () => {
  const out = mkdtempSync(join(tmpdir(), 'btps-bench-train-'))
  try {
    const json = join(out, 'train.json')
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/bench-train.ts', '--backend', 'wasm', '--model', 'mlp,cnn', '--batch', '32,128', '--samples', '512', '--epochs', '2', '--test-samples', '300', '--json', json], { encoding: 'utf8', timeout: 120_000 })
    assert.is(r.status, 0, r.stderr.slice(-2000))
    assert.match(r.stdout, /backend\s+model\s+params\s+batch\s+samples\s+epochs\s+epoch s\s+samples\/s\s+loss\s+test acc\s+device/)
    const doc = JSON.parse(readFileSync(json, 'utf8')) as { results: Row[], skipped: string[] }
    assert.equal(doc.results.map(x => [x.backend, x.model, x.batch, x.samples, x.params]), [['wasm', 'mlp', 32, 512, 101770], ['wasm', 'mlp', 128, 512, 101770]])
    // Two epochs of 512 real digits: the MLP is well past chance (0.1) on held-out digits.
    for (const row of doc.results) assert.ok(row.samplesPerS > 0 && Number.isFinite(row.loss) && (row.testAcc ?? 0) > 0.4, JSON.stringify(row))
    // wasm has no Conv2DBackpropFilter kernel: the CNN is reported with the reason, not fatal.
    assert.is(doc.skipped.length, 1)
    assert.match(doc.skipped[0], /^wasm\/cnn: wasm cannot train the cnn model/)
    assert.match(r.stderr, /wasm cannot train cnn here/)
  } finally {
    rmSync(out, { recursive: true, force: true })
  }
})

test('bench:train refuses a backend it does not know, naming it', () => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/bench-train.ts', '--backend', 'cuda'], { encoding: 'utf8', timeout: 60_000 })
  assert.is(r.status, 2)
  assert.match(r.stderr, /--backend: "cuda" is not one of tensorflow, webgpu, wasm, cpu, auto/)
})

test.run()
