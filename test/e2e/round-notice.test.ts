import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { multiaddr } from '@multiformats/multiaddr'
import { join } from 'node:path'
import { createControlNode } from '../../src/net/node.js'
import type { ControlNode } from '../../src/net/node.js'
import { loadPsk } from '../../src/net/psk.js'
import { framed } from '../../src/net/frames.js'
import { LOGIN_PROTOCOL, login } from '../../src/control/login.js'
import { ROUND_PROTOCOL, parseRoundMessage, readRoundNotice, roundsTopic } from '../../src/control/round.js'
import type { RoundMessage } from '../../src/control/round.js'
import { startCluster, until } from './cluster.js'

type Cluster = Awaited<ReturnType<typeof startCluster>>[0]

/**
 * A member of the job (it holds the job's key: not an outsider, see private-job.test.ts) that never reads gossip:
 * it learns of rounds only from the server's direct notices, kept in `received`. `logIn` dials the server and logs
 * in as 'quiet'.
 */
async function quietMember (cluster: Cluster): Promise<{ peer: ControlNode, received: RoundMessage[], logIn: () => Promise<void> }> {
  const peer = await createControlNode({ host: '127.0.0.1', port: 0, psk: loadPsk(join(cluster.dir, 'swarm.key'), { create: false }) })
  const received: RoundMessage[] = []
  await peer.handle(ROUND_PROTOCOL, async (stream) => {
    received.push(parseRoundMessage(await readRoundNotice(framed(stream))))
    await stream.close()
  })
  const logIn = async (): Promise<void> => {
    const conn = await peer.dial(multiaddr(cluster.serverAddr))
    assert.is((await login(framed(await conn.newStream(LOGIN_PROTOCOL)), { clientId: 'quiet', backend: 'none' })).ok, true)
  }
  return { peer, received, logIn }
}

// Gossipsub drops, for good, what it would send to a peer whose outbound stream failed to open; the server
// therefore also hands each selected client its round messages on a direct stream. This client never reads
// gossip: it learns of its round only that way.
test('a selected client that gets no gossip still receives its round announcement and round end directly', async () => {
  const [cluster, close] = await startCluster({ clients: 0, jobClients: 1, jobFlags: ['--job.task', 'distribute', '--job.model_mb', '1', '--round-timeout', '4'] })
  const { peer, received, logIn } = await quietMember(cluster)
  let ok = false
  try {
    await logIn()
    peer.services.pubsub.subscribe(roundsTopic('mnist')) // subscribed, so the server counts it as reachable
    await until('client eligible', async () => (await cluster.admin.status()).clients.some(c => c.online) ? true : undefined)
    await cluster.admin.startRounds(1)
    await until('announcement on the direct stream', async () => received.some(m => m.type === 'round') ? true : undefined, 15_000)
    const ann = received.find(m => m.type === 'round')
    assert.ok(ann?.type === 'round' && ann.round === 1 && ann.selected.includes('quiet') && ann.magnet != null, JSON.stringify(ann))
    // It never says it holds the model, so the round ends at its 4 s deadline: that too arrives directly.
    await until('round end on the direct stream', async () => received.some(m => m.type === 'round-end') ? true : undefined, 15_000)
    ok = true
  } finally {
    await peer.stop()
    await close(!ok)
  }
})

test('a selected client that logs in again during the round (its connection broke) gets the announcement again directly', async () => {
  const [cluster, close] = await startCluster({ clients: 0, jobClients: 1, jobFlags: ['--job.task', 'distribute', '--job.model_mb', '1', '--round-timeout', '60'] })
  const { peer, received, logIn } = await quietMember(cluster)
  let ok = false
  try {
    await logIn()
    peer.services.pubsub.subscribe(roundsTopic('mnist'))
    await until('client eligible', async () => (await cluster.admin.status()).clients.some(c => c.online) ? true : undefined)
    await cluster.admin.startRounds(1)
    await until('first announcement', async () => received.some(m => m.type === 'round') ? true : undefined, 15_000)
    await peer.hangUp(multiaddr(cluster.serverAddr))
    await until('the server sees the client gone', async () => (await cluster.admin.status()).clients.some(c => c.online) ? undefined : true, 15_000)
    await logIn()
    await until('announcement after the new login', async () => received.filter(m => m.type === 'round').length >= 2 ? true : undefined, 10_000)
    const again = received.filter(m => m.type === 'round')[1]
    assert.ok(again.type === 'round' && again.round === 1 && again.selected.includes('quiet'), JSON.stringify(again))
    assert.is((await cluster.admin.status()).results.length, 0, 'the round is still open')
    ok = true
  } finally {
    await peer.stop()
    await close(!ok)
  }
})

test.run()
