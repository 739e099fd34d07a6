import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseConfig, selectionSize } from '../../../src/config/parse.js'
import { configFromEnv, loadConfig } from '../../../src/config/load.js'
import { InvalidInputError } from '../../../src/errors.js'

const fieldOf = (fn: () => unknown): string => {
  try { fn() } catch (err) { return err instanceof InvalidInputError ? err.message : `untyped: ${String(err)}` }
  return 'no error'
}

test('defaults are a valid job; K = 0 means every client', () => {
  const c = parseConfig()
  assert.is(c.job.model, 'mlp')
  assert.is(c.job.transfer, 'bt')
  assert.is(c.job.clientsPerRound, c.job.clients)
  assert.is(c.tracker.announceIntervalS, 1)
})

test('selection size is ceil(K * over_commitment), capped by the clients', () => {
  assert.is(selectionSize(parseConfig({ job: { clients: 10, clients_per_round: 3, over_commitment: 1.3 } }).job), 4)
  assert.is(selectionSize(parseConfig({ job: { clients: 4, clients_per_round: 4, over_commitment: 2 } }).job), 4)
})

test('bad values name the field and the value', () => {
  assert.is(fieldOf(() => parseConfig({ job: { rounds: 0 } })), 'job.rounds: 0 is out of range [1, 100000]')
  assert.is(fieldOf(() => parseConfig({ job: { rounds: 'many' } })), 'job.rounds: expected a number, got "many"')
  assert.is(fieldOf(() => parseConfig({ job: { transfer: 'ftp' } })), 'job.transfer: expected one of bt, ps, got "ftp"')
  assert.is(fieldOf(() => parseConfig({ job: { lr: 1 } })), 'job.lr: unknown field')
  assert.is(fieldOf(() => parseConfig({ jobs: {} })), 'jobs: unknown section (expected one of job, tracker, server, client, log, cluster)')
  assert.is(fieldOf(() => parseConfig({ job: { clients: 2, clients_per_round: 3 } })), 'job.clients_per_round: 3 is more than job.clients (2)')
  assert.is(fieldOf(() => parseConfig({ job: { frozen_layers: 2 } })), 'job.frozen_layers: 2 would freeze every layer of the mlp model (it has 2 with weights); at most 1')
  assert.is(parseConfig({ job: { model: 'cnn', frozen_layers: 2 } }).job.frozenLayers, 2)
  assert.is(fieldOf(() => parseConfig({ job: { local_epochs: 1.5 } })), 'job.local_epochs: expected an integer, got 1.5')
  assert.is(fieldOf(() => parseConfig({ tracker: { url: 'tracker:6969' } })), 'tracker.url: invalid value "tracker:6969"')
})

test('file < env < flags; env names are BTPS_<SECTION>_<KEY>', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'btps-config-'))
  try {
    const file = join(dir, 'job.yml')
    writeFileSync(file, 'job:\n  rounds: 5\n  model: cnn\n  clients: 8\nserver:\n  admin_port: 9000\n')
    const c = await loadConfig({ file, env: { BTPS_JOB_ROUNDS: '7', BTPS_SERVER_ADMIN_PORT: '9001', PATH: '/bin' }, flags: { server: { admin_port: '9002' } } })
    assert.is(c.job.model, 'cnn')
    assert.is(c.job.rounds, 7)
    assert.is(c.server.adminPort, 9002)
    assert.is(c.job.clients, 8)
    assert.is(fieldOf(() => configFromEnv({ BTPS_JOB_ROUNDZ: '1' })), 'BTPS_JOB_ROUNDZ: unknown setting (job.roundz)')
    writeFileSync(file, 'job: [1, 2\n')
    let err: unknown
    try { await loadConfig({ file }) } catch (e) { err = e }
    assert.match(String((err as Error).message), /not valid YAML/)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test.run()
