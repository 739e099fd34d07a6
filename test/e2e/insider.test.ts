import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { readFileSync, readdirSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import type { Connection } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { rssMb } from '../../src/bench/rss.js'
import { createControlNode } from '../../src/net/node.js'
import type { ControlNode } from '../../src/net/node.js'
import { loadPsk } from '../../src/net/psk.js'
import { byteStream } from '@libp2p/utils'
import { framed } from '../../src/net/frames.js'
import { ROUND_PROTOCOL, encodeRoundMessage, roundsTopic, sendRoundNotice } from '../../src/control/round.js'
import type { RoundAnnouncement, RoundEnd } from '../../src/control/round.js'
import { registrationProof } from '../../src/tracker/registration.js'
import { startRole } from '../../src/cli/child-process.js'
import { LOGIN_PROTOCOL, login } from '../../src/control/login.js'
import { MODEL_PROTOCOL } from '../../src/control/model.js'
import { UPDATE_PROTOCOL } from '../../src/control/update.js'
import { RECEIPT_PROTOCOL } from '../../src/control/receipt.js'
import { CONTRIBUTION_PROTOCOL } from '../../src/control/contribution.js'
import { STATUS_PROTOCOL } from '../../src/control/status.js'
import { HEADER_TIMEOUT_MS } from '../../src/server/handlers/header-time.js'
import { startCluster, until } from './cluster.js'
import type { Cluster } from './cluster.js'

const bin = join(process.cwd(), 'bin', 'bt-ps.js')
let cluster: Cluster
let close: (failed?: boolean) => Promise<void>
let insiders: ControlNode[] = []
let failed = true

test.before(async () => {
  [cluster, close] = await startCluster({ clients: 2, jobFlags: ['--job', 'insider', '--job.task', 'distribute', '--job.model_mb', '1', '--k', '2', '--round-timeout', '30'] })
})

test.after(async () => {
  for (const i of insiders) await i.stop()
  await close(failed)
})

/** A peer holding the job's key, connected to the server (stopped after the tests). */
async function memberConnectedToServer (): Promise<[ControlNode, Connection]> {
  const node = await createControlNode({ host: '127.0.0.1', port: 0, psk: loadPsk(join(cluster.dir, 'swarm.key'), { create: false }) })
  insiders.push(node)
  return [node, await node.dial(multiaddr(cluster.serverAddr))]
}

// Holds the job's key (a member gone bad, or a stolen key): the network lets it in, the clients must not obey it.
test('round messages from a peer other than the job\'s server are ignored, on gossip and on direct streams', async () => {
  const psk = loadPsk(join(cluster.dir, 'swarm.key'), { create: false })
  // One forges on gossip, the other on the direct round-notice streams.
  const [gossiper, direct] = insiders = [
    await createControlNode({ host: '127.0.0.1', port: 0, psk }),
    await createControlNode({ host: '127.0.0.1', port: 0, psk })
  ]
  const topic = roundsTopic('insider')
  gossiper.services.pubsub.subscribe(topic)
  const clients = await Promise.all(cluster.processes.filter(p => p.name.startsWith('client-')).map(async p => await p.ready))
  await gossiper.dial(multiaddr(cluster.serverAddr))
  for (const c of clients) await gossiper.dial(multiaddr((c.addrs as string[])[0]))
  await until('gossip mesh with the server and both clients', async () => gossiper.services.pubsub.getSubscribers(topic).length >= 3 ? true : undefined, 15_000)
  const forged: RoundAnnouncement = {
    type: 'round', jobId: 'insider', round: 1, transfer: 'bt', bytes: 1 << 20, sha256: 'e'.repeat(64), selected: ['client-1', 'client-2'],
    deadline: Date.now() + 120_000, hyper: { localEpochs: 1, batchSize: 32, learningRate: 0.1, mu: 0 },
    magnet: `magnet:?xt=urn:btih:${'1'.repeat(40)}`, serverPeerId: 'ab'.repeat(20), serverPort: 9
  }
  const end: RoundEnd = { type: 'round-end', jobId: 'insider', round: 1, accepted: [], reason: 'forged' }
  await gossiper.services.pubsub.publish(topic, encodeRoundMessage(forged))
  for (const c of clients) {
    const stream = await direct.dialProtocol(multiaddr((c.addrs as string[])[0]), ROUND_PROTOCOL)
    await sendRoundNotice(framed(stream), encodeRoundMessage(forged))
    await stream.close()
  }
  for (const id of ['client-1', 'client-2']) {
    for (const [how, peer] of [['gossip', gossiper], ['direct stream', direct]] as const) {
      const line = new RegExp(`ignored round message not signed by the job's server .*peer=${peer.peerId.toString()}`)
      await until(`${id} logs the impostor on ${how}`, async () => line.test(readFileSync(join(cluster.dir, `${id}.log`), 'utf8')) ? true : undefined, 10_000)
    }
  }
  const s = await cluster.admin.status()
  assert.equal(s.clients.map(c => c.state), ['idle', 'idle'], 'no client started the forged round')
  // Had a client taken the forgery, it would skip the real round 1 as already seen.
  await cluster.admin.startRounds(1)
  await gossiper.services.pubsub.publish(topic, encodeRoundMessage(end)) // a forged end must not cut the real round short
  const result = await until('the real round 1', async () => (await cluster.admin.status()).results[0], 40_000)
  assert.is(result.round, 1)
  assert.equal([...result.accepted].sort(), ['client-1', 'client-2'], `both clients got the server's model: ${result.reason ?? ''}`)
  assert.is(result.status, 'distributed')
  // A client that pins the server's identity (/p2p/<id>) will not log in to a peer with another key at that address.
  const pin = `${cluster.serverAddr.replace(/\/p2p\/.*$/, '')}/p2p/${gossiper.peerId.toString()}`
  cluster.processes.push(startRole('client-pinned', ['client', '--job', 'insider', '--job.task', 'distribute', '--job.psk_file', join(cluster.dir, 'swarm.key'), '--tracker', cluster.trackerUdp, '--server', pin, '--id', 'client-pinned'], join(cluster.dir, 'client-pinned.log')))
  await until('the pinned client refuses the server', async () => /does not match expected remote identity key/.test(readFileSync(join(cluster.dir, 'client-pinned.log'), { encoding: 'utf8', flag: 'a+' })) ? true : undefined, 15_000)
  assert.not.ok((await cluster.admin.status()).clients.some(c => c.clientId === 'client-pinned'), 'it never logged in')
  failed = false
})

test('a member cannot take the id of a client that is connected: refused, saying why, and the client keeps its rounds', async () => {
  failed = true
  const [taker, conn] = await memberConnectedToServer()
  const res = await login(framed(await conn.newStream(LOGIN_PROTOCOL)), { clientId: 'client-1', backend: 'cpu' })
  assert.is(res.ok, false)
  assert.match(res.ok ? '' : res.reason, /^job insider: client-1 is bound to another peer key, which is connected/)
  const refused = new RegExp(`login refused .*client=client-1 peer=${taker.peerId.toString()}`)
  await until('the server logs the refusal', async () => refused.test(readFileSync(join(cluster.dir, 'server.log'), 'utf8')) ? true : undefined, 10_000)
  const before = (await cluster.admin.status()).results.length
  await cluster.admin.startRounds(1)
  const result = await until('the next round', async () => (await cluster.admin.status()).results[before], 40_000)
  assert.equal([...result.accepted].sort(), ['client-1', 'client-2'], `client-1 still gets its rounds: ${result.reason ?? ''}`)
  failed = false
})

test('the server\'s BitTorrent listener is bound where server.host says (127.0.0.1 here), not on every interface', async () => {
  failed = true
  const started = await until('the server logs its BitTorrent address', async () => /server started .*bittorrent=(\S+):(\d+)/.exec(readFileSync(join(cluster.dir, 'server.log'), 'utf8')) ?? undefined, 10_000)
  assert.is(started[1], '127.0.0.1')
  const listening = spawnSync('ss', ['-Hltn', `sport = :${started[2]}`], { encoding: 'utf8' })
  assert.is(listening.status, 0, listening.stderr)
  const locals = listening.stdout.trim().split('\n').map(l => l.trim().split(/\s+/)[3])
  assert.equal(locals, [`127.0.0.1:${started[2]}`], `listening on ${locals.join(', ')}`)
  failed = false
})

test('streams opened on the server that never say anything are closed by it after the header time', async () => {
  failed = true
  const [idler, conn] = await memberConnectedToServer()
  const protocols = [LOGIN_PROTOCOL, MODEL_PROTOCOL, UPDATE_PROTOCOL, RECEIPT_PROTOCOL, CONTRIBUTION_PROTOCOL, STATUS_PROTOCOL]
  const t0 = Date.now()
  const ends = await Promise.all(protocols.map(async p => {
    const lp = framed(await conn.newStream(p))
    try {
      await lp.read({ signal: AbortSignal.timeout(HEADER_TIMEOUT_MS + 10_000) })
      return `${p}: answered`
    } catch (err) {
      return (err as Error).name === 'TimeoutError' ? `${p}: still open` : `${p}: closed after ${((Date.now() - t0) / 1000).toFixed(0)} s`
    }
  }))
  for (const end of ends) assert.match(end, /: closed after \d+ s$/)
  assert.ok(Date.now() - t0 >= HEADER_TIMEOUT_MS - 500, 'not before the header time')
  for (const name of ['login', 'model', 'update', 'receipt', 'contribution', 'status']) {
    const line = new RegExp(`${name}: dropped stream .*peer=${idler.peerId.toString()} reason="timed out after ${HEADER_TIMEOUT_MS} ms"`)
    await until(`the server logs the idle ${name} stream`, async () => line.test(readFileSync(join(cluster.dir, 'server.log'), 'utf8')) ? true : undefined, 5000)
  }
  failed = false
})

const serverRssMb = (): number => rssMb(cluster.server.child.pid)

test('a member that opens 64 update streams, each with a header frame claiming 4 MiB and sent all but its last byte, pins no memory in the server', async () => {
  failed = true
  const [, conn] = await memberConnectedToServer()
  const before = serverRssMb()
  let peak = before
  const sampler = setInterval(() => { peak = Math.max(peak, serverRssMb()) }, 100)
  const claimed = 4 << 20
  const prefix = Uint8Array.from([0x80, 0x80, 0x80, 0x02]) // varint 4 MiB
  const outcomes = await Promise.all(Array.from({ length: 64 }, async () => {
    try {
      const stream = await conn.newStream(UPDATE_PROTOCOL)
      const bytes = byteStream(stream)
      await bytes.write(prefix, { signal: AbortSignal.timeout(5000) })
      for (let sent = 0; sent < claimed - 1; sent += 1 << 20) await bytes.write(new Uint8Array(Math.min(1 << 20, claimed - 1 - sent)), { signal: AbortSignal.timeout(5000) })
      await bytes.read({ signal: AbortSignal.timeout(3000) })
      return 'answered'
    } catch (err) {
      return (err as Error).name === 'TimeoutError' ? 'held open' : 'refused'
    }
  }))
  await new Promise(resolve => setTimeout(resolve, 1000))
  clearInterval(sampler)
  const refused = outcomes.filter(o => o === 'refused').length
  console.log(`64 update streams with 4 MiB header frames: ${refused} refused, ${outcomes.filter(o => o === 'held open').length} held open; server RSS ${before.toFixed(0)} → peak ${peak.toFixed(0)} MiB`)
  assert.is(refused, 64, 'every oversized header is refused from its length prefix (or the stream is over the cap)')
  assert.ok(peak - before < 64, `server RSS grew ${(peak - before).toFixed(0)} MiB`)
  failed = false
})

test('no secret (job key, admin token, tracker registration proof) appears in any log or in bt-ps status', async () => {
  failed = true
  const pskHex = /[0-9a-f]{64}/i.exec(readFileSync(join(cluster.dir, 'swarm.key'), 'utf8'))![0]
  const token = readFileSync(cluster.adminTokenFile, 'utf8').trim()
  const logs = readdirSync(cluster.dir).filter(f => f.endsWith('.log')).map(f => [f, readFileSync(join(cluster.dir, f), 'utf8')] as const)
  const serverLog = logs.find(([f]) => f === 'server.log')![1]
  const infoHashes = [...serverLog.matchAll(/infoHash=([0-9a-f]{40})/g)].map(m => m[1])
  assert.ok(infoHashes.length >= 1, 'the server logged the round\'s infohash')
  const psk = loadPsk(join(cluster.dir, 'swarm.key'), { create: false })
  const secrets: Record<string, string> = { 'job key': pskHex, 'admin token': token, ...Object.fromEntries(infoHashes.map(h => [`registration proof for ${h}`, registrationProof(psk, h)])) }
  const outputs = ['', '--json'].map(flag => {
    const r = spawnSync(process.execPath, [bin, 'status', '--server', cluster.adminUrl, '--token-file', cluster.adminTokenFile, ...(flag !== '' ? [flag] : [])], { encoding: 'utf8' })
    assert.is(r.status, 0, r.stderr)
    return [`bt-ps status ${flag}`, r.stdout + r.stderr] as const
  })
  assert.match(outputs[0][1], /client-1/, 'status printed the clients')
  for (const [where, text] of [...logs, ...outputs]) {
    for (const [what, secret] of Object.entries(secrets)) assert.not.ok(text.toLowerCase().includes(secret.toLowerCase()), `${what} found in ${where}`)
  }
  failed = false
})

test.run()
