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

test('server.max_ids_per_peer: one process holds up to that many live ids, the next is refused naming the setting', () => {
  const t0 = 1_000_000
  const r = new ClientRegistry({ partitions: 10, staleMs: 10_000, maxIdsPerPeer: 3 })
  for (const id of ['a', 'b', 'c']) assert.ok(r.login(id, 'proc', 'wasm', undefined, t0).ok, id)
  assert.equal(r.login('d', 'proc', 'wasm', undefined, t0), { ok: false, reason: 'this peer is logged in as 3 client ids, the most server.max_ids_per_peer (3) allows' })
  assert.ok(r.login('b', 'proc', 'wasm', undefined, t0 + 1000).ok, 'an id it holds logs in again')
  assert.ok(r.login('d', 'other', 'wasm', undefined, t0).ok, 'another peer has its own allowance')
  assert.equal([...r.idsOf('proc')], ['a', 'b', 'c'])
  assert.is(r.peerOf('d'), 'other')
  r.disconnected('proc')
  assert.equal(['a', 'b', 'c', 'd'].map(id => r.get(id)?.online), [false, false, false, true], 'a disconnect takes every id of that peer offline, no other')
  assert.ok(r.login('e', 'proc', 'wasm', undefined, t0 + 11_000).ok, 'silent ids no longer count against the peer')
})

test('a batch of heartbeats from one process keeps each of its ids selectable; ids of another key are not touched', () => {
  const r = new ClientRegistry({ partitions: 4, staleMs: 10_000, maxIdsPerPeer: 4 })
  const t0 = 1_000_000
  for (const id of ['a', 'b', 'c']) r.login(id, 'proc', 'wasm', undefined, t0)
  r.login('x', 'other', 'wasm', undefined, t0)
  const beats = ['a', 'b', 'c', 'x'].map(id => r.heartbeat(id, 'proc', 'training', 3, t0 + 9000))
  assert.equal(beats, [true, true, true, false])
  assert.equal(r.eligible(all, t0 + 15_000).map(c => c.clientId), ['a', 'b', 'c'], 'x, silent since its login, went stale')
  assert.is(r.get('x')?.state, 'idle')
})

test('an id that moves to a new key leaves the old key\'s ids: the old key\'s disconnect no longer takes it offline', () => {
  const r = new ClientRegistry({ partitions: 3, staleMs: 10_000 })
  const t0 = 1_000_000
  r.login('a', 'old', 'wasm', undefined, t0)
  r.disconnected('old')
  assert.ok(r.login('a', 'new', 'wasm', undefined, t0 + 11_000).ok)
  assert.equal([...r.idsOf('old')], [])
  r.disconnected('old')
  assert.is(r.get('a')?.online, true)
  assert.ok(r.login('b', 'old', 'wasm', undefined, t0 + 11_000).ok, 'the old key may log in as another id')
})

test('10,000 clients: each new id takes the lowest free partition, restored ones keep theirs, the 10,001st is refused', () => {
  const r = new ClientRegistry({ partitions: 10_000, staleMs: 10_000, maxIdsPerPeer: 1000 })
  r.restore([{ clientId: 'back-0', peerId: 'p0', partition: 0, rejected: 0, excluded: false }, { clientId: 'back-2', peerId: 'p0', partition: 2, rejected: 0, excluded: false }])
  const first = r.login('new-0', 'p1', 'wasm')
  const second = r.login('new-1', 'p1', 'wasm')
  assert.equal([first.ok && first.entry.partition, second.ok && second.entry.partition], [1, 3])
  for (let i = 2; i < 9_998; i++) assert.ok(r.login(`new-${i}`, `p${1 + Math.floor(i / 1000)}`, 'wasm').ok, `new-${i}`)
  assert.equal(r.login('late', 'p99', 'wasm'), { ok: false, reason: 'all 10000 partitions are taken' })
  const partitions = r.list().map(c => c.partition)
  assert.equal(partitions, Array.from({ length: 10_000 }, (_, i) => i), 'every partition held once, listed in order')
  assert.equal(r.counts(), { known: 10_000, online: 9_998, excluded: 0 })
})

test.run()
