/**
 * A member of the job that sends poisoned updates, as its own process: it holds the job's key, logs in like a
 * client, and when a round selects it fetches the model from the server and sends it back broken in each way the
 * server must catch, then once more unharmed (which an excluded client must not get in either).
 * In a swarm-upload round (`job.upload: swarm`) it declares each broken update to the server and sends the shards
 * of the ones admitted to their owners; a broken update that is admitted holds its place for the round, so the
 * variants not yet sent wait for the next round that selects it.
 *   node --import tsx test/faults/poisoned-client.ts --psk FILE --server MULTIADDR --job ID --id CLIENT_ID
 * stdout: {"event":"ready"}, then per round that selects it {"event":"poisoned","round":N,"sent":[{variant,…}]} (and the
 * same as "poisoned-round-N", so a test can wait for a given round).
 * Exits on SIGTERM, or with status 1 when it cannot send.
 */
import { parseArgs } from 'node:util'
import { multiaddr } from '@multiformats/multiaddr'
import { createControlNode } from '../../src/net/node.js'
import { loadPsk } from '../../src/net/psk.js'
import { framed } from '../../src/net/frames.js'
import { LOGIN_PROTOCOL, login } from '../../src/control/login.js'
import { MODEL_PROTOCOL, fetchModel } from '../../src/control/model.js'
import { parseRoundMessage, roundsTopic } from '../../src/control/round.js'
import type { RoundAnnouncement } from '../../src/control/round.js'
import { STATUS_PROTOCOL, encodeHeartbeat, sendHeartbeat } from '../../src/control/status.js'
import { UPDATE_PROTOCOL, sendUpdate } from '../../src/control/update.js'
import type { UpdateAck } from '../../src/control/update.js'
import { parseModel, serializeModel } from '../../src/model/serialize.js'
import type { NamedTensor } from '../../src/model/serialize.js'
import { CONTRIBUTION_PROTOCOL, sendContribution } from '../../src/control/contribution.js'
import { SHARD_PROTOCOL, sendShard } from '../../src/control/shard.js'
import type { ClientReport } from '../../src/control/report.js'
import { flatten, shardChecks, shardRanges } from '../../src/aggregation/shards.js'
import type { UploadPlan } from '../../src/upload/round-peers.js'

const { values } = parseArgs({ options: { psk: { type: 'string' }, server: { type: 'string' }, job: { type: 'string' }, id: { type: 'string' } } })
const clientId = values.id!
const say = (m: Record<string, unknown>): void => { process.stdout.write(JSON.stringify(m) + '\n') }
const node = await createControlNode({ host: '127.0.0.1', port: 0, psk: loadPsk(values.psk!, { create: false }) })
const topic = roundsTopic(values.job!)
node.services.pubsub.subscribe(topic)
const server = await node.dial(multiaddr(values.server!))

const res = await login(framed(await server.newStream(LOGIN_PROTOCOL)), { clientId, backend: 'cpu' })
if (!res.ok) { process.stderr.write(`login refused: ${res.reason}\n`); process.exit(1) }

// Heartbeats keep it eligible for selection like any live client; the first is delivered before it says it is ready.
const beat = async (): Promise<void> => {
  await (async () => {
    await sendHeartbeat(framed(await node.dialProtocol(server.remotePeer, STATUS_PROTOCOL)), encodeHeartbeat({ clientId, state: 'idle', round: 0 }))
  })().catch(() => {})
}
const firstBeat = beat()
setInterval(() => { void beat() }, 2000).unref()

/** The global model broken one way each, then unharmed; NaN and Inf go at flat index `bad`. */
function variants (global: NamedTensor[], bad: number): Array<[string, NamedTensor[]]> {
  const copy = (): NamedTensor[] => global.map(t => ({ ...t, shape: [...t.shape], data: t.data.slice() }))
  const withFirst = (change: (t: NamedTensor) => NamedTensor): NamedTensor[] => { const ts = copy(); ts[0] = change(ts[0]); return ts }
  const setFirstValue = (v: number): NamedTensor[] => {
    const ts = copy()
    let i = bad
    const t = ts.find(x => { if (i < x.data.length) return true; i -= x.data.length; return false })
    if (t != null) t.data[i] = v
    return ts
  }
  return [
    ['shape', withFirst(t => ({ ...t, shape: [t.data.length] }))],
    ['dtype', withFirst(t => ({ ...t, dtype: 'int32', data: Int32Array.from(t.data) }))],
    ['names', withFirst(t => ({ ...t, name: 'injected/kernel' }))],
    ['nan', setFirstValue(NaN)],
    ['inf', setFirstValue(Infinity)],
    ['norm', copy().map(t => ({ ...t, data: Float32Array.from(t.data, x => x * 1000 + 1) }))],
    ['honest', copy()]
  ]
}

