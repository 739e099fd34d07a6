import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { createHash, randomBytes } from 'node:crypto'
import { fetchFromSwarm } from '../../../src/client/swarm-fetch.js'
import { silentLogger } from '../../../src/logger.js'
import { createMetainfo, magnetUri } from '../../../src/swarm/metainfo.js'
import { SwarmPeer } from '../../../src/swarm/swarm-peer.js'

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
