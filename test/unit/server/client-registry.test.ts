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
  r.disconnected('p2')
  r.login('bad', 'p3', 'wasm', undefined, Date.now() + 20_000)
  assert.equal(r.eligible(all, Date.now() + 20_000).map(c => c.clientId), [])
  assert.is(r.get('bad')?.peerId, 'p3', 'the id moved to the new key once the old one was silent')
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
  r.login('b', 'p2', 'wasm')
  assert.equal(r.get('b')?.partition, 1, 'a returning client keeps its partition')
  assert.equal(r.eligible(all).map(c => c.clientId), ['a', 'b'])
})

test('a client id stays with the key it first logged in with while that key is connected or recently heard from', () => {
  const r = new ClientRegistry({ partitions: 3, staleMs: 10_000 })
  const t0 = 1_000_000
  assert.ok(r.login('client-03', 'victim', 'wasm', undefined, t0).ok)
  const taken = r.login('client-03', 'insider', 'wasm', undefined, t0 + 1000)
  assert.equal(taken, { ok: false, reason: 'client-03 is bound to another peer key, which is connected; it can move to a new key 10 s after its holder goes silent', retryAfterS: 10 })
  r.disconnected('victim')
  const recent = r.login('client-03', 'insider', 'wasm', undefined, t0 + 5000)
  assert.equal(recent, { ok: false, reason: 'client-03 is bound to another peer key, which was heard from 5 s ago; it can move to a new key 10 s after its holder goes silent', retryAfterS: 5 })
  assert.is(r.get('client-03')?.peerId, 'victim')
  assert.is(r.updateRefusal('client-03', 'insider'), 'client-03 is not logged in from this peer', 'its updates are not the victim\'s')
  const later = r.login('client-03', 'new-key', 'wasm', undefined, t0 + 11_000)
  assert.ok(later.ok && later.bound === 'rebound' && later.entry.partition === 0, 'a silent holder\'s id moves, with its partition')
})

test('one client id per peer; bindings survive a restart and give each holder a window to come back', () => {
  const r = new ClientRegistry({ partitions: 3, staleMs: 10_000 })
  assert.ok(r.login('a', 'p1', 'wasm').ok)
  assert.equal(r.login('b', 'p1', 'wasm'), { ok: false, reason: 'this peer is logged in as a; one client id per peer' })
  r.rejectedUpdate('a', 5)
  const restarted = new ClientRegistry({ partitions: 3, staleMs: 10_000 })
  const t0 = 2_000_000
  restarted.restore(r.bindings(), t0)
  assert.equal(restarted.eligible(all, t0), [], 'restored clients are offline until they log in')
  assert.not.ok(restarted.login('a', 'insider', 'wasm', undefined, t0 + 1000).ok, 'the id is not free right after a restart')
  const back = restarted.login('a', 'p1', 'wasm', undefined, t0 + 1000)
  assert.ok(back.ok && back.bound === 'same' && back.entry.rejected === 1 && back.entry.partition === 0)
})

test.run()
