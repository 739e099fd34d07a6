import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { parseRoundMessage } from '../../../src/control/round.js'
import { dialAddress } from '../../../src/upload/round-peers.js'
import { shardRanges } from '../../../src/aggregation/shards.js'

const id = (n: number): string => `12D3KooW${String(n).repeat(44)}`
const round = { type: 'round', jobId: 'job', round: 2, transfer: 'ps', bytes: 100, sha256: 'a'.repeat(64), selected: ['c1', 'c2'], deadline: 1, hyper: { localEpochs: 1, batchSize: 32, learningRate: 0.1, mu: 0 } }
const parse = (upload: unknown): unknown => parseRoundMessage(new TextEncoder().encode(JSON.stringify({ ...round, upload })))

test('an announcement\'s upload plan names the selected clients in order, each dialled at an address that ends in its peer id', () => {
  const plan = { elements: 10, peers: [{ clientId: 'c1', peerId: id(1), addr: `/ip4/10.0.0.1/tcp/4001/p2p/${id(1)}` }, { clientId: 'c2', peerId: id(2) }] }
  assert.equal((parse(plan) as { upload: unknown }).upload, plan)
  const cases: Array<[string, unknown, RegExp]> = [
    ['peers in another order', { ...plan, peers: [...plan.peers].reverse() }, /upload\.peers: must name the selected clients, in order/],
    ['an address for another peer', { ...plan, peers: [{ ...plan.peers[0], addr: `/ip4/10.0.0.1/tcp/4001/p2p/${id(3)}` }, plan.peers[1]] }, /upload\.peers\[0\]\.addr: expected a multiaddr ending in \/p2p\/<peerId>/],
    ['a peer id that is not one', { ...plan, peers: [{ ...plan.peers[0], peerId: 'x' }, plan.peers[1]] }, /upload\.peers\[0\]\.peerId: expected a base58 libp2p peer id/],
    ['no values', { ...plan, elements: 0 }, /upload\.elements/]
  ]
  for (const [what, upload, reason] of cases) assert.throws(() => parse(upload), reason, what)
})

test('a client is dialled at the address its connection came from, on the port it listens on', () => {
  assert.is(dialAddress('/ip4/10.213.0.3/tcp/51234', 35581, id(1)), `/ip4/10.213.0.3/tcp/35581/p2p/${id(1)}`)
  assert.is(dialAddress('/ip6/::1/tcp/51234/p2p/x', 4001, id(1)), `/ip6/::1/tcp/4001/p2p/${id(1)}`)
  assert.is(dialAddress('/memory/abc', 4001, id(1)), undefined)
})

test('shards cover every value once, on element boundaries, sizes differing by at most one', () => {
  for (const [elements, count] of [[10, 3], [7, 7], [1_000_003, 16], [5, 8]]) {
    const ranges = shardRanges(elements, count)
    assert.is(ranges.length, count)
    assert.is(ranges[0].start, 0)
    assert.is(ranges[count - 1].end, elements)
    ranges.forEach((r, i) => { if (i > 0) assert.is(r.start, ranges[i - 1].end) })
    const sizes = ranges.map(r => r.end - r.start)
    assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1, `${elements}/${count}: ${sizes.join(',')}`)
  }
})

test.run()
