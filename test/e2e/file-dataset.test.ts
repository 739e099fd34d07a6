import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import { startCluster, until } from './cluster.js'
import { followRounds } from '../../src/cli/progress.js'
import { loadMnist } from '../../src/training/mnist.js'
import { writeIdxDataset, writeLeafDataset } from '../support/dataset-files.js'

// Real digits written out as the user's files: LEAF JSON with 6 writers of different sizes, and IDX.
const data = loadMnist({ trainSamples: 3000, testSamples: 600, seed: 3 })
const WRITER_SIZES = [300, 400, 500, 550, 600, 650]
const writerOf = (i: number): string => { let k = 0; let left = i; while (left >= WRITER_SIZES[k]) { left -= WRITER_SIZES[k]; k++ } return `writer-${k}` }

async function runJob (dataDir: string, flags: string[]): Promise<{ results: Awaited<ReturnType<typeof followRounds>>, logs: (name: string) => string }> {
  const [cluster, close] = await startCluster({ clients: 3, jobFlags: ['--dataset', 'file', '--job.data_path', dataDir, '--hidden-units', '64', '--round-timeout', '120', ...flags] })
  let ok = false
  try {
    await until('3 clients online', async () => (await cluster.admin.status()).clients.filter(c => c.online).length === 3 ? true : undefined)
    await cluster.admin.startRounds(2)
    const results = await followRounds(cluster.admin, 1, 2, () => {})
    assert.is((await cluster.admin.status()).dataset, 'file')
    // Read now: closing the cluster removes its directory.
    const text = new Map(['server', 'client-1', 'client-2', 'client-3'].map(n => [n, readFileSync(join(cluster.dir, `${n}.log`), 'utf8')]))
    ok = true
    return { results, logs: (name) => text.get(name) ?? '' }
  } finally {
    await close(!ok)
  }
}

test('LEAF JSON under job.data_path with the natural partition: each client trains on whole writers', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'btps-leaf-'))
  try {
    writeLeafDataset(dir, data.train, data.test, (i, set) => set === 'train' ? writerOf(i) : `writer-${i % 6}`)
    const { results, logs } = await runJob(dir, ['--partition', 'natural'])
    console.log(`  LEAF, natural partition: accuracy ${results.map(r => r.testAcc1?.toFixed(4)).join(' → ')}`)
    for (const r of results) assert.is(r.status, 'aggregated')
    assert.ok((results[1].testAcc1 ?? 0) > 0.6, `round 2 accuracy ${results[1].testAcc1}`)
    assert.match(logs('server'), /dataset loaded .*dataset=file train=3000 test=600 shape=28x28x1 classes=10/)
    // Writers are dealt in turn: partition p holds writers p and p + 3.
    const samples = [0, 1, 2].map(p => WRITER_SIZES[p] + WRITER_SIZES[p + 3])
    const logged = [1, 2, 3].map(c => Number(/logged in .* samples=(\d+)/.exec(logs(`client-${c}`))?.[1]))
    assert.equal(logged.sort((a, b) => a - b), samples.sort((a, b) => a - b), 'clients hold their writers\' samples')
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('IDX files under job.data_path (the MNIST format, one gzipped) train like the built-in set', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'btps-idx-'))
  try {
    writeIdxDataset(dir, data.train, data.test)
    const { results, logs } = await runJob(dir, [])
    console.log(`  IDX: accuracy ${results.map(r => r.testAcc1?.toFixed(4)).join(' → ')}`)
    for (const r of results) assert.is(r.status, 'aggregated')
    assert.ok((results[1].testAcc1 ?? 0) > 0.6, `round 2 accuracy ${results[1].testAcc1}`)
    assert.match(logs('server'), /dataset loaded .*dataset=file train=3000 test=600 shape=28x28x1 classes=10/)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test.run()
