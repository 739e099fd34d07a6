import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { SeedOffers } from '../../../src/swarm/seed-offers.js'

test('every piece is shown to someone once before any piece is shown twice', () => {
  const offers = new SeedOffers<string>(40, { pieces: 2, widePieces: 8 })
  const peers = ['a', 'b', 'c', 'd']
  for (const p of peers) offers.addPeer(p)
  const shown: number[] = []
  // Peers take what they are shown (HAVE back), round after round, until every piece went out once.
  while (shown.length < 40) {
    for (const p of peers) {
      const next = offers.next(p)
      shown.push(...next)
      for (const i of next) offers.peerHas(p, i)
    }
  }
  assert.is(new Set(shown.slice(0, 40)).size, 40, 'the first 40 pieces shown are 40 different pieces')
})

test('once every piece went out, a peer that trades gets a second copy only after what it was given reached another peer', () => {
  const offers = new SeedOffers<string>(4, { pieces: 1, widePieces: 8 })
  offers.addPeer('a'); offers.addPeer('b')
  assert.equal([offers.next('a'), offers.next('b')], [[0], [1]])
  assert.equal(offers.sent('a', 0, 0, 1000, 1000), [2], 'a first copy as soon as the slot is free')
  assert.equal(offers.sent('b', 1, 0, 1000, 1000), [3], 'every piece is out once now')
  offers.peerHas('b', 0) // b got piece 0 from a, and a piece 1 from b: both trade
  offers.peerHas('a', 1)
  assert.equal(offers.sent('a', 2, 0, 1000, 1000), [], 'piece 2 reached nobody yet: a second copy of piece 3 waits')
  offers.peerHas('b', 2)
  assert.equal(offers.next('a'), [3], 'a passed piece 2 on: it is shown piece 3, a second copy')
})

test('a peer never seen to trade (no tracker, unreachable) gets second copies at once: its pieces cannot reach anyone', () => {
  const offers = new SeedOffers<string>(4, { pieces: 2, widePieces: 8 })
  offers.addPeer('a'); offers.addPeer('b')
  const toA = offers.next('a')
  const toB = offers.next('b')
  for (const i of toB) offers.sent('b', i, 0, 1000, 1000)
  const second = toA.flatMap(i => offers.sent('a', i, 0, 1000, 1000))
  assert.equal(second.sort(), [...toB].sort(), 'a lacks b\'s pieces and got none from b: the server sends them')
})

test('a peer sees at most `window` pieces it lacks; getting one (from anyone) frees a slot', () => {
  const offers = new SeedOffers<string>(10, { pieces: 2, widePieces: 8 })
  offers.addPeer('a'); offers.addPeer('b')
  const first = offers.next('a')
  assert.is(first.length, 2)
  assert.equal(offers.next('a'), [], 'window full')
  offers.peerHas('a', first[0])
  assert.is(offers.next('a').length, 1)
  offers.peerHas('a', 9) // got piece 9 from another client, never shown by the server
  assert.equal(offers.next('a'), [], 'that frees nothing: it was not one of the shown pieces')
})

test('a piece whose last byte went out frees its slot, so a peer that sends HAVEs late is not starved', () => {
  const offers = new SeedOffers<string>(10, { pieces: 2, widePieces: 8 })
  offers.addPeer('a'); offers.addPeer('b')
  const [p, q] = offers.next('a')
  assert.equal(offers.sent('a', p, 0, 16384, 32768), [], 'half the piece: still in the window')
  assert.equal(offers.sent('a', p, 0, 16384, 32768), [], 'the same block again counts once')
  const more = offers.sent('a', p, 16384, 16384, 32768)
  assert.is(more.length, 1, 'the whole piece went out: one more piece is shown')
  assert.ok(offers.isOffered('a', p), 'the piece sent stays requestable (a block may be asked again)')
  const neverShown = [...Array(10).keys()].find(i => !offers.isOffered('a', i))!
  assert.equal(offers.sent('a', neverShown, 0, 32768, 32768), [], 'a piece never shown frees nothing')
  offers.peerHas('a', p) // the late HAVE
  assert.equal(offers.next('a'), [], 'the late HAVE frees no second slot')
  assert.equal(offers.next('b').length, 2)
  const shownTwice = [p, q, ...more].filter(i => offers.isOffered('b', i))
  assert.equal(shownTwice, [], 'b is shown pieces nobody holds before those a was given')
})

