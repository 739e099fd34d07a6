import { parseArgs } from 'node:util'
import type { Connection } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { createControlNode } from '../../src/net/node.js'
import type { ControlNode } from '../../src/net/node.js'
import { loadPsk } from '../../src/net/psk.js'
import { framed } from '../../src/net/frames.js'
import { LOGIN_PROTOCOL, login } from '../../src/control/login.js'
import { MODEL_PROTOCOL, fetchModel } from '../../src/control/model.js'
import { parseRoundMessage, roundsTopic } from '../../src/control/round.js'
import type { RoundAnnouncement } from '../../src/control/round.js'
import { STATUS_PROTOCOL, encodeHeartbeat, sendHeartbeat } from '../../src/control/status.js'
import type { ClientReport } from '../../src/control/report.js'

export interface JobMember {
  clientId: string
  node: ControlNode
  server: Connection
  /** a JSON line on stdout, what its parent test reads */
  say: (m: Record<string, unknown>) => void
  /** the round's model, straight from the server (any selected client may ask) */
  model: (ann: RoundAnnouncement) => Promise<Uint8Array>
  /** a plausible report for its update */
  report: (ann: RoundAnnouncement) => ClientReport
}

/**
 * A hostile member of a job for fault tests, as its own process: it holds the job's key and logs in through the
 * client's own protocol modules, heartbeats like a live client, and calls `onRound` once for each round that selects
 * it. It says `{"event":"ready"}` only once the server hears its heartbeats and its subscription, and exits on
 * SIGTERM. Flags: --psk FILE --server MULTIADDR --job ID --id CLIENT_ID, plus `extra` string flags of its own.
 */
export async function joinAsMember (extra: string[], onRound: (member: JobMember, ann: RoundAnnouncement, flags: Record<string, string | undefined>) => Promise<void>): Promise<void> {
  const options = Object.fromEntries(['psk', 'server', 'job', 'id', ...extra].map(k => [k, { type: 'string' as const }]))
  const flags = parseArgs({ options }).values as Record<string, string | undefined>
  const clientId = flags.id as string
  const say = (m: Record<string, unknown>): void => { process.stdout.write(JSON.stringify(m) + '\n') }
  const node = await createControlNode({ host: '127.0.0.1', port: 0, psk: loadPsk(flags.psk as string, { create: false }) })
  const topic = roundsTopic(flags.job as string)
  node.services.pubsub.subscribe(topic)
  const server = await node.dial(multiaddr(flags.server as string))
  const res = await login(framed(await server.newStream(LOGIN_PROTOCOL)), { clientId, backend: 'cpu' })
  if (!res.ok) { process.stderr.write(`login refused: ${res.reason}\n`); process.exit(1) }
  // Heartbeats keep it eligible for selection like any live client; the first is delivered before it says it is ready.
  const beat = async (): Promise<void> => {
    await (async () => {
      const stream = await node.dialProtocol(server.remotePeer, STATUS_PROTOCOL)
      await sendHeartbeat(framed(stream), encodeHeartbeat({ clientId, state: 'idle', round: 0 }))
      await stream.close()
    })().catch(() => {})
  }
  const firstBeat = beat()
  setInterval(() => { void beat() }, 2000).unref()
  const member: JobMember = {
    clientId,
    node,
    server,
    say,
    model: async (ann) => {
      const stream = await node.dialProtocol(server.remotePeer, MODEL_PROTOCOL)
      const bytes = await fetchModel(framed(stream), { jobId: ann.jobId, round: ann.round }, ann.bytes)
      await stream.close().catch(() => {})
      return bytes
    },
    report: (ann) => ({ downloadS: 0.1, computeS: 0.1, bytesFromServer: ann.bytes, bytesFromPeers: 0, bytesUploadedToPeers: 0, utility: 1, meanLoss: 0.1, backend: 'cpu' })
  }
  const seen = new Set<number>()
  node.services.pubsub.addEventListener('message', (evt) => {
    if (evt.detail.topic !== topic) return
    const m = parseRoundMessage(evt.detail.data)
    if (m.type !== 'round' || seen.has(m.round) || !m.selected.includes(clientId)) return
    seen.add(m.round)
    onRound(member, m, flags).catch((err: unknown) => { process.stderr.write(`round ${m.round}: ${String(err)}\n`); process.exit(1) })
  })
  // SIGTERM is handled before the ready line: a parent may stop it as soon as it reads the line.
  process.once('SIGTERM', () => { void Promise.resolve(node.stop()).finally(() => process.exit(0)) })
  await firstBeat
  while (!node.services.pubsub.getSubscribers(topic).some(p => p.equals(server.remotePeer))) await new Promise(resolve => setTimeout(resolve, 100))
  say({ event: 'ready', peerId: node.peerId.toString(), partition: res.partition })
}
