import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { ClientRegistry } from '../../../src/server/client-registry.js'

const all = (): boolean => true

test('a client with repeated invalid updates is excluded from selection, also after logging in again', () => {
  const r = new ClientRegistry({ partitions: 3, staleMs: 10_000 })
  r.login('good', 'p1', 'wasm')
  r.login('bad', 'p2', 'wasm')
  assert.is(r.rejectedUpdate('bad', 3), false)
  assert.is(r.rejectedUpdate('bad', 3), false)
  assert.equal(r.eligible(all).map(c => c.clientId), ['good', 'bad'])
  assert.is(r.rejectedUpdate('bad', 3), true, 'the third invalid update excludes it')
  assert.equal(r.eligible(all).map(c => c.clientId), ['good'])
  r.login('bad', 'p3', 'wasm')
  assert.equal(r.eligible(all).map(c => c.clientId), ['good'])
  assert.is(r.get('bad')?.rejected, 3)
})

test('updates are taken only from the peer a client logged in from, and never once it is excluded', () => {
  const r = new ClientRegistry({ partitions: 2, staleMs: 10_000 })
  r.login('a', 'p1', 'wasm')
  assert.is(r.updateRefusal('a', 'p1'), undefined)
  assert.is(r.updateRefusal('a', 'p9'), 'a is not logged in from this peer')
  assert.is(r.updateRefusal('nobody', 'p1'), 'nobody is not logged in from this peer')
  r.rejectedUpdate('a', 2)
  assert.is(r.updateRefusal('a', 'p1'), undefined, 'one invalid update is not yet exclusion')
  r.rejectedUpdate('a', 2)
  assert.is(r.updateRefusal('a', 'p1'), 'a is excluded after 2 invalid updates')
})

test('limit 0 never excludes; dead clients are not eligible until they log in again', () => {
  const r = new ClientRegistry({ partitions: 2, staleMs: 10_000 })
  r.login('a', 'p1', 'wasm')
  r.login('b', 'p2', 'wasm')
  for (let n = 0; n < 10; n++) r.rejectedUpdate('a', 0)
  r.disconnected('p2')
  assert.equal(r.eligible(all).map(c => c.clientId), ['a'])
  r.login('b', 'p4', 'wasm')
  assert.equal(r.get('b')?.partition, 1, 'a returning client keeps its partition')
  assert.equal(r.eligible(all).map(c => c.clientId), ['a', 'b'])
})

test.run()
