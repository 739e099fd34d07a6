import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { createControlNode } from '../../../src/net/node.js'
import { MAX_CONTROL_FRAME_BYTES, framed } from '../../../src/net/frames.js'
import { createLogger } from '../../../src/logger.js'
import { STATUS_PROTOCOL, encodeHeartbeats, sendHeartbeat } from '../../../src/control/status.js'
import { ClientRegistry } from '../../../src/server/client-registry.js'
import { handleHeartbeatGossip, handleStatus } from '../../../src/server/handlers/status.js'
import { until } from '../../support/until.js'

const t0 = Date.now()

test('a gossiped batch updates every id the sender holds, ignores ids of other keys, and logs one line for them', () => {
  const registry = new ClientRegistry({ partitions: 4, staleMs: 10_000, maxIdsPerPeer: 3 })
  for (const id of ['a', 'b']) registry.login(id, 'proc', 'wasm', undefined, t0)
  registry.login('x', 'other', 'wasm', undefined, t0)
  const lines: string[] = []
  const log = createLogger({ level: 'debug', write: l => { lines.push(l) } })
  handleHeartbeatGossip({ registry, log }, 'proc', encodeHeartbeats([{ clientId: 'a', state: 'training', round: 2 }, { clientId: 'b', state: 'uploading', round: 2, held: 1 }, { clientId: 'x', state: 'offline', round: 2 }, { clientId: 'nobody', state: 'idle', round: 2 }]))
  assert.equal(['a', 'b', 'x'].map(id => registry.get(id)?.state), ['training', 'uploading', 'idle'])
  assert.is(registry.get('b')?.held, 1)
  assert.is(lines.length, 1)
  assert.match(lines[0], /heartbeat from unknown client client=x unknown=2/)
})

test('a gossiped batch with one malformed entry is dropped whole, with a warning naming the entry', () => {
  const registry = new ClientRegistry({ partitions: 4, staleMs: 10_000, maxIdsPerPeer: 3 })
  registry.login('a', 'proc', 'wasm', undefined, t0)
  const lines: string[] = []
  const log = createLogger({ write: l => { lines.push(l) } })
  handleHeartbeatGossip({ registry, log }, 'proc', new TextEncoder().encode(JSON.stringify({ type: 'heartbeats', clients: [{ clientId: 'a', state: 'training', round: 2 }, { clientId: 'a', state: 'asleep', round: 2 }] })))
  assert.is(registry.get('a')?.state, 'idle')
  assert.is(lines.length, 1)
  assert.match(lines[0], /WARN {2}dropped malformed heartbeat peer=proc reason="clients\[1\]\.state: expected one of/)
})

test('10,000 identities of one process report on one status stream over a real libp2p connection', async () => {
  const server = await createControlNode({ host: '127.0.0.1', port: 0 })
  const proc = await createControlNode({ host: '127.0.0.1', port: 0 })
  const controller = new AbortController()
  try {
    const ids = Array.from({ length: 10_000 }, (_, i) => `client-${i}`)
    const registry = new ClientRegistry({ partitions: ids.length, staleMs: 10_000, maxIdsPerPeer: ids.length })
    for (const id of ids) assert.ok(registry.login(id, proc.peerId.toString(), 'wasm').ok)
    const handled = new Promise<void>((resolve, reject) => {
      void server.handle(STATUS_PROTOCOL, async (stream, conn) => { await handleStatus({ registry, signal: controller.signal }, stream, conn).then(resolve, reject) })
    })
    await new Promise(resolve => setImmediate(resolve))
    const stream = await proc.dialProtocol(server.getMultiaddrs()[0], STATUS_PROTOCOL)
    const batch = encodeHeartbeats(ids.map((clientId, i) => ({ clientId, state: 'training', round: 5, held: 1, uploaded: i })))
    await sendHeartbeat(framed(stream), batch)
    await stream.close()
    await handled
    assert.ok(batch.byteLength > 10 * MAX_CONTROL_FRAME_BYTES, `a ${batch.byteLength}-byte frame, far past the control frames' limit`)
    assert.equal(registry.eligible(() => true).length, ids.length)
    assert.ok(ids.every((id, i) => registry.get(id)?.state === 'training' && registry.get(id)?.uploaded === i))
  } finally {
    controller.abort()
    await proc.stop(); await server.stop()
  }
})

test('heartbeats on one kept stream each update the registry; the handler ends when the client closes it', async () => {
  const server = await createControlNode({ host: '127.0.0.1', port: 0 })
  const proc = await createControlNode({ host: '127.0.0.1', port: 0 })
  const controller = new AbortController()
  try {
    const registry = new ClientRegistry({ partitions: 2, staleMs: 10_000, maxIdsPerPeer: 2 })
    for (const id of ['a', 'b']) assert.ok(registry.login(id, proc.peerId.toString(), 'wasm').ok)
    let ended = false
    const handled = new Promise<void>((resolve, reject) => {
      void server.handle(STATUS_PROTOCOL, async (stream, conn) => { await handleStatus({ registry, signal: controller.signal }, stream, conn).then(() => { ended = true; resolve() }, reject) })
    })
    await new Promise(resolve => setImmediate(resolve))
    const stream = await proc.dialProtocol(server.getMultiaddrs()[0], STATUS_PROTOCOL)
    const lp = framed(stream)
    const seen = async (id: string, state: string): Promise<void> => { await until(`${id} ${state}`, async () => registry.get(id)?.state === state ? true : undefined, 5000) }
    await sendHeartbeat(lp, encodeHeartbeats([{ clientId: 'a', state: 'downloading', round: 1, held: 0.5 }, { clientId: 'b', state: 'downloading', round: 1 }]))
    await seen('a', 'downloading')
    await sendHeartbeat(lp, encodeHeartbeats([{ clientId: 'a', state: 'training', round: 1, held: 1 }]))
    await seen('a', 'training')
    await sendHeartbeat(lp, encodeHeartbeats([{ clientId: 'b', state: 'uploading', round: 1 }]))
    await seen('b', 'uploading')
    assert.is(registry.get('a')?.held, 1)
    assert.not.ok(ended, 'the stream stays open between heartbeats')
    await stream.close()
    await handled
  } finally {
    controller.abort()
    await proc.stop(); await server.stop()
  }
})

test.run()
