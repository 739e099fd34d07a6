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
import { framed, readBytes, readJson, writeBytes, writeJson } from '../../src/net/frames.js'
import { encodeMessage, parseLoginResponse, parseRoundMessage, parseUpdateAck } from '../../src/net/messages.js'
import type { RoundAnnouncement } from '../../src/net/messages.js'
import { LOGIN_PROTOCOL, MODEL_PROTOCOL, STATUS_PROTOCOL, UPDATE_PROTOCOL, roundsTopic } from '../../src/net/protocols.js'
import { parseModel, serializeModel } from '../../src/model/serialize.js'
import type { NamedTensor } from '../../src/model/serialize.js'

const { values } = parseArgs({ options: { psk: { type: 'string' }, server: { type: 'string' }, job: { type: 'string' }, id: { type: 'string' } } })
const clientId = values.id!
const say = (m: Record<string, unknown>): void => { process.stdout.write(JSON.stringify(m) + '\n') }
const node = await createControlNode({ host: '127.0.0.1', port: 0, psk: loadPsk(values.psk!, { create: false }) })
const topic = roundsTopic(values.job!)
node.services.pubsub.subscribe(topic)
const server = await node.dial(multiaddr(values.server!))

const login = framed(await server.newStream(LOGIN_PROTOCOL))
await writeJson(login, { clientId, backend: 'cpu' })
const res = parseLoginResponse(await readJson(login, 'login response'))
if (!res.ok) { process.stderr.write(`login refused: ${res.reason}\n`); process.exit(1) }

// Heartbeats keep it eligible for selection like any live client; the first is delivered before it says it is ready.
const beat = async (): Promise<void> => {
  await (async () => {
    const s = framed(await node.dialProtocol(server.remotePeer, STATUS_PROTOCOL))
    await s.write(encodeMessage({ type: 'heartbeat', clientId, state: 'idle', round: 0 }))
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

async function send (ann: RoundAnnouncement, tensors: NamedTensor[]): Promise<{ accepted: boolean, reason?: string }> {
  const lp = framed(await node.dialProtocol(server.remotePeer, UPDATE_PROTOCOL))
  const report = { downloadS: 0.1, computeS: 0.1, bytesFromServer: ann.bytes, bytesFromPeers: 0, bytesUploadedToPeers: 0, utility: 1, meanLoss: 0.1, backend: 'cpu' }
  await writeJson(lp, { jobId: ann.jobId, round: ann.round, clientId, samples: 1000, report })
  // The server answers early, without reading the rest, when it refuses the header.
  const ack = lp.read().then(frame => parseUpdateAck(JSON.parse(new TextDecoder().decode(frame.subarray()))))
  await Promise.race([writeBytes(lp, serializeModel({ jobId: ann.jobId, round: ann.round }, tensors)).catch(() => {}), ack])
  return await ack
}

async function poison (ann: RoundAnnouncement): Promise<void> {
  const lp = framed(await node.dialProtocol(server.remotePeer, MODEL_PROTOCOL))
  await writeJson(lp, { jobId: ann.jobId, round: ann.round })
  const head = await readJson(lp, 'model response') as { ok: boolean, reason?: string }
  if (!head.ok) throw new Error(`no model: ${String(head.reason)}`)
  const { tensors } = parseModel(await readBytes(lp, ann.bytes, 'model'))
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
