import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CheckpointStore } from '../../../src/server/checkpoint.js'
import type { NamedTensor } from '../../../src/model/serialize.js'

const tensors = (v: number): NamedTensor[] => [{ name: 'w', shape: [2, 3], dtype: 'float32', data: Float32Array.from([v, 1, 2, 3, 4, 5]) }]

test('a checkpoint gives back the round, the model bit-exactly, the results and the queued target', () => {
  const dir = mkdtempSync(join(tmpdir(), 'btps-ckpt-'))
  try {
    const store = new CheckpointStore(dir, 'job')
    assert.is(store.load(), undefined)
    store.saveTarget(0, 3, [])
    assert.equal(store.load(), { round: 0, tensors: [], results: [], target: 3 })
    store.save({ round: 1, tensors: tensors(0.5), results: [], target: 3 })
    store.save({ round: 2, tensors: tensors(0.25), results: [], target: 3 })
    const cp = store.load()
    assert.is(cp?.round, 2)
    assert.is(cp?.target, 3)
    assert.equal(Array.from(cp?.tensors[0].data ?? []), Array.from(tensors(0.25)[0].data))
    assert.equal(readdirSync(join(dir, 'job')).sort(), ['model-000002.bin', 'state.json'], 'only the latest model is kept')
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('a damaged checkpoint is an error naming the file, never a silent fresh start', () => {
  const dir = mkdtempSync(join(tmpdir(), 'btps-ckpt-'))
  try {
    const store = new CheckpointStore(dir, 'job')
    store.save({ round: 1, tensors: tensors(1), results: [], target: 1 })
    writeFileSync(join(dir, 'job', 'model-000001.bin'), 'garbage')
    assert.throws(() => store.load(), /model-000001\.bin is unreadable .*move it away to start the job afresh/)
    writeFileSync(join(dir, 'job', 'state.json'), '{"jobId":"other","round":1,"results":[]}')
    assert.throws(() => store.load(), /state\.json is for job "other"/)
    writeFileSync(join(dir, 'job', 'state.json'), '{')
    assert.throws(() => store.load(), /state\.json is unreadable/)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('client bindings are kept beside the checkpoint; a damaged list is an error naming the file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'btps-ckpt-'))
  try {
    const store = new CheckpointStore(dir, 'job')
    assert.equal(store.loadClients(), [])
    const bindings = [{ clientId: 'client-1', peerId: '12D3KooWa', partition: 0, rejected: 2, excluded: false }]
    store.saveClients(bindings)
    assert.equal(new CheckpointStore(dir, 'job').loadClients(), bindings)
    writeFileSync(join(dir, 'job', 'clients.json'), JSON.stringify({ jobId: 'job', clients: [{ clientId: 'client-1' }] }))
    assert.throws(() => store.loadClients(), /clients\.json: clients\[0\] is not a client binding; move it away/)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test.run()
