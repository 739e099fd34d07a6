/**
 * A member of the job whose update never properly arrives, as its own process. It logs in like a client and, when
 * a round selects it, fetches the model and starts its upload at once (so it is first in line), then:
 *   --pace silence  sends the header (direct) or its shard headers (swarm), then nothing;
 *   --pace trickle  the same, then one byte a second;
 *   --pace vanish   (swarm) exits as soon as the server has admitted its declaration, before sending any shard.
 *   node --import tsx test/faults/stalling-contributor.ts --psk FILE --server MULTIADDR --job ID --id CLIENT_ID --pace P
 * stdout: {"event":"ready"}, then {"event":"stalling","round":N,"upload":"direct"|"swarm","admitted":bool}.
 * Exits on SIGTERM (or by itself with --pace vanish).
 */
import { parseArgs } from 'node:util'
import type { Stream } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { createControlNode } from '../../src/net/node.js'
import { loadPsk } from '../../src/net/psk.js'
import { framed, writeJson } from '../../src/net/frames.js'
import { LOGIN_PROTOCOL, login } from '../../src/control/login.js'
import { MODEL_PROTOCOL, fetchModel } from '../../src/control/model.js'
import { parseRoundMessage, roundsTopic } from '../../src/control/round.js'
import type { RoundAnnouncement } from '../../src/control/round.js'
import { STATUS_PROTOCOL, encodeHeartbeat, sendHeartbeat } from '../../src/control/status.js'
import { UPDATE_PROTOCOL } from '../../src/control/update.js'
import { CONTRIBUTION_PROTOCOL, sendContribution } from '../../src/control/contribution.js'
import { SHARD_PROTOCOL } from '../../src/control/shard.js'
import { modelValues, shardChecks, shardRanges } from '../../src/aggregation/shards.js'
import { parseModelHeader } from '../../src/model/serialize.js'

const { values } = parseArgs({ options: { psk: { type: 'string' }, server: { type: 'string' }, job: { type: 'string' }, id: { type: 'string' }, pace: { type: 'string' } } })
const clientId = values.id!
const pace = values.pace as 'silence' | 'trickle' | 'vanish'
const say = (m: Record<string, unknown>): void => { process.stdout.write(JSON.stringify(m) + '\n') }
const node = await createControlNode({ host: '127.0.0.1', port: 0, psk: loadPsk(values.psk!, { create: false }) })
const topic = roundsTopic(values.job!)
node.services.pubsub.subscribe(topic)
const server = await node.dial(multiaddr(values.server!))
const res = await login(framed(await server.newStream(LOGIN_PROTOCOL)), { clientId, backend: 'cpu' })
if (!res.ok) { process.stderr.write(`login refused: ${res.reason}\n`); process.exit(1) }
const beat = async (): Promise<void> => {
  await (async () => { await sendHeartbeat(framed(await node.dialProtocol(server.remotePeer, STATUS_PROTOCOL)), encodeHeartbeat({ clientId, state: 'idle', round: 0 })) })().catch(() => {})
}
const firstBeat = beat()
setInterval(() => { void beat() }, 2000).unref()

const report = (ann: RoundAnnouncement): Record<string, unknown> => ({ downloadS: 0.1, computeS: 0.1, bytesFromServer: ann.bytes, bytesFromPeers: 0, bytesUploadedToPeers: 0, utility: 1, meanLoss: 0.1, backend: 'cpu' })
/** Streams held open on purpose, so nothing closes them. */
const held: Stream[] = []

/** After a header: nothing more, or one byte a second (a length prefix promising a 64 KiB frame that never fills). */
function stall (stream: Stream): void {
  held.push(stream)
  if (pace !== 'trickle') return
  stream.send(Uint8Array.from([0x80, 0x80, 0x04]))
  setInterval(() => { try { stream.send(Uint8Array.from([1])) } catch { /* closed by the reader: nothing to trickle into */ } }, 1000).unref()
}

async function upload (ann: RoundAnnouncement): Promise<void> {
  const s = await node.dialProtocol(server.remotePeer, MODEL_PROTOCOL)
  const bytes = await fetchModel(framed(s), { jobId: ann.jobId, round: ann.round }, ann.bytes)
  await s.close().catch(() => {})
  const plan = ann.upload
  if (plan == null) {
    const stream = await node.dialProtocol(server.remotePeer, UPDATE_PROTOCOL)
    await writeJson(framed(stream), { jobId: ann.jobId, round: ann.round, clientId, samples: 1000, report: report(ann) })
    stall(stream)
    say({ event: 'stalling', round: ann.round, upload: 'direct', admitted: true })
    return
  }
  const values = modelValues(bytes)
  const ranges = shardRanges(plan.elements, plan.peers.length)
  const declared = { jobId: ann.jobId, round: ann.round, clientId, report: report(ann) as never, tensors: parseModelHeader(bytes).header.tensors.map(t => ({ name: t.name, shape: t.shape, dtype: t.dtype })), shards: shardChecks(values, values, ranges) }
  const stream = await node.dialProtocol(server.remotePeer, CONTRIBUTION_PROTOCOL)
  const ack = await sendContribution(framed(stream), declared)
  say({ event: 'stalling', round: ann.round, upload: 'swarm', admitted: ack.accepted, reason: ack.reason })
  if (pace === 'vanish') process.exit(0)
  await Promise.all(plan.peers.map(async (owner, shard) => {
    if (owner.addr == null) return
    const s = await node.dialProtocol(multiaddr(owner.addr), SHARD_PROTOCOL)
    await writeJson(framed(s), { jobId: ann.jobId, round: ann.round, clientId, shard, elements: ranges[shard].end - ranges[shard].start })
    stall(s)
  }))
}

const seen = new Set<number>()
node.services.pubsub.addEventListener('message', (evt) => {
  if (evt.detail.topic !== topic) return
  const m = parseRoundMessage(evt.detail.data)
  if (m.type !== 'round' || seen.has(m.round) || !m.selected.includes(clientId)) return
  seen.add(m.round)
  upload(m).catch((err: unknown) => { process.stderr.write(`round ${m.round}: ${String(err)}\n`) })
})
process.once('SIGTERM', () => { void Promise.resolve(node.stop()).finally(() => process.exit(0)) })
await firstBeat
while (!node.services.pubsub.getSubscribers(topic).some(p => p.equals(server.remotePeer))) await new Promise(resolve => setTimeout(resolve, 100))
say({ event: 'ready', peerId: node.peerId.toString(), partition: res.partition })
