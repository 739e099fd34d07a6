/**
 * A member of the job that sends poisoned updates, as its own process: it holds the job's key, logs in like a
 * client, and when a round selects it fetches the model from the server and sends it back broken in each way the
 * server must catch, then once more unharmed (which an excluded client must not get in either).
 *   node --import tsx test/faults/poisoned-client.ts --psk FILE --server MULTIADDR --job ID --id CLIENT_ID
 * stdout: {"event":"ready"}, then per round that selects it {"event":"poisoned","round":N,"sent":[{variant,…}]}.
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

/** The global model broken one way each, then unharmed. */
function variants (global: NamedTensor[]): Array<[string, NamedTensor[]]> {
  const copy = (): NamedTensor[] => global.map(t => ({ ...t, shape: [...t.shape], data: t.data.slice() }))
  const withFirst = (change: (t: NamedTensor) => NamedTensor): NamedTensor[] => { const ts = copy(); ts[0] = change(ts[0]); return ts }
  const setFirstValue = (v: number): NamedTensor[] => withFirst(t => { t.data[0] = v; return t })
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
async function send (ann: RoundAnnouncement, tensors: NamedTensor[]): Promise<UpdateAck> {
  const stream = await node.dialProtocol(server.remotePeer, UPDATE_PROTOCOL)
  const report = { downloadS: 0.1, computeS: 0.1, bytesFromServer: ann.bytes, bytesFromPeers: 0, bytesUploadedToPeers: 0, utility: 1, meanLoss: 0.1, backend: 'cpu' }
  const ack = await sendUpdate(framed(stream), { jobId: ann.jobId, round: ann.round, clientId, samples: 1000, report }, serializeModel({ jobId: ann.jobId, round: ann.round }, tensors))
  await stream.close().catch(() => {})
  return ack
}

async function poison (ann: RoundAnnouncement): Promise<void> {
  const stream = await node.dialProtocol(server.remotePeer, MODEL_PROTOCOL)
  const { tensors } = parseModel(await fetchModel(framed(stream), { jobId: ann.jobId, round: ann.round }, ann.bytes))
  await stream.close().catch(() => {})
  const sent = []
  for (const [variant, update] of variants(tensors)) sent.push({ variant, ...await send(ann, update) })
  say({ event: 'poisoned', round: ann.round, sent })
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