test('a standard client is shown the wide window, a bt-ps peer the narrow one', () => {
  const offers = new SeedOffers<string>(20, { pieces: 2, widePieces: 8 })
  offers.addPeer('bt-ps'); offers.addPeer('transmission', true)
  assert.is(offers.next('bt-ps').length, 2)
  const wide = offers.next('transmission')
  assert.is(wide.length, 8)
  assert.equal(wide.filter(i => offers.isOffered('bt-ps', i)), [], 'still pieces nobody else was shown')
})

test('a standard client\'s window deepens by a piece per piece it takes, up to half the model, with others in the swarm too', () => {
  const offers = new SeedOffers<string>(40, { pieces: 2, widePieces: 8 })
  offers.addPeer('bt-ps'); offers.addPeer('transmission', true)
  offers.next('bt-ps')
  let shown = offers.next('transmission')
  const windows: number[] = []
  for (let n = 0; n < 16; n++) {
    shown = [...shown.slice(1), ...offers.sent('transmission', shown[0], 0, 65536, 65536)]
    windows.push(shown.length)
  }
  assert.equal(windows, [9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 20, 20, 20, 20], 'as a client that asks once a second needs, to keep pace with a fast link')
})

test('a lone bt-ps peer\'s window deepens by a piece per piece it takes, up to `deepPieces`; with others it stays narrow', () => {
  const offers = new SeedOffers<string>(64, { pieces: 2, deepPieces: 32, widePieces: 16 })
  offers.addPeer('a')
  let shown = offers.next('a')
  assert.is(shown.length, 2, 'it starts at two pieces')
  const depths: number[] = []
  for (let n = 0; n < 10; n++) {
    shown = [...shown.slice(1), ...offers.sent('a', shown[0], 0, 65536, 65536)]
    depths.push(shown.length)
  }
  assert.equal(depths, [3, 4, 5, 6, 7, 8, 8, 8, 8, 8], 'one deeper per piece sent, at most an eighth of the model (8 of 64)')
  offers.addPeer('b')
  shown = [...shown.slice(1), ...offers.sent('a', shown[0], 0, 65536, 65536)]
  assert.is(shown.length, 7, 'another peer came: no more pieces are shown to a until its window is back to two')
  assert.is(offers.next('b').length, 2)
  const small = new SeedOffers<string>(7, { pieces: 2, deepPieces: 32, widePieces: 16 })
  small.addPeer('a')
  let open = small.next('a')
  for (let n = 0; n < 3; n++) open = [...open.slice(1), ...small.sent('a', open[0], 0, 65536, 65536)]
  assert.is(open.length, 2, 'a model of 7 pieces: the first peer to connect is shown two at a time, the later ones find pieces nobody holds')
})

test('pieces the peer already holds are never shown; the least-held piece goes first', () => {
  const offers = new SeedOffers<string>(4, { pieces: 1, widePieces: 8 })
  for (const p of ['a', 'b', 'c']) offers.addPeer(p)
  for (const i of [0, 1, 2]) offers.peerHas('a', i)
  for (const i of [0, 1]) offers.peerHas('b', i)
  assert.equal(offers.next('c'), [3], 'held by nobody')
  assert.equal(offers.next('b'), [2], 'b lacks 2 and 3, each held or shown once: the tie goes in turn')
  assert.equal(offers.next('a'), [3], 'a lacks only 3')
})

test('a peer that leaves no longer counts as holding its pieces', () => {
  const offers = new SeedOffers<string>(2, { pieces: 1, widePieces: 8 })
  offers.addPeer('a'); offers.addPeer('b')
  offers.peerHas('a', 0)
  offers.removePeer('a')
  offers.addPeer('c')
  assert.equal(offers.next('c'), [0], 'piece 0 is held by nobody again, so it comes first')
})

