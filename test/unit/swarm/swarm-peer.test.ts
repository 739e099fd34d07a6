import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { createHash, randomBytes } from 'node:crypto'
import parseTorrent from 'parse-torrent'
import { connect } from 'node:net'
import { choosePieceLength } from '../../../src/swarm/piece-length.js'
import { SwarmPeer } from '../../../src/swarm/swarm-peer.js'
import { TrackerService } from '../../../src/tracker/tracker-service.js'
import { createLogger, silentLogger } from '../../../src/logger.js'
import { encodeHandshake } from '../../../src/swarm/wire.js'
import { CorruptSeeder } from '../../support/corrupt-seeder.js'
import { RateLimiter } from '../../../src/net/rate-limiter.js'

test('piece length: a power of two in [64 KiB, 4 MiB], at most ~2048 pieces', () => {
  assert.is(choosePieceLength(100), 64 * 1024)
  assert.is(choosePieceLength(128 * 1024 * 1024), 64 * 1024)
  assert.is(choosePieceLength(128 * 1024 * 1024 + 1), 128 * 1024)
  assert.is(choosePieceLength(1 << 30), 512 * 1024)
  assert.is(choosePieceLength(64 * 1024 ** 3), 4 * 1024 * 1024)
  for (const n of [1e3, 1e6, 3.3e6, 1e8, 1e9, 5e9]) {
    const p = choosePieceLength(n)
    assert.is(p & (p - 1), 0)
    assert.ok(Math.ceil(n / p) <= 2048 || p === 4 * 1024 * 1024)
  }
})

test('a seeded model is a standard v1 torrent whose piece hashes are the SHA-1 of each piece', async () => {
  const peer = new SwarmPeer({ announce: ['udp://127.0.0.1:1'], log: silentLogger() })
  await peer.start()
  try {
    const bytes = randomBytes(300 * 1024 + 17)
    const seed = await peer.seed(bytes, 'model.btps')
    const t = await parseTorrent(seed.torrentFile)
    assert.is(t.infoHash, seed.infoHash)
    assert.is(t.length, bytes.length)
    assert.is(t.pieceLength, 64 * 1024)
    assert.is(t.pieces?.length, 5)
    t.pieces?.forEach((hash, i) => {
      assert.is(hash, createHash('sha1').update(bytes.subarray(i * 65536, (i + 1) * 65536)).digest('hex'), `piece ${i}`)
    })
    assert.match(seed.magnet, new RegExp(`^magnet:\\?xt=urn:btih:${seed.infoHash}`))
  } finally {
    await peer.stop()
  }
})

test('two peers and a tracker: the leecher gets the verified bytes; a wrong announced hash is refused', async () => {
  const tracker = new TrackerService({ host: '127.0.0.1', port: 0, announceIntervalS: 1, log: silentLogger() })
  await tracker.start()
  const seeder = new SwarmPeer({ announce: [tracker.announceUrls.udp], log: silentLogger() })
  const leecher = new SwarmPeer({ announce: [tracker.announceUrls.http], log: silentLogger() })
  await seeder.start(); await leecher.start()
  try {
    const bytes = randomBytes(1 << 20)
    const seed = await seeder.seed(bytes, 'm.btps')
    const sha256 = createHash('sha256').update(bytes).digest('hex')
    const got = await leecher.download(seed.magnet, { sha256, serverPeerId: seeder.peerId, signal: AbortSignal.timeout(30_000) })
    assert.ok(Buffer.from(got.bytes).equals(bytes))
    assert.is(got.fromServer, bytes.length)
    assert.is(got.fromPeers, 0)
    assert.ok(seeder.uploaded(seed.infoHash) >= bytes.length)
    const stats = await (await fetch(tracker.announceUrls.http.replace('/announce', '/stats.json'))).json() as { torrents: number, peersAll: number }
    assert.is(stats.torrents, 1, 'the tracker\'s /stats knows the swarm')
    assert.is(stats.peersAll, 2, 'one peer announced over UDP, the other over HTTP, same port')
    await leecher.remove(seed.infoHash)
    let err: unknown
    try { await leecher.download(seed.magnet, { sha256: '0'.repeat(64), directPeers: [`127.0.0.1:${seeder.port}`], signal: AbortSignal.timeout(30_000) }) } catch (e) { err = e }
    assert.match(String((err as Error).message), /sha256/)
  } finally {
    await leecher.stop(); await seeder.stop(); await tracker.stop()
  }
})

