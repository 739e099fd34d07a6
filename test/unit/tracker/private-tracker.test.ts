import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { randomBytes } from 'node:crypto'
import { Client as TrackerClient } from 'bittorrent-tracker'
import { createLogger } from '../../../src/logger.js'
import { TrackerService } from '../../../src/tracker/tracker-service.js'
import { RegisteredTorrents, registrationProof, registrationUrl } from '../../../src/tracker/registration.js'
import { TorrentRegistrar } from '../../../src/server/torrent-registrar.js'
import { bdecode, isDict } from '../../../src/swarm/bencode.js'

const psk = new TextEncoder().encode('/key/swarm/psk/1.0.0/\n/base16/\n' + randomBytes(32).toString('hex'))
const silent = createLogger({ level: 'error' })

/** One announce with bittorrent-tracker's own client: resolves with the failure reason, or 'ok'. */
async function announce (url: string, infoHash: string): Promise<string> {
  const client = new TrackerClient({ infoHash, peerId: randomBytes(20).toString('hex'), announce: [url], port: 6881 })
  try {
    return await new Promise<string>((resolve) => {
      client.on('update', () => { resolve('ok') })
      client.on('warning', (err: unknown) => { resolve(String(err)) })
      client.on('error', (err: unknown) => { resolve(String(err)) })
      client.start()
    })
  } finally {
    client.destroy()
  }
}

test('a registration proof counts once and only near its time: one seen on the wire cannot be replayed', () => {
  const reg = new RegisteredTorrents(psk)
  const ih = 'ab'.repeat(20)
  const now = Date.now()
  const proof = `Bearer ${registrationProof(psk, ih, now)}`
  assert.is(reg.register('POST', `/bt-ps/torrents/${ih}`, proof, now).status, 204)
  assert.equal(reg.register('POST', `/bt-ps/torrents/${ih}`, proof, now + 1000), { status: 401, reason: 'proof already used: a replay' })
  const old = `Bearer ${registrationProof(psk, ih, now - 120_000)}`
  assert.equal(reg.register('POST', `/bt-ps/torrents/${ih}`, old, now), { status: 401, reason: 'proof made 120 s from the tracker\'s clock (at most 60 s): a replay, or the hosts\' clocks disagree' })
  // Changing the time or the nonce of a captured proof breaks its MAC.
  const [, nonce, mac] = registrationProof(psk, ih, now).split('.')
  assert.is(reg.register('POST', `/bt-ps/torrents/${ih}`, `Bearer ${now + 5}.${nonce}.${mac}`, now).status, 401)
  assert.is(reg.register('POST', `/bt-ps/torrents/${ih}`, `Bearer ${registrationProof(psk, ih, now + 30_000)}`, now).status, 204, 'a clock 30 s ahead is within the window')
})

test('registration proofs: only the job\'s key registers; malformed requests name what is wrong; the set is bounded', () => {
  const reg = new RegisteredTorrents(psk, 2)
  const ih = (n: number): string => n.toString(16).padStart(40, '0')
  assert.is(reg.register('POST', `/bt-ps/torrents/${ih(1)}`, `Bearer ${registrationProof(psk, ih(1))}`).status, 204)
  assert.ok(reg.has(ih(1)))
  const other = new TextEncoder().encode('another key')
  assert.equal(reg.register('POST', `/bt-ps/torrents/${ih(2)}`, `Bearer ${registrationProof(other, ih(2))}`), { status: 401, reason: 'proof does not match this job\'s key' })
  assert.is(reg.register('POST', `/bt-ps/torrents/${ih(2)}`, `Bearer ${registrationProof(psk, ih(1))}`).status, 401, 'a proof for one torrent does not register another')
  assert.is(reg.register('POST', `/bt-ps/torrents/${ih(2)}`, undefined).status, 401)
  assert.is(reg.register('GET', `/bt-ps/torrents/${ih(2)}`, `Bearer ${registrationProof(psk, ih(2))}`).status, 405)
  assert.match((reg.register('POST', '/bt-ps/torrents/XYZ', 'Bearer 00') as { reason: string }).reason, /40 lowercase hex/)
  assert.is(reg.register('POST', '/bt-ps/other', undefined).status, 404)
  assert.not.ok(reg.has(ih(2)))
  reg.register('POST', `/bt-ps/torrents/${ih(2)}`, `Bearer ${registrationProof(psk, ih(2))}`)
  reg.register('POST', `/bt-ps/torrents/${ih(3)}`, `Bearer ${registrationProof(psk, ih(3))}`)
  assert.is(reg.size, 2)
  assert.not.ok(reg.has(ih(1)), 'the oldest torrent fell out')
  assert.is(registrationUrl('udp://tracker:6969', ih(1)), `http://tracker:6969/bt-ps/torrents/${ih(1)}`)
  assert.is(registrationUrl('http://10.0.0.1:8000/announce', ih(1)), `http://10.0.0.1:8000/bt-ps/torrents/${ih(1)}`)
  assert.is(registrationUrl('wss://tracker.example', ih(1)), undefined)
})

test('a private tracker answers HTTP and UDP announces only for torrents the server registered, and lists none', async () => {
  const tracker = new TrackerService({ host: '127.0.0.1', port: 0, announceIntervalS: 1, log: silent, psk })
  await tracker.start()
  const registrar = new TorrentRegistrar([tracker.announceUrls.udp], psk, silent)
  try {
    const ours = randomBytes(20).toString('hex')
    const stranger = randomBytes(20).toString('hex')
    assert.match(await announce(tracker.announceUrls.udp, ours), /unknown torrent/, 'not yet registered')
    await registrar.register(ours)
    assert.is(tracker.registeredTorrents, 1)
    assert.is(await announce(tracker.announceUrls.udp, ours), 'ok')
    assert.is(await announce(tracker.announceUrls.http, ours), 'ok')
    assert.match(await announce(tracker.announceUrls.http, stranger), /serves only its job's torrents/)
    assert.match(await announce(tracker.announceUrls.udp, stranger), /unknown torrent/)
    assert.is(tracker.refused, 3)
    assert.is(tracker.swarms, 1, 'no swarm was made for a stranger\'s torrent')
    // A full scrape would hand out the job's infohashes.
    const scrape = bdecode(new Uint8Array(await (await fetch(tracker.announceUrls.http.replace('/announce', '/scrape'))).arrayBuffer()))
    assert.ok(isDict(scrape))
    assert.match(new TextDecoder().decode(scrape['failure reason'] as Uint8Array), /must name its infohashes/)
    // A forged registration is refused with its reason, and registers nothing.
    const forged = await fetch(registrationUrl(tracker.announceUrls.udp, stranger)!, { method: 'POST', headers: { authorization: `Bearer ${Date.now()}.${'cd'.repeat(16)}.${'ab'.repeat(32)}` } })
    assert.is(forged.status, 401)
    assert.match(await forged.text(), /does not match/)
    assert.is(tracker.registeredTorrents, 1)
  } finally {
    registrar.stop()
    await tracker.stop()
  }
})

test('an open tracker (no job key) serves any torrent and says it takes no registrations', async () => {
  const tracker = new TrackerService({ host: '127.0.0.1', port: 0, announceIntervalS: 1, log: silent })
  await tracker.start()
  try {
    assert.is(await announce(tracker.announceUrls.udp, randomBytes(20).toString('hex')), 'ok')
    const res = await fetch(registrationUrl(tracker.announceUrls.udp, '0'.repeat(40))!, { method: 'POST' })
    assert.is(res.status, 404)
    assert.match(await res.text(), /no job key/)
  } finally {
    await tracker.stop()
  }
})

test.run()
