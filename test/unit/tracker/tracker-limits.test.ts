import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { randomBytes } from 'node:crypto'
import { Client as TrackerClient } from 'bittorrent-tracker'
import { createLogger } from '../../../src/logger.js'
import { TrackerService } from '../../../src/tracker/tracker-service.js'
import { registrationProof, registrationUrl, statsToken } from '../../../src/tracker/registration.js'

const silent = createLogger({ level: 'error' })

/** A peer on `port` announcing `infoHash` with bittorrent-tracker's own client; 'ok' or the failure, and a way to leave. */
async function join (url: string, infoHash: string, port: number): Promise<{ outcome: string, leave: () => Promise<void> }> {
  const client = new TrackerClient({ infoHash, peerId: randomBytes(20).toString('hex'), announce: [url], port })
  const outcome = await new Promise<string>((resolve) => {
    client.once('update', () => { resolve('ok') })
    client.once('warning', (err: unknown) => { resolve(String(err)) })
    client.once('error', (err: unknown) => { resolve(String(err)) })
    client.start()
  })
  return {
    outcome,
    leave: async () => {
      await new Promise<void>(resolve => { client.once('update', () => { resolve() }); client.once('warning', () => { resolve() }); client.stop() })
      client.destroy()
    }
  }
}

const until = async (what: string, ok: () => boolean, ms = 5000): Promise<void> => {
  const t0 = Date.now()
  while (!ok()) {
    if (Date.now() - t0 > ms) throw new Error(`not ${what} within ${ms} ms`)
    await new Promise(resolve => setTimeout(resolve, 50))
  }
}

test('one address cannot fill a swarm with fake ports: its peers beyond the cap are refused, saying why', async () => {
  const tracker = new TrackerService({ host: '127.0.0.1', port: 0, announceIntervalS: 1, log: silent, maxPeersPerAddress: 2, capLoopback: true })
  await tracker.start()
  const ih = randomBytes(20).toString('hex')
  const peers = []
  try {
    for (const port of [7001, 7002, 7003]) peers.push(await join(tracker.announceUrls.http, ih, port))
    assert.equal(peers.map(p => p.outcome.replace(/^Error: /, '')), ['ok', 'ok', `127.0.0.1 already has 2 peers in the swarm of ${ih} (tracker.max_peers_per_address)`])
    const again = await join(tracker.announceUrls.http, ih, 7001)
    peers.push(again)
    assert.is(again.outcome, 'ok', 'a peer already in the swarm announces again')
  } finally {
    for (const p of peers) await p.leave()
    await tracker.stop()
  }
})

test('swarms whose peers have all left are dropped, so finished rounds do not pile up', async () => {
  const tracker = new TrackerService({ host: '127.0.0.1', port: 0, announceIntervalS: 1, log: silent, expireEveryMs: 200 })
  await tracker.start()
  try {
    const peers = await Promise.all([1, 2, 3].map(async n => await join(tracker.announceUrls.http, randomBytes(20).toString('hex'), 7000 + n)))
    assert.equal(peers.map(p => p.outcome), ['ok', 'ok', 'ok'])
    assert.is(tracker.swarms, 3)
    await peers[0].leave()
    await peers[1].leave()
    await until('two swarms dropped', () => tracker.swarms === 1)
    await new Promise(resolve => setTimeout(resolve, 500))
    assert.is(tracker.swarms, 1, 'the swarm with a peer stays')
    await peers[2].leave()
    await until('the last swarm dropped', () => tracker.swarms === 0)
  } finally {
    await tracker.stop()
  }
})

test('a private tracker shows /stats only to a token derived from the job key', async () => {
  const psk = new TextEncoder().encode('/key/swarm/psk/1.0.0/\n/base16/\n' + randomBytes(32).toString('hex'))
  const tracker = new TrackerService({ host: '127.0.0.1', port: 0, announceIntervalS: 1, log: silent, psk })
  await tracker.start()
  try {
    const stats = tracker.announceUrls.http.replace('/announce', '/stats.json')
    const anonymous = await fetch(stats)
    assert.is(anonymous.status, 401)
    assert.match(await anonymous.text(), /private: \/stats needs Authorization: Bearer/)
    const ih = randomBytes(20).toString('hex')
    const reg = await fetch(registrationUrl(tracker.announceUrls.http, ih) as string, { method: 'POST', headers: { authorization: `Bearer ${registrationProof(psk, ih)}` } })
    assert.is(reg.status, 204)
    const member = await fetch(stats, { headers: { authorization: `Bearer ${statsToken(psk)}` } })
    assert.is(member.status, 200)
    assert.is(((await member.json()) as { torrents: number }).torrents, 0)
  } finally {
    await tracker.stop()
  }
})

test.run()