test('a round\'s server that goes quiet is waited for: its late block is taken, not asked for and sent again', async () => {
  const seeder = new SwarmPeer({ announce: ['udp://127.0.0.1:1'], log: silentLogger() })
  const leecher = new SwarmPeer({ announce: ['udp://127.0.0.1:1'], log: silentLogger() })
  await seeder.start(); await leecher.start()
  // Served at 1.5 KiB/s after a 64 KiB burst: the fifth 16 KiB block goes out ~11 s after the fourth, past the 8 s
  // after which another peer's requests are withdrawn (its late block thrown away, and asked for again).
  seeder.limitLinks(new RateLimiter(1536))
  try {
    const bytes = randomBytes(80 * 1024)
    const seed = await seeder.seed(bytes, 'm.btps')
    const sha256 = createHash('sha256').update(bytes).digest('hex')
    const got = await leecher.download(seed.magnet, { sha256, serverPeerId: seeder.peerId, directPeers: [`127.0.0.1:${seeder.port}`], signal: AbortSignal.timeout(30_000) })
    assert.ok(Buffer.from(got.bytes).equals(bytes))
    assert.is(seeder.uploaded(seed.infoHash), bytes.length, 'the server sent every block once')
  } finally {
    await leecher.stop(); await seeder.stop()
  }
})

test('a peer that dialled in is not dialled back when the tracker lists it, nor a peer itself: one connection, kept from the start', async () => {
  const tracker = new TrackerService({ host: '127.0.0.1', port: 0, announceIntervalS: 1, log: silentLogger() })
  await tracker.start()
  const lines: string[] = []
  const log = createLogger({ level: 'debug', write: line => { lines.push(line) } })
  const seeder = new SwarmPeer({ announce: [tracker.announceUrls.http], log: log.child({ side: 'seeder' }) })
  const leecher = new SwarmPeer({ announce: [tracker.announceUrls.http], log: log.child({ side: 'leecher' }) })
  await seeder.start(); await leecher.start()
  // Served at 256 KiB/s, the download lasts 4 s: the seeder announces every second (the tracker's interval) and is
  // told the leecher's address while it still downloads.
  seeder.limitLinks(new RateLimiter(256 * 1024))
  try {
    const bytes = randomBytes(1 << 20)
    const seed = await seeder.seed(bytes, 'm.btps')
    const sha256 = createHash('sha256').update(bytes).digest('hex')
    await leecher.download(seed.magnet, { sha256, serverPeerId: seeder.peerId, signal: AbortSignal.timeout(30_000) })
    const joined = lines.filter(l => l.includes('peer joined'))
    assert.equal(lines.filter(l => l.includes('duplicate connection')), [], 'no second connection to close')
    assert.is(joined.length, 2, `one connection, seen from each side: ${joined.join('\n')}`)
    // The tracker lists each peer its own address too: dialled once, then known by the peer id that answered.
    const selfDials = (side: string): number => lines.filter(l => l.includes(`side=${side}`) && l.includes('our own address')).length
    assert.ok(selfDials('seeder') <= 1 && selfDials('leecher') <= 1, `each peer dialled itself at most once in 4 s of announces every second: ${lines.filter(l => l.includes('our own address')).join('\n')}`)
  } finally {
    await leecher.stop(); await seeder.stop(); await tracker.stop()
  }
})

