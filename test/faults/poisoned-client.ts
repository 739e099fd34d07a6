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
import { multiaddr } from '@multiformats/multiaddr'
import { framed } from '../../src/net/frames.js'
import type { RoundAnnouncement } from '../../src/control/round.js'
import { UPDATE_PROTOCOL, sendUpdate } from '../../src/control/update.js'
import type { UpdateAck } from '../../src/control/update.js'
import { parseModel, serializeModel } from '../../src/model/serialize.js'
import type { NamedTensor } from '../../src/model/serialize.js'
import { CONTRIBUTION_PROTOCOL, sendContribution } from '../../src/control/contribution.js'
import { SHARD_PROTOCOL, sendShard } from '../../src/control/shard.js'
import { flatten, shardChecks, shardRanges } from '../../src/aggregation/shards.js'
import type { UploadPlan } from '../../src/upload/round-peers.js'
import { joinAsMember } from '../support/job-member.js'
import type { JobMember } from '../support/job-member.js'

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

/** Sends `tensors` as its update through the client's own update protocol: a valid header, a poisoned body. */
async function send (m: JobMember, ann: RoundAnnouncement, tensors: NamedTensor[]): Promise<UpdateAck> {
  const stream = await m.node.dialProtocol(m.server.remotePeer, UPDATE_PROTOCOL)
  const ack = await sendUpdate(framed(stream), { jobId: ann.jobId, round: ann.round, clientId: m.clientId, samples: 1000, report: m.report(ann) }, serializeModel({ jobId: ann.jobId, round: ann.round }, tensors))
  await stream.close().catch(() => {})
  return ack
}

/** Swarm upload: declares `tensors` as its contribution and, when admitted, sends each shard to its owner. */
async function contribute (m: JobMember, ann: RoundAnnouncement, plan: UploadPlan, global: Float32Array, tensors: NamedTensor[]): Promise<UpdateAck> {
  const values = flatten(tensors.map(t => ({ ...t, data: Float32Array.from(t.data) })))
  const ranges = shardRanges(plan.elements, plan.peers.length)
  const stream = await m.node.dialProtocol(m.server.remotePeer, CONTRIBUTION_PROTOCOL)
  const declared = { jobId: ann.jobId, round: ann.round, clientId: m.clientId, report: m.report(ann), tensors: tensors.map(t => ({ name: t.name, shape: t.shape, dtype: t.dtype })), shards: shardChecks(values, global, ranges) }
  const ack = await sendContribution(framed(stream), declared)
  await stream.close().catch(() => {})
  if (!ack.accepted) return ack
  // The server took the declaration; the owners see the values. The first refusal an owner gives is the answer.
  const answers = await Promise.all(plan.peers.map(async (owner, shard) => {
    if (owner.addr == null) return { accepted: true }
    const s = await m.node.dialProtocol(multiaddr(owner.addr), SHARD_PROTOCOL)
    const shardValues = values.subarray(ranges[shard].start, ranges[shard].end)
    const answer = await sendShard(framed(s), { jobId: ann.jobId, round: ann.round, clientId: m.clientId, shard, elements: shardValues.length }, shardValues, { signal: new AbortController().signal, idleMs: 10_000 })
    await s.close().catch(() => {})
    return answer
  }))
  return answers.find(a => !a.accepted) ?? { accepted: true }
}

/** Variants not yet sent: a swarm round admits one broken update at most, the rest go in later rounds. */
let pending: string[] | undefined

await joinAsMember([], async (m, ann) => {
  const { tensors } = parseModel(await m.model(ann))
  // In a swarm round an owner checks the values: poison a shard this client does not own itself.
  const plan = ann.upload
  const foreign = plan?.peers.findIndex(p => p.clientId !== m.clientId) ?? -1
  const all = variants(tensors, plan != null && foreign >= 0 ? shardRanges(plan.elements, plan.peers.length)[foreign].start : 0)
  pending ??= all.map(([v]) => v)
  const sent = []
  for (const [variant, update] of all.filter(([v]) => pending?.includes(v))) {
    const answer = plan != null ? await contribute(m, ann, plan, flatten(tensors), update) : await send(m, ann, update)
    sent.push({ variant, ...answer })
    pending = pending.filter(v => v !== variant)
    // An admitted declaration is this client's one contribution to the round.
    if (plan != null && !/^update\.tensors|moves the model/.test(answer.reason ?? '')) break
  }
  m.say({ event: 'poisoned', round: ann.round, sent })
  m.say({ event: `poisoned-round-${ann.round}`, round: ann.round, sent })
})
