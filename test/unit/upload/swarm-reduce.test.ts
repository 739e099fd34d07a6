import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { RunningAverage } from '../../../src/aggregation/running-average.js'
import { flatten, shardRanges } from '../../../src/aggregation/shards.js'
import { CONTRIBUTION_PROTOCOL, readContribution } from '../../../src/control/contribution.js'
import type { Contribution } from '../../../src/control/contribution.js'
import { framed, writeJson } from '../../../src/net/frames.js'
import { createControlNode } from '../../../src/net/node.js'
import type { ControlNode } from '../../../src/net/node.js'
import { createLogger } from '../../../src/logger.js'
import { lifetimeController } from '../../../src/abort.js'
import { gatherAggregate } from '../../../src/upload/shard-gather.js'
import { UploadPeer } from '../../../src/upload/upload-peer.js'
import type { RoundPeer } from '../../../src/upload/round-peers.js'
import { createRng } from '../../../src/training/rng.js'
import type { NamedTensor } from '../../../src/model/serialize.js'

const log = createLogger({ level: 'error', base: {} })
const report = { downloadS: 0, computeS: 0, bytesFromServer: 0, bytesFromPeers: 0, bytesUploadedToPeers: 0, utility: 0, meanLoss: 0, backend: 'none' }

function model (seed: number, shapes: number[][]): NamedTensor[] {
  const rng = createRng(seed)
  return shapes.map((shape, i) => ({ name: `t${i}`, shape, dtype: 'float32' as const, data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng() * 2 - 1) }))
}

/** A server node that admits every contribution, and `n` clients with their upload peers, on 127.0.0.1. */
async function swarm (n: number, tamper?: (c: Contribution) => void): Promise<[{ server: ControlNode, clients: Array<{ id: string, node: ControlNode, upload: UploadPeer }>, declared: Map<string, Contribution>, peers: RoundPeer[] }, () => Promise<void>]> {
  const server = await createControlNode({ host: '127.0.0.1', port: 0 })
  const declared = new Map<string, Contribution>()
  await server.handle(CONTRIBUTION_PROTOCOL, async (stream) => {
    const lp = framed(stream)
    const c = await readContribution(lp)
    tamper?.(c)
    declared.set(c.clientId, c)
    await writeJson(lp, { accepted: true })
    await stream.close()
  })
  const controller = lifetimeController()
  const clients = await Promise.all(Array.from({ length: n }, async (_v, i) => {
    const node = await createControlNode({ host: '127.0.0.1', port: 0 })
    await node.dial(server.getMultiaddrs()[0])
    const upload = new UploadPeer({ log, node, signal: controller.signal }, { server: () => server.peerId, idleMs: 3000 })
    await upload.start()
    return { id: `c${i}`, node, upload }
  }))
  const peers = clients.map(c => ({ clientId: c.id, peerId: c.node.peerId.toString(), addr: c.node.getMultiaddrs()[0].toString() }))
  return [{ server, clients, declared, peers }, async () => { controller.abort(); await Promise.all([server, ...clients.map(c => c.node)].map(async x => { await x.stop() })) }]
}

const openFrom = (server: ControlNode) => async (peerId: string, protocol: string, signal: AbortSignal) => {
  const conn = server.getConnections().find(c => c.remotePeer.toString() === peerId)
  if (conn == null) throw new Error(`no connection to ${peerId}`)
  return framed(await conn.newStream(protocol, { signal }))
}

const shapes = [[300, 7], [7], [1001]]

async function round (n: number, opts: { kill?: (s: Awaited<ReturnType<typeof swarm>>[0]) => Promise<void>, contributors?: number, tamper?: (c: Contribution) => void } = {}) {
  const [s, close] = await swarm(n, opts.tamper)
  try {
    const global = model(1, shapes)
    const globalFlat = flatten(global)
    const updates = s.clients.map((_c, i) => model(100 + i, shapes))
    const weights = s.clients.map((_c, i) => 100 + 37 * i)
    for (const c of s.clients) {
      c.upload.begin({ jobId: 'j', round: 1, clientId: c.id, elements: globalFlat.length, peers: s.peers })
      c.upload.hold(1, globalFlat, i => `flat[${i}]`)
    }
    const k = opts.contributors ?? n
    const signal = new AbortController().signal
    await Promise.all(s.clients.slice(0, k).map(async (c, i) => {
      const ack = await c.upload.contribute({ jobId: 'j', round: 1, peers: s.peers }, flatten(updates[i]), globalFlat, { jobId: 'j', round: 1, clientId: c.id, report, tensors: global.map(t => ({ name: t.name, shape: t.shape, dtype: t.dtype })) }, signal)
      assert.ok(ack.accepted)
    }))
    await opts.kill?.(s)
    const committed = s.clients.slice(0, k).map((c, i) => ({ clientId: c.id, peerId: c.node.peerId.toString(), weight: weights[i], shards: s.declared.get(c.id)!.shards }))
    const gathered = await gatherAggregate({ open: openFrom(s.server), log, signal }, { jobId: 'j', round: 1, ranges: shardRanges(globalFlat.length, n), owners: s.peers, global: globalFlat, waitMs: 2000, committed })
    const direct = new RunningAverage(global.map(t => ({ name: t.name, shape: t.shape, dtype: t.dtype, offset: 0, byteLength: t.data.byteLength })))
    gathered.contributors.forEach(id => { const i = Number(id.slice(1)); direct.add(updates[i].map(t => t.data as Float32Array), weights[i]) })
    return { gathered, direct: flatten(direct.result()), modelBytes: globalFlat.byteLength }
  } finally {
    await close()
  }
}

const maxRelDiff = (a: Float32Array, b: Float32Array): number => { let m = 0; for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]) / Math.max(1e-30, Math.abs(b[i]))); return m }

test('swarm aggregate equals the direct one for the same updates, and the server receives about one model', async () => {
  const { gathered, direct, modelBytes } = await round(4)
  assert.equal(gathered.contributors, ['c0', 'c1', 'c2', 'c3'])
  const diff = maxRelDiff(gathered.mean, direct)
  assert.ok(diff <= 1e-6, `max relative difference ${diff}`)
  assert.is(gathered.ingressBytes, modelBytes, 'ingress is one model')
  assert.is(gathered.fallbacks, 0)
})

test('an owner that died: its shard is fetched from the contributors, same contributors, same aggregate', async () => {
  const { gathered, direct, modelBytes } = await round(4, { contributors: 3, kill: async (s) => { await s.clients[3].node.stop() } })
  assert.equal(gathered.contributors, ['c0', 'c1', 'c2'])
  assert.is(gathered.fallbacks, 1)
  assert.ok(maxRelDiff(gathered.mean, direct) <= 1e-6)
  assert.ok(gathered.ingressBytes > modelBytes && gathered.ingressBytes < 2 * modelBytes, `ingress ${gathered.ingressBytes}`)
})

test('a contributor whose shard does not match what it declared is dropped and the round committed again without it', async () => {
  const { gathered, direct } = await round(3, { tamper: (c) => { if (c.clientId === 'c1') c.shards[2].sha256 = '0'.repeat(64) } })
  assert.equal(gathered.contributors, ['c0', 'c2'])
  assert.equal(gathered.dropped.map(d => [d.clientId, d.kind]), [['c1', 'invalid']])
  assert.match(gathered.dropped[0].reason, /sha256/)
  assert.ok(maxRelDiff(gathered.mean, direct) <= 1e-6)
})

test.run()