test('across rounds a peer downloads only the pieces whose bytes changed; one that holds nothing gets every piece', async () => {
  const tracker = new TrackerService({ host: '127.0.0.1', port: 0, announceIntervalS: 1, log: silentLogger() })
  await tracker.start()
  const announce = [tracker.announceUrls.http]
  const seeder = new SwarmPeer({ announce, log: silentLogger() })
  const held = new SwarmPeer({ announce, log: silentLogger() })
  const fresh = new SwarmPeer({ announce, log: silentLogger() })
  await seeder.start(); await held.start(); await fresh.start()
  const PIECE = 64 * 1024
  const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')
  // Each round changes piece 0 (the header) and a few others; the rest keep their bytes.
  const rounds = [randomBytes(32 * PIECE)]
  const changed = [[], [0, 24, 25, 26, 27, 28, 29, 30, 31], [0, 5, 6, 30]]
  for (const pieces of changed.slice(1)) {
    const next = Buffer.from(rounds[rounds.length - 1])
    for (const i of pieces) randomBytes(PIECE).copy(next, i * PIECE)
    rounds.push(next)
  }
  try {
    for (let r = 0; r < rounds.length; r++) {
      const seed = await seeder.seed(rounds[r], `m-${r}.btps`)
      const got = await held.download(seed.magnet, { sha256: sha256(rounds[r]), serverPeerId: seeder.peerId, directPeers: [`127.0.0.1:${seeder.port}`], signal: AbortSignal.timeout(30_000) })
      assert.ok(Buffer.from(got.bytes).equals(rounds[r]), `round ${r}: identical bytes`)
      assert.is(got.reused, r === 0 ? 0 : (32 - changed[r].length) * PIECE, `round ${r}: pieces held reused`)
      assert.is(got.fromServer + got.fromPeers, changed[r].length === 0 ? 32 * PIECE : changed[r].length * PIECE, `round ${r}: only changed pieces downloaded`)
      if (r === rounds.length - 1) {
        // A peer with nothing from earlier rounds gets the whole file, some of it from the peer that reused pieces.
        const whole = await fresh.download(seed.magnet, { sha256: sha256(rounds[r]), serverPeerId: seeder.peerId, directPeers: [`127.0.0.1:${seeder.port}`, `127.0.0.1:${held.port}`], signal: AbortSignal.timeout(30_000) })
        assert.ok(Buffer.from(whole.bytes).equals(rounds[r]))
        assert.is(whole.reused, 0)
        assert.is(whole.fromServer + whole.fromPeers, 32 * PIECE)
      }
      await held.remove(seed.infoHash)
      await seeder.remove(seed.infoHash)
    }
  } finally {
    await fresh.stop(); await held.stop(); await seeder.stop(); await tracker.stop()
  }
})

test('a device profile\'s links: the downlink cap paces what a peer reads, the uplink cap what it serves', async () => {
  const tracker = new TrackerService({ host: '127.0.0.1', port: 0, announceIntervalS: 1, log: silentLogger() })
  await tracker.start()
  const announce = [tracker.announceUrls.http]
  const seeder = new SwarmPeer({ announce, log: silentLogger() })
  const leecher = new SwarmPeer({ announce, log: silentLogger() })
  await seeder.start(); await leecher.start()
  const RATE = 256 * 1024
  // The caps allow a 64 KiB burst, and a reader pays for a block after reading it (one socket read, up to 64 KiB, may
  // be in hand): the rest of the megabyte takes at least 14/16 of 4 s.
  const floorS = ((1 << 20) - 2 * 64 * 1024) / RATE
  try {
    for (const capped of ['downlink', 'uplink'] as const) {
      if (capped === 'downlink') leecher.limitLinks(undefined, RATE)
      else { leecher.limitLinks(undefined, undefined); seeder.limitLinks(new RateLimiter(RATE)) }
      // New bytes each time: the leecher would reuse the pieces it holds.
      const bytes = randomBytes(1 << 20)
      const sha256 = createHash('sha256').update(bytes).digest('hex')
      const seed = await seeder.seed(bytes, `m-${capped}.btps`)
      const got = await leecher.download(seed.magnet, { sha256, directPeers: [`127.0.0.1:${seeder.port}`], signal: AbortSignal.timeout(30_000) })
      assert.ok(Buffer.from(got.bytes).equals(bytes))
      assert.ok(got.seconds >= floorS, `${capped} cap of ${RATE} B/s: 1 MiB in ${got.seconds.toFixed(2)} s`)
      console.log(`  ${capped} capped at ${RATE / 1024} KiB/s: 1 MiB in ${got.seconds.toFixed(2)} s (at least ${floorS.toFixed(2)} s)`)
      await leecher.remove(seed.infoHash); await seeder.remove(seed.infoHash)
    }
  } finally {
    await leecher.stop(); await seeder.stop(); await tracker.stop()
  }
})

