import { test } from 'uvu'
import * as assert from 'uvu/assert'
import type { Stream } from '@libp2p/interface'
import { createControlNode } from '../../../src/net/node.js'
import { framed } from '../../../src/net/frames.js'
import { createLogger } from '../../../src/logger.js'
import { parseConfig } from '../../../src/config/parse.js'
import { LOGIN_PROTOCOL, answerLogin, readLoginRequest } from '../../../src/control/login.js'
import { STATUS_PROTOCOL, statusTopic } from '../../../src/control/status.js'
import { ClientRegistry } from '../../../src/server/client-registry.js'
import { handleHeartbeatGossip, handleStatus } from '../../../src/server/handlers/status.js'
import { ServerSession } from '../../../src/client/server-session.js'
import { until } from '../../support/until.js'

test('heartbeats go to the server on one kept stream, by gossip while no stream opens, and on a new stream after that', async () => {
  const server = await createControlNode({ host: '127.0.0.1', port: 0 })
  const client = await createControlNode({ host: '127.0.0.1', port: 0 })
  const controller = new AbortController()
  const log = createLogger({ level: 'error', write: () => {} })
  try {
    const registry = new ClientRegistry({ partitions: 1, staleMs: 10_000, maxIdsPerPeer: 1 })
    await server.handle(LOGIN_PROTOCOL, async (stream, conn) => {
      const lp = framed(stream)
      const req = await readLoginRequest(lp)
      assert.ok(registry.login(req.clientId, conn.remotePeer.toString(), req.backend).ok)
      await answerLogin(lp, { ok: true, jobId: 'job', partition: 0, partitions: 1, round: 0 })
      await stream.close()
    })
    const streams: Stream[] = []
    let frames = 0
    const status = async (stream: Stream, conn: Parameters<typeof handleStatus>[2]): Promise<void> => {
      streams.push(stream)
      await handleStatus({ registry, signal: controller.signal, counted: () => { frames++ } }, stream, conn).catch(() => {})
    }
    await server.handle(STATUS_PROTOCOL, status)
    let gossiped = 0
    server.services.pubsub.subscribe(statusTopic('job'))
    server.services.pubsub.addEventListener('message', (evt) => {
      if (evt.detail.topic !== statusTopic('job') || evt.detail.type !== 'signed') return
      gossiped++
      handleHeartbeatGossip({ registry, log }, evt.detail.from.toString(), evt.detail.data)
    })

    let state: 'idle' | 'training' = 'idle'
    const config = parseConfig({ job: { id: 'job' }, client: { server: server.getMultiaddrs()[0].toString(), heartbeat_s: 0.1 } })
    const session = new ServerSession({ config, clientIds: ['c1'], node: client, log, signal: controller.signal, backend: () => 'wasm', status: () => ({ state, round: 0 }), onLogin: () => ({}), onRound: () => {} })
    await session.start()
    try {
      await until('ten heartbeats', async () => frames >= 10 ? true : undefined, 10_000)
      assert.is(streams.length, 1, 'every heartbeat on the one stream')
      assert.is(gossiped, 0, 'none gossiped while the stream works')
      state = 'training'
      await until('the new state at the server', async () => registry.get('c1')?.state === 'training' ? true : undefined, 10_000)

      // The server stops taking status streams and ends the open one: heartbeats go by gossip meanwhile.
      await server.unhandle(STATUS_PROTOCOL)
      streams[0].abort(new Error('server ends the status stream'))
      state = 'idle'
      await until('a gossiped heartbeat', async () => gossiped >= 2 ? true : undefined, 10_000)
      assert.is(registry.get('c1')?.state, 'idle', 'gossip carried the new state')

      // Taking them again: the next heartbeat opens one new stream, and gossip stops.
      await server.handle(STATUS_PROTOCOL, status)
      await until('a second stream', async () => streams.length === 2 ? true : undefined, 10_000)
      const since = gossiped
      const framesBefore = frames
      await until('five heartbeats on it', async () => frames >= framesBefore + 5 ? true : undefined, 10_000)
      assert.is(streams.length, 2)
      assert.ok(gossiped <= since + 1, `gossip stopped once the stream was back (${gossiped - since} more)`)
    } finally {
      session.stop()
    }
  } finally {
    controller.abort()
    await client.stop(); await server.stop()
  }
})

test.run()