const report = (ann: RoundAnnouncement): ClientReport => ({ downloadS: 0.1, computeS: 0.1, bytesFromServer: ann.bytes, bytesFromPeers: 0, bytesUploadedToPeers: 0, utility: 1, meanLoss: 0.1, backend: 'cpu' })

/** Sends `tensors` as its update through the client's own update protocol: a valid header, a poisoned body. */
async function send (ann: RoundAnnouncement, tensors: NamedTensor[]): Promise<UpdateAck> {
  const stream = await node.dialProtocol(server.remotePeer, UPDATE_PROTOCOL)
  const ack = await sendUpdate(framed(stream), { jobId: ann.jobId, round: ann.round, clientId, samples: 1000, report: report(ann) }, serializeModel({ jobId: ann.jobId, round: ann.round }, tensors))
  await stream.close().catch(() => {})
  return ack
}

/** Swarm upload: declares `tensors` as its contribution and, when admitted, sends each shard to its owner. */
async function contribute (ann: RoundAnnouncement, plan: UploadPlan, global: Float32Array, tensors: NamedTensor[]): Promise<UpdateAck> {
  const values = flatten(tensors.map(t => ({ ...t, data: Float32Array.from(t.data) })))
  const ranges = shardRanges(plan.elements, plan.peers.length)
  const stream = await node.dialProtocol(server.remotePeer, CONTRIBUTION_PROTOCOL)
  const declared = { jobId: ann.jobId, round: ann.round, clientId, report: report(ann), tensors: tensors.map(t => ({ name: t.name, shape: t.shape, dtype: t.dtype })), shards: shardChecks(values, global, ranges) }
  const ack = await sendContribution(framed(stream), declared)
  await stream.close().catch(() => {})
  if (!ack.accepted) return ack
  // The server took the declaration; the owners see the values. The first refusal an owner gives is the answer.
  const answers = await Promise.all(plan.peers.map(async (owner, shard) => {
    if (owner.addr == null) return { accepted: true }
    const s = await node.dialProtocol(multiaddr(owner.addr), SHARD_PROTOCOL)
    const shardValues = values.subarray(ranges[shard].start, ranges[shard].end)
    const answer = await sendShard(framed(s), { jobId: ann.jobId, round: ann.round, clientId, shard, elements: shardValues.length }, shardValues, { signal: new AbortController().signal, idleMs: 10_000 })
    await s.close().catch(() => {})
    return answer
  }))
  return answers.find(a => !a.accepted) ?? { accepted: true }
}

/** Variants not yet sent: a swarm round admits one broken update at most, the rest go in later rounds. */
let pending: string[] | undefined

async function poison (ann: RoundAnnouncement): Promise<void> {
  const stream = await node.dialProtocol(server.remotePeer, MODEL_PROTOCOL)
  const bytes = await fetchModel(framed(stream), { jobId: ann.jobId, round: ann.round }, ann.bytes)
  const { tensors } = parseModel(bytes)
  await stream.close().catch(() => {})
  // In a swarm round an owner checks the values: poison a shard this client does not own itself.
  const plan = ann.upload
  const foreign = plan?.peers.findIndex(p => p.clientId !== clientId) ?? -1
  const all = variants(tensors, plan != null && foreign >= 0 ? shardRanges(plan.elements, plan.peers.length)[foreign].start : 0)
  pending ??= all.map(([v]) => v)
  const sent = []
  for (const [variant, update] of all.filter(([v]) => pending?.includes(v))) {
    const answer = ann.upload != null ? await contribute(ann, ann.upload, flatten(tensors), update) : await send(ann, update)
    sent.push({ variant, ...answer })
    pending = pending.filter(v => v !== variant)
    // An admitted declaration is this client's one contribution to the round.
    if (ann.upload != null && !/^update\.tensors|moves the model/.test(answer.reason ?? '')) break
  }
  say({ event: 'poisoned', round: ann.round, sent })
  say({ event: `poisoned-round-${ann.round}`, round: ann.round, sent })
}

const seen = new Set<number>()
node.services.pubsub.addEventListener('message', (evt) => {
  if (evt.detail.topic !== topic) return
  const m = parseRoundMessage(evt.detail.data)
  if (m.type !== 'round' || seen.has(m.round) || !m.selected.includes(clientId)) return
  seen.add(m.round)
  poison(m).catch((err: unknown) => { process.stderr.write(`round ${m.round}: ${String(err)}\n`); process.exit(1) })
})
// SIGTERM is handled before the ready line: a parent may stop it as soon as it reads the line.
process.once('SIGTERM', () => { void Promise.resolve(node.stop()).finally(() => process.exit(0)) })
await firstBeat
while (!node.services.pubsub.getSubscribers(topic).some(p => p.equals(server.remotePeer))) await new Promise(resolve => setTimeout(resolve, 100))
say({ event: 'ready', peerId: node.peerId.toString(), partition: res.partition })
