import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { randomBytes } from 'node:crypto'
import { connect } from 'node:net'
import { silentLogger } from '../../../src/logger.js'
import { bdecode, isDict } from '../../../src/swarm/bencode.js'
import { SwarmPeer } from '../../../src/swarm/swarm-peer.js'
import { newPeerId } from '../../../src/swarm/peer-id.js'
import { MAX_QUEUED_REQUESTS } from '../../../src/swarm/swarm-torrent.js'
import { BLOCK_BYTES, MSG, PeerWire, encodeHandshake, readHandshake } from '../../../src/swarm/wire.js'

interface RawPeer { wire: PeerWire, got: Array<{ id: number, payload: Buffer }>, has: number[], pieces: () => number }

/** A hand-driven peer on a real socket (a bt-ps peer id unless told otherwise): it records what the seeder sends and sends what the test says. */
async function rawPeer (port: number, infoHash: string, peerId = newPeerId()): Promise<RawPeer> {
  const socket = connect(port, '127.0.0.1')
  socket.on('error', () => {})
  socket.write(encodeHandshake(infoHash, peerId))
  const { handshake, rest } = await readHandshake(socket, 5000)
  const wire = new PeerWire(socket, handshake, { outgoing: true, maxMessage: 1 << 20 })
  const got: RawPeer['got'] = []
  wire.attach({
    onMessage: (id, payload) => { got.push({ id, payload: Buffer.from(payload) }) },
    onPiece: (index, begin, parts) => {
      const head = Buffer.alloc(8)
      head.writeUInt32BE(index, 0)
      head.writeUInt32BE(begin, 4)
      got.push({ id: MSG.piece, payload: Buffer.concat([head, ...parts]) })
    },
    onClose: () => {}
  }, rest)
  return { wire, got, has: [], pieces: () => got.filter(m => m.id === MSG.piece).length }
}

const settle = async (ms = 500): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

test('the seeder serves only peers it unchoked, only pieces it showed them, and at most `reqq` requests at once', async () => {
  const seeder = new SwarmPeer({ announce: [], log: silentLogger() })
  await seeder.start()
  try {
    const seed = await seeder.seed(randomBytes(4 << 20), 'm.btps')
    const peer = await rawPeer(seeder.port, seed.infoHash)
    await settle()
    const ext = peer.got.find(m => m.id === MSG.extended && m.payload[0] === 0)
    const hs = bdecode(ext!.payload.subarray(1), 'ext handshake')
    assert.ok(isDict(hs) && hs.reqq === MAX_QUEUED_REQUESTS, 'the extension handshake tells how many requests it queues')
    const shown = peer.got.filter(m => m.id === MSG.have).map(m => m.payload.readUInt32BE(0))
    assert.is(shown.length, 2, 'super-seeding: two pieces shown to a bt-ps peer')
    const standard = await rawPeer(seeder.port, seed.infoHash, Buffer.from('-TR3000-abcdefghijkl').toString('hex'))
    await settle()
    const shownToStandard = standard.got.filter(m => m.id === MSG.have).map(m => m.payload.readUInt32BE(0))
    assert.is(shownToStandard.length, 64, 'a standard client is shown up to 8 MiB at a time: here all 64 pieces')
    assert.equal(shownToStandard.slice(0, 62).filter(i => shown.includes(i)), [], 'pieces nobody was shown come first')
    standard.wire.close('done')
    assert.not.ok(peer.got.some(m => m.id === MSG.unchoke), 'not unchoked before it says it is interested')
    peer.wire.sendInts(MSG.request, shown[0], 0, BLOCK_BYTES)
    await settle()
    assert.is(peer.pieces(), 0, 'a choked peer\'s request is not served')
    peer.wire.send(MSG.interested)
    await settle()
    assert.ok(peer.got.some(m => m.id === MSG.unchoke), 'unchoked once interested')
    const hidden = [0, 1, 2, 3].find(i => !shown.includes(i))!
    peer.wire.sendInts(MSG.request, hidden, 0, BLOCK_BYTES)
    await settle()
    assert.is(peer.pieces(), 0, 'a piece it was not shown is not served')
    // A thousand requests at once (the same block over and over): the ones past the queue are dropped.
    const one = Buffer.alloc(17)
    one.writeUInt32BE(13, 0); one[4] = MSG.request; one.writeUInt32BE(shown[0], 5); one.writeUInt32BE(0, 9); one.writeUInt32BE(BLOCK_BYTES, 13)
    peer.wire.socket.write(Buffer.concat(Array.from({ length: 1000 }, () => one)))
    await settle(1500)
    console.log(`1000 requests at once: ${peer.pieces()} blocks served`)
    assert.ok(peer.pieces() > 0 && peer.pieces() <= MAX_QUEUED_REQUESTS + 16, `${peer.pieces()} blocks served`)
    peer.wire.close('done')
  } finally {
    await seeder.stop()
  }
})

test.run()
