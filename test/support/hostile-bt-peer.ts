/**
 * A hostile BitTorrent peer, as its own process, aimed at one listener and one torrent:
 *   node --import tsx test/support/hostile-bt-peer.ts --mode MODE --target HOST:PORT --info-hash HEX [options]
 * Modes:
 *   idle      --connections N --from IP,IP… [--interested]  handshakes N connections and then says nothing (reads
 *             and discards), or with --interested says "interested" and then reads nothing; a connection the target
 *             closes is opened again after 200 ms, so the pressure stays on
 *   impostor  --peer-id HEX --pieces N --from IP  claims someone else's peer id, every piece, and serves garbage
 *   metadata  --count N --from IP  asks N times for metadata piece 0 and never reads a byte of the replies
 *   haves     --count N --connections C --from IP,IP…  sends N HAVEs (pieces 0…N-1) on each of C connections
 * stdout: {"event":"ready",…} once the attack is in place; on SIGTERM {"event":"done",…} with what it saw.
 */
import { connect } from 'node:net'
import type { Socket } from 'node:net'
import { randomBytes } from 'node:crypto'
import { parseArgs } from 'node:util'
import { bencode } from '../../src/swarm/bencode.js'
import { LOCAL_UT_METADATA } from '../../src/swarm/ut-metadata.js'
import { MSG, encodeHandshake, readHandshake } from '../../src/swarm/wire.js'
import { CorruptSeeder } from './corrupt-seeder.js'

const { values } = parseArgs({
  options: {
    mode: { type: 'string' },
    target: { type: 'string' },
    'info-hash': { type: 'string' },
    from: { type: 'string', default: '127.0.0.1' },
    connections: { type: 'string', default: '1' },
    count: { type: 'string', default: '0' },
    'peer-id': { type: 'string' },
    pieces: { type: 'string', default: '1' },
    interested: { type: 'boolean', default: false }
  }
})
const say = (m: Record<string, unknown>): void => { process.stdout.write(JSON.stringify(m) + '\n') }
const [host, port] = [values.target!.slice(0, values.target!.lastIndexOf(':')), Number(values.target!.slice(values.target!.lastIndexOf(':') + 1))]
const infoHash = values['info-hash']!
const from = values.from!.split(',')
const connections = Number(values.connections)
const count = Number(values.count)
const sockets = new Set<Socket>()
let stopping = false
const stats = { handshaked: 0, closedByTarget: 0, refused: 0, sentBytes: 0 }
let finish: () => Record<string, unknown> = () => ({})

/** A handshaked connection from `local`; resolves null when the target refuses or closes it first. */
async function open (local: string): Promise<Socket | null> {
  const socket = connect({ host, port, localAddress: local })
  socket.on('error', () => {})
  sockets.add(socket)
  socket.once('close', () => { sockets.delete(socket) })
  socket.write(encodeHandshake(infoHash, randomBytes(20).toString('hex')))
  try {
    const { rest } = await readHandshake(socket, 5000)
    void rest
    stats.handshaked++
    return socket
  } catch {
    stats.refused++
    socket.destroy()
    return null
  }
}

function message (id: number, payload: Uint8Array = new Uint8Array(0)): Buffer {
  const b = Buffer.alloc(5 + payload.byteLength)
  b.writeUInt32BE(1 + payload.byteLength, 0)
  b[4] = id
  b.set(payload, 5)
  return b
}

/** Idle (reads and drops everything), or interested and never reading. */
function sitStill (s: Socket): void {
  if (values.interested === true) { s.pause(); s.write(message(MSG.interested)) } else s.on('data', () => {})
}

async function idle (): Promise<void> {
  const keep = async (local: string): Promise<void> => {
    while (!stopping) {
      const s = await open(local)
      if (s != null) {
        sitStill(s)
        await new Promise(resolve => s.once('close', resolve))
        if (!stopping) stats.closedByTarget++
      }
      await new Promise(resolve => setTimeout(resolve, 200))
    }
  }
  // Every connection tried once before "ready", so the test knows the slots are taken (or refused).
  const first = await Promise.all(Array.from({ length: connections }, async (_, i) => await open(from[i % from.length])))
  const held = first.filter(s => s != null)
  say({ event: 'ready', open: held.length, refused: connections - held.length })
  for (let i = 0; i < connections; i++) {
    const s = first[i]
    const local = from[i % from.length]
    if (s == null) { void keep(local); continue }
    sitStill(s)
    s.once('close', () => { if (!stopping) { stats.closedByTarget++; setTimeout(() => { void keep(local) }, 200) } })
  }
}

async function impostor (): Promise<void> {
  const seeder = new CorruptSeeder(infoHash, Number(values.pieces), values['peer-id'])
  seeder.dial(host, port, from[0])
  while (seeder.connections === 0) await new Promise(resolve => setTimeout(resolve, 20))
  finish = () => { seeder.close(); return { served: seeder.served, connections: seeder.connections } }
  setInterval(() => {}, 60_000) // stays until SIGTERM, even once the target has hung up
  say({ event: 'ready', peerId: seeder.peerId })
}

async function metadata (): Promise<void> {
  const s = await open(from[0])
  if (s == null) throw new Error('the target refused the connection')
  s.pause() // never reads: every reply stays with the target
  s.write(message(MSG.extended, Buffer.concat([Buffer.from([0]), bencode({ m: { ut_metadata: 3 } })])))
  const request = message(MSG.extended, Buffer.concat([Buffer.from([LOCAL_UT_METADATA]), bencode({ msg_type: 0, piece: 0 })]))
  const batch = Buffer.concat(Array.from({ length: 1000 }, () => request))
  for (let n = 0; n < count; n += 1000) {
    if (!s.write(batch)) await new Promise(resolve => s.once('drain', resolve))
    stats.sentBytes += batch.byteLength
  }
  say({ event: 'ready', requests: count, bytes: stats.sentBytes })
}

async function haves (): Promise<void> {
  const all = await Promise.all(Array.from({ length: connections }, async (_, i) => await open(from[i % from.length])))
  await Promise.all(all.map(async (s) => {
    if (s == null) return
    s.on('data', () => {})
    const chunk = 10_000
    for (let i = 0; i < count && !s.destroyed; i += chunk) {
      const msgs = Buffer.alloc(9 * Math.min(chunk, count - i))
      for (let k = 0; k * 9 < msgs.byteLength; k++) { msgs.writeUInt32BE(5, k * 9); msgs[k * 9 + 4] = MSG.have; msgs.writeUInt32BE(i + k, k * 9 + 5) }
      if (!s.write(msgs)) await new Promise(resolve => { s.once('drain', resolve); s.once('close', resolve) })
      stats.sentBytes += msgs.byteLength
    }
  }))
  say({ event: 'ready', connections: all.filter(s => s != null).length, bytes: stats.sentBytes, closedByTarget: all.filter(s => s?.destroyed === true).length })
}

process.once('SIGTERM', () => {
  stopping = true
  const extra = finish()
  for (const s of sockets) s.destroy()
  // Exits once the line is written: a piped stdout is asynchronous.
  process.stdout.write(JSON.stringify({ event: 'done', ...stats, ...extra }) + '\n', () => process.exit(0))
})
const modes: Record<string, () => Promise<void>> = { idle, impostor, metadata, haves }
const run = modes[values.mode ?? '']
if (run == null) throw new Error(`--mode must be one of ${Object.keys(modes).join(', ')}`)
await run()
