import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { createHash, randomBytes } from 'node:crypto'
import { createServer } from 'node:net'
import type { AddressInfo, Socket } from 'node:net'
import { FALLBACK_CEILING, fetchFromSwarm } from '../../../src/client/swarm-fetch.js'
import { silentLogger } from '../../../src/logger.js'
import { createMetainfo, magnetUri } from '../../../src/swarm/metainfo.js'
import { SwarmPeer } from '../../../src/swarm/swarm-peer.js'
import { HANDSHAKE_BYTES, MSG, encodeHandshake } from '../../../src/swarm/wire.js'

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

test('a swarm that gives nothing: after fallback_s the model comes over the direct stream', async () => {
  const client = new SwarmPeer({ announce: [], log: silentLogger() })
  await client.start()
  try {
    const bytes = randomBytes(300_000)
    // No one serves this torrent: the stand-in for a seed whose slots are all taken.
    const magnet = magnetUri(createMetainfo(bytes, 'm.btps', 64 * 1024), [])
    let asked = 0
    const t0 = performance.now()
    const got = await fetchFromSwarm(client, magnet, { sha256: sha256(bytes), directPeers: [], fallbackS: 1, log: silentLogger(), signal: AbortSignal.timeout(10_000) }, async () => { asked++; return bytes })
    const waited = (performance.now() - t0) / 1000
    assert.ok(got.fellBack)
    assert.is(asked, 1)
    assert.ok(Buffer.from(got.bytes).equals(bytes))
    assert.is(got.fromServer, bytes.length)
    assert.ok(waited >= 1 && waited < 3, `fell back after ${waited.toFixed(2)} s`)
  } finally {
    await client.stop()
  }
})

test('a working swarm: no fallback, however long the whole download takes', async () => {
  // The seed's upload is capped so the download takes ~2 s, longer than fallback_s, with bytes arriving throughout.
  const seeder = new SwarmPeer({ announce: [], log: silentLogger(), uploadLimit: 500_000 })
  const client = new SwarmPeer({ announce: [], log: silentLogger() })
  await seeder.start(); await client.start()
  try {
    const bytes = randomBytes(1_000_000)
    const seed = await seeder.seed(bytes, 'm.btps')
    const got = await fetchFromSwarm(client, seed.magnet, { sha256: sha256(bytes), serverPeerId: seeder.peerId, directPeers: [`127.0.0.1:${seeder.port}`], fallbackS: 1, log: silentLogger(), signal: AbortSignal.timeout(20_000) }, async () => { throw new Error('must not be asked') })
    assert.not.ok(got.fellBack)
    assert.ok(Buffer.from(got.bytes).equals(bytes))
    assert.is(got.fromServer, bytes.length)
  } finally {
    await client.stop(); await seeder.stop()
  }
})

/**
 * A peer that answers the handshake and then only announces pieces, a new one every `everyMs`, and never unchokes:
 * a swarm at work that has no turn for this client yet.
 */
async function announcingPeer (infoHash: string, pieces: number, everyMs: number): Promise<{ port: number, close: () => Promise<void> }> {
  const sockets = new Set<Socket>()
  const server = createServer(socket => {
    sockets.add(socket)
    socket.on('error', () => {})
    let got = 0
    let timer: NodeJS.Timeout | undefined
    socket.on('data', (d: Buffer) => {
      got += d.byteLength
      if (got < HANDSHAKE_BYTES || timer != null) return
      socket.write(encodeHandshake(infoHash, Buffer.from('-TR3000-announcesonly').subarray(0, 20).toString('hex')))
      let next = 0
      timer = setInterval(() => {
        if (next >= pieces || socket.destroyed) { clearInterval(timer); return }
        const have = Buffer.alloc(9)
        have.writeUInt32BE(5, 0); have[4] = MSG.have; have.writeUInt32BE(next++, 5)
        socket.write(have)
      }, everyMs)
    })
    socket.once('close', () => { clearInterval(timer); sockets.delete(socket) })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => { for (const s of sockets) s.destroy(); await new Promise(resolve => server.close(resolve)) }
  }
}

test('peers announcing new pieces keep a client waiting for its turn past fallback_s, up to the ceiling', async () => {
  // The seed gives its first 64 KiB (the limiter's burst) and then nothing for hours; a second peer announces a
  // new piece every 100 ms (64 pieces: 6.4 s of news) and never unchokes.
  const seeder = new SwarmPeer({ announce: [], log: silentLogger(), uploadLimit: 1, capLoopback: true })
  const client = new SwarmPeer({ announce: [], log: silentLogger() })
  await seeder.start(); await client.start()
  const bytes = randomBytes(1 << 20)
  const seed = await seeder.seed(bytes, 'm.btps', 16 * 1024)
  const news = await announcingPeer(seed.infoHash, 64, 100)
  try {
    let asked = 0
    let heard = 0
    const sample = setInterval(() => { heard = Math.max(heard, client.announced(seed.infoHash)) }, 50)
    const t0 = performance.now()
    const got = await fetchFromSwarm(client, seed.magnet, { sha256: sha256(bytes), directPeers: [`127.0.0.1:${seeder.port}`, `127.0.0.1:${news.port}`], fallbackS: 0.5, log: silentLogger(), signal: AbortSignal.timeout(20_000) }, async () => { asked++; return bytes })
    const waited = (performance.now() - t0) / 1000
    clearInterval(sample)
    assert.ok(got.fellBack)
    assert.is(asked, 1)
    assert.ok(heard >= 20, `the client heard of ${heard} pieces`)
    // Without the news it falls back 0.5 s after the seed's last byte; with it, FALLBACK_CEILING times that.
    assert.ok(waited >= FALLBACK_CEILING * 0.5 && waited < FALLBACK_CEILING * 0.5 + 3, `fell back after ${waited.toFixed(2)} s`)
  } finally {
    await news.close(); await client.stop(); await seeder.stop()
  }
})

test('a round that ends while waiting on the swarm ends the fetch; the direct stream is not tried', async () => {
  const client = new SwarmPeer({ announce: [], log: silentLogger() })
  await client.start()
  try {
    const bytes = randomBytes(100_000)
    const magnet = magnetUri(createMetainfo(bytes, 'm.btps', 64 * 1024), [])
    const round = new AbortController()
    setTimeout(() => { round.abort() }, 300)
    let err: unknown
    try {
      await fetchFromSwarm(client, magnet, { sha256: sha256(bytes), directPeers: [], fallbackS: 5, log: silentLogger(), signal: round.signal }, async () => { throw new Error('must not be asked') })
    } catch (e) { err = e }
    assert.match(String((err as Error)?.message), /aborted/)
  } finally {
    await client.stop()
  }
})

test.run()
