/**
 * A member of the job gone bad, as its own process: it holds the job's key, listens to the server's round
 * announcements and joins each round's swarm with a CorruptSeeder, announced to the tracker like any peer.
 *   node --import tsx test/faults/rogue-peer.ts --psk FILE --server MULTIADDR --tracker URL --job ID
 * stdout: {"event":"ready"}, {"event":"joined","round":N,"infoHash":…,"port":…}; on SIGTERM {"event":"done",…}.
 */
import { parseArgs } from 'node:util'
import { Client as TrackerClient } from 'bittorrent-tracker'
import { multiaddr } from '@multiformats/multiaddr'
import { createControlNode } from '../../src/net/node.js'
import { loadPsk } from '../../src/net/psk.js'
import { parseRoundMessage, roundsTopic } from '../../src/control/round.js'
import { parseMagnet } from '../../src/swarm/metainfo.js'
import { choosePieceLength } from '../../src/swarm/piece-length.js'
import { CorruptSeeder } from '../support/corrupt-seeder.js'

const { values } = parseArgs({ options: { psk: { type: 'string' }, server: { type: 'string' }, tracker: { type: 'string' }, job: { type: 'string' } } })
const say = (m: Record<string, unknown>): void => { process.stdout.write(JSON.stringify(m) + '\n') }
const node = await createControlNode({ host: '127.0.0.1', port: 0, psk: loadPsk(values.psk!, { create: false }) })
const topic = roundsTopic(values.job!)
const seeders = new Map<string, { seeder: CorruptSeeder, tracker?: TrackerClient }>()
node.services.pubsub.subscribe(topic)
node.services.pubsub.addEventListener('message', (evt) => {
  if (evt.detail.topic !== topic) return
  const m = parseRoundMessage(evt.detail.data)
  if (m.type !== 'round' || m.magnet == null) return
  const { infoHash } = parseMagnet(m.magnet)
  if (seeders.has(infoHash)) return
  const seeder = new CorruptSeeder(infoHash, Math.ceil(m.bytes / choosePieceLength(m.bytes)))
  // Held from now on, not once it listens: the round's re-announcements come every few seconds and must not start a second one.
  const joined: { seeder: CorruptSeeder, tracker?: TrackerClient } = { seeder }
  seeders.set(infoHash, joined)
  void seeder.listen('127.0.0.1').then((port) => {
    // Claims to be a complete seed, so the tracker hands it to every leecher, and dials every peer it is given.
    const tracker = new TrackerClient({ infoHash, peerId: seeder.peerId, announce: [values.tracker!], port, getAnnounceOpts: () => ({ left: 0, numwant: 50 }) })
    tracker.on('peer', (addr: unknown) => {
      const [host, p] = String(addr).split(':')
      if (Number(p) !== port) seeder.dial(host, Number(p))
    })
    tracker.on('warning', (err: unknown) => { process.stderr.write(`tracker warning: ${String(err)}\n`) })
    tracker.on('error', () => {})
    tracker.start()
    joined.tracker = tracker
    say({ event: 'joined', round: m.round, infoHash, port })
  })
})
const server = await node.dial(multiaddr(values.server!))
// SIGTERM is handled before the ready line: a parent may stop it as soon as it reads the line. The counts are
// taken once every seeder is closed, so none is served after them.
process.once('SIGTERM', () => {
  const all = [...seeders.values()]
  for (const s of all) { s.tracker?.destroy(); s.seeder.close() }
  say({ event: 'done', served: all.reduce((n, s) => n + s.seeder.served, 0), connections: all.reduce((n, s) => n + s.seeder.connections, 0) })
  void Promise.resolve(node.stop()).finally(() => process.exit(0))
})
// Ready once the server knows this peer's subscription, so the next round's announcement reaches it.
while (!node.services.pubsub.getSubscribers(topic).some(p => p.equals(server.remotePeer))) await new Promise(resolve => setTimeout(resolve, 100))
say({ event: 'ready', peerId: node.peerId.toString() })
