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
import type { Stream } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { framed, writeJson } from '../../src/net/frames.js'
import { UPDATE_PROTOCOL } from '../../src/control/update.js'
import { CONTRIBUTION_PROTOCOL, sendContribution } from '../../src/control/contribution.js'
import { SHARD_PROTOCOL } from '../../src/control/shard.js'
import { modelValues, shardChecks, shardRanges } from '../../src/aggregation/shards.js'
import { parseModelHeader } from '../../src/model/serialize.js'
import { joinAsMember } from '../support/job-member.js'

/** Streams held open on purpose, so nothing closes them. */
const held: Stream[] = []

/** After a header: nothing more, or one byte a second (a length prefix promising a 64 KiB frame that never fills). */
function stall (stream: Stream, pace: string | undefined): void {
  held.push(stream)
  if (pace !== 'trickle') return
  stream.send(Uint8Array.from([0x80, 0x80, 0x04]))
  setInterval(() => { try { stream.send(Uint8Array.from([1])) } catch { /* closed by the reader: nothing to trickle into */ } }, 1000).unref()
}

await joinAsMember(['pace'], async (m, ann, flags) => {
  const bytes = await m.model(ann)
  const plan = ann.upload
  if (plan == null) {
    try {
      const stream = await m.node.dialProtocol(m.server.remotePeer, UPDATE_PROTOCOL)
      await writeJson(framed(stream), { jobId: ann.jobId, round: ann.round, clientId: m.clientId, samples: 1000, report: m.report(ann) })
      stall(stream, flags.pace)
      m.say({ event: 'stalling', round: ann.round, upload: 'direct', admitted: true })
    } catch (err) {
      // The server caps the update streams one peer may hold; the held ones of earlier rounds count until it resets them.
      m.say({ event: 'refused', round: ann.round, reason: String(err) })
    }
    return
  }
  const values = modelValues(bytes)
  const ranges = shardRanges(plan.elements, plan.peers.length)
  const tensors = parseModelHeader(bytes).header.tensors.map(t => ({ name: t.name, shape: t.shape, dtype: t.dtype }))
  const stream = await m.node.dialProtocol(m.server.remotePeer, CONTRIBUTION_PROTOCOL)
  const ack = await sendContribution(framed(stream), { jobId: ann.jobId, round: ann.round, clientId: m.clientId, report: m.report(ann), tensors, shards: shardChecks(values, values, ranges) })
  m.say({ event: 'stalling', round: ann.round, upload: 'swarm', admitted: ack.accepted, reason: ack.reason })
  if (flags.pace === 'vanish') process.exit(0)
  await Promise.all(plan.peers.map(async (owner, shard) => {
    if (owner.addr == null) return
    const s = await m.node.dialProtocol(multiaddr(owner.addr), SHARD_PROTOCOL)
    await writeJson(framed(s), { jobId: ann.jobId, round: ann.round, clientId: m.clientId, shard, elements: ranges[shard].end - ranges[shard].start })
    stall(s, flags.pace)
  }))
})
