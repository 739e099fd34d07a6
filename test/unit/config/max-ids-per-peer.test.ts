import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { parseConfig } from '../../../src/config/parse.js'
import { toRawConfig } from '../../../src/config/raw.js'
import { jobFileSchema } from '../../../src/config/json-schema.js'
import { InvalidInputError } from '../../../src/errors.js'

const fieldOf = (fn: () => unknown): string => {
  try { fn() } catch (err) { return err instanceof InvalidInputError ? err.message : `untyped: ${String(err)}` }
  return 'no error'
}

test('server.max_ids_per_peer: one id per peer unless set; bad values name the field', () => {
  assert.is(parseConfig().server.maxIdsPerPeer, 1)
  assert.is(parseConfig({ server: { max_ids_per_peer: 500 } }).server.maxIdsPerPeer, 500)
  assert.is(parseConfig({ server: { max_ids_per_peer: '64' } }).server.maxIdsPerPeer, 64, 'as an env var or a flag gives it')
  assert.is(fieldOf(() => parseConfig({ server: { max_ids_per_peer: 0 } })), 'server.max_ids_per_peer: 0 is out of range [1, 10000]')
  assert.is(fieldOf(() => parseConfig({ server: { max_ids_per_peer: 2.5 } })), 'server.max_ids_per_peer: expected an integer, got 2.5')
  assert.is(fieldOf(() => parseConfig({ server: { max_ids_per_peer: 'many' } })), 'server.max_ids_per_peer: expected a number, got "many"')
  assert.is(toRawConfig(parseConfig({ server: { max_ids_per_peer: 8 } })).server.max_ids_per_peer, 8, 'the roles `up` starts read the same value')
  const { server } = (jobFileSchema() as { properties: Record<string, { properties: Record<string, { type?: string, minimum?: number, maximum?: number, default?: unknown }> }> }).properties
  const { type, minimum, maximum } = server.properties.max_ids_per_peer
  assert.equal({ type, minimum, maximum, default: server.properties.max_ids_per_peer.default }, { type: 'integer', minimum: 1, maximum: 10000, default: 1 }, '`bt-ps config schema` checks it in editors')
})

test.run()