/** Three peers; `a` trades (it announced a piece the server gave `b`) and was given four pieces it announced. */
function tradingPeerGivenFour (clock: { ms: number }): { offers: SeedOffers<string>, given: number[] } {
  const offers = new SeedOffers<string>(40, { pieces: 2, widePieces: 8 }, () => clock.ms)
  for (const p of ['a', 'b', 'c']) offers.addPeer(p)
  const [toB] = offers.next('b')
  offers.sent('b', toB, 0, 1000, 1000)
  offers.peerHas('b', toB)
  offers.peerHas('a', toB)
  const given: number[] = []
  const window = offers.next('a')
  while (given.length < 4) {
    const i = window.shift()!
    given.push(i)
    window.push(...offers.sent('a', i, 0, 1000, 1000))
    offers.peerHas('a', i)
  }
  assert.is(window.length, 1, 'the fourth piece given freed no slot')
  return { offers, given }
}

test('a trading peer whose last pieces from the server have not spread is shown nothing new until they have', () => {
  const { offers, given } = tradingPeerGivenFour({ ms: 0 })
  assert.equal(offers.next('a'), [], 'four pieces given to a are held by a alone: its uplink is still passing them on')
  assert.is(offers.next('c').length, 2, 'the others are still shown pieces')
  assert.equal(offers.peerHas('b', given[0]), ['a'], 'half the other peers hold one of them now: a may be shown more')
  assert.is(offers.next('a').length, 1)
})

test('pieces that do not spread hold the peer back for two seconds at most (its peers may have stopped taking them)', () => {
  const clock = { ms: 0 }
  const { offers } = tradingPeerGivenFour(clock)
  clock.ms = 1999
  assert.equal(offers.next('a'), [])
  clock.ms = 2000
  assert.is(offers.next('a').length, 1)
})

test('with `inFlight`, bt-ps peers together have at most that many pieces shown and not announced back, longest waiting served first', () => {
  const clock = { ms: 0 }
  const offers = new SeedOffers<string>(40, { pieces: 2, widePieces: 8, inFlight: 4 }, () => clock.ms)
  for (const p of ['a', 'b', 'c']) offers.addPeer(p)
  clock.ms = 1
  const toA = offers.next('a')
  clock.ms = 2
  assert.is(offers.next('b').length, 2)
  assert.equal(offers.next('c'), [], 'four pieces on their way: c waits')
  assert.equal(offers.sent('a', toA[0], 0, 1000, 1000), [], 'written to a is not arrived: still no room')
  clock.ms = 3
  assert.equal(offers.peerHas('a', toA[0]), ['c', 'a'], 'a announced it: the peers with room in their window, c (never shown a piece) first')
  assert.is(offers.next('c').length, 1, 'one piece came back: one more may go')
  assert.equal(offers.next('a'), [])
  const wide = new SeedOffers<string>(40, { pieces: 2, widePieces: 8, inFlight: 4 })
  wide.addPeer('a'); wide.addPeer('b'); wide.addPeer('transmission', true)
  wide.next('a'); wide.next('b')
  assert.is(wide.next('transmission').length, 8, 'a standard client (it may never announce) is not held to it')
})

test('the room in flight is what came back over the last half second, and pieces never announced stop counting after two seconds', () => {
  const clock = { ms: 0 }
  const offers = new SeedOffers<string>(64, { pieces: 2, widePieces: 8, inFlight: 2 }, () => clock.ms)
  for (const p of ['a', 'b', 'c', 'd', 'e', 'f']) offers.addPeer(p)
  const arrive = (p: string, pieces: number[]): void => { for (const i of pieces) offers.peerHas(p, i) }
  arrive('a', offers.next('a'))
  const toB = offers.next('b')
  assert.equal(offers.next('c'), [], 'two came back, two are on their way')
  arrive('b', toB)
  const out = [...offers.next('c'), ...offers.next('d')]
  assert.is(out.length, 4, 'four came back within half a second: four may be on their way')
  assert.equal(offers.next('e'), [])
  clock.ms = 501
  assert.equal(offers.next('e'), [], 'nothing came back for half a second: the floor of two, and four are out')
  for (const i of out) for (const p of ['c', 'd']) if (offers.isOffered(p, i)) offers.sent(p, i, 0, 1000, 1000)
  clock.ms = 2000
  assert.is(offers.next('e').length, 2, 'two seconds on, the four never announced no longer count')
  assert.equal(offers.next('f'), [])
})

test.run()