test('pieces that fail their hash (a peer serving corrupt data) are fetched again, that peer is banned; the model is bit-exact', async () => {
  const tracker = new TrackerService({ host: '127.0.0.1', port: 0, announceIntervalS: 1, log: silentLogger() })
  await tracker.start()
  const announce = [tracker.announceUrls.udp]
  const good = new SwarmPeer({ announce, log: silentLogger() })
  const leecher = new SwarmPeer({ announce, log: silentLogger() })
  await good.start(); await leecher.start()
  const bytes = randomBytes(1 << 20)
  const seed = await good.seed(bytes, 'm.btps')
  const rogue = new CorruptSeeder(seed.infoHash, seed.pieces)
  const roguePort = await rogue.listen('127.0.0.1')
  try {
    // The rogue is dialled first and claims everything; the honest seeder only shows a few pieces at a time.
    const got = await leecher.download(seed.magnet, { sha256: createHash('sha256').update(bytes).digest('hex'), directPeers: [`127.0.0.1:${roguePort}`, `127.0.0.1:${good.port}`], signal: AbortSignal.timeout(60_000) })
    assert.ok(Buffer.from(got.bytes).equals(bytes), 'the downloaded model is bit-exact')
    assert.ok(got.hashFailures > 0, 'the rogue peer served pieces that failed verification')
    assert.is(got.hashFailures, 1, 'one bad piece was enough to ban the rogue')
    assert.is(rogue.connections, 1, 'a banned peer is not dialled again')
  } finally {
    rogue.close()
    await leecher.stop(); await good.stop(); await tracker.stop()
  }
})

test('malformed wire messages close that connection only; the seeder keeps serving others', async () => {
  const seeder = new SwarmPeer({ announce: [], log: silentLogger() })
  const leecher = new SwarmPeer({ announce: [], log: silentLogger() })
  await seeder.start(); await leecher.start()
  try {
    const bytes = randomBytes(300_000)
    const seed = await seeder.seed(bytes, 'm.btps')
    const attacks = [
      Buffer.from([0, 0x10, 0, 0, 7]), // a 1 MiB+ message: over the limit
      Buffer.from([0, 0, 0, 5, 4, 0, 0, 0x7f, 0xff]), // HAVE for a piece that does not exist
      Buffer.from([0, 0, 0, 13, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0]), // a 256 MiB request
      Buffer.from([0, 0, 0, 3, 20, 0, 0x78]) // an extension handshake that is not bencoded
    ]
    for (const attack of attacks) {
      const closed = await new Promise<boolean>((resolve) => {
        const s = connect(seeder.port, '127.0.0.1', () => { s.write(Buffer.concat([encodeHandshake(seed.infoHash, randomBytes(20).toString('hex')), attack])) })
        s.on('error', () => {})
        s.resume() // read, so the seeder's FIN is seen
        s.on('close', () => { resolve(true) })
        setTimeout(() => { s.destroy(); resolve(false) }, 3000)
      })
      assert.ok(closed, `the seeder hung up on ${attack.toString('hex')}`)
    }
    const got = await leecher.download(seed.magnet, { sha256: createHash('sha256').update(bytes).digest('hex'), directPeers: [`127.0.0.1:${seeder.port}`], signal: AbortSignal.timeout(20_000) })
    assert.ok(Buffer.from(got.bytes).equals(bytes), 'an honest peer still gets the model')
  } finally {
    await leecher.stop(); await seeder.stop()
  }
})

test.run()
