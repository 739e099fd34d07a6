import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { randomBytes } from 'node:crypto'
import { createServer, connect } from 'node:net'
import type { Socket } from 'node:net'
import { MSG, PeerWire, SocketReads } from '../../../src/swarm/wire.js'

/** A connected pair on loopback: `dialled` opened by connect (reading with `onread` when given), `accepted` the listener's side. */
async function socketPair (onread?: SocketReads['options']): Promise<{ dialled: Socket, accepted: Socket, close: () => void }> {
  let accept: (s: Socket) => void = () => {}
  const got = new Promise<Socket>(resolve => { accept = resolve })
  const server = createServer(s => { accept(s) })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const dialled = connect({ port: (server.address() as { port: number }).port, host: '127.0.0.1', onread })
  const accepted = await got
  dialled.setNoDelay(true)
  accepted.setNoDelay(true)
  return { dialled, accepted, close: () => { dialled.destroy(); accepted.destroy(); server.close() } }
}

const REMOTE = { infoHash: '00'.repeat(20), peerId: '11'.repeat(20), extensions: true }

/** A PeerWire reading what `write` sends through a real loopback connection, in the pieces `write` chooses. */
async function wirePair (): Promise<{ wire: PeerWire, sender: Socket, close: () => void }> {
  const { dialled, accepted, close } = await socketPair()
  return { wire: new PeerWire(accepted, REMOTE, { outgoing: false, maxMessage: 1 << 18 }), sender: dialled, close }
}

const pause = async (): Promise<void> => { await new Promise(resolve => setTimeout(resolve, 20)) }

function pieceMessage (index: number, begin: number, block: Buffer): Buffer {
  const head = Buffer.alloc(13)
  head.writeUInt32BE(9 + block.byteLength, 0); head[4] = MSG.piece; head.writeUInt32BE(index, 5); head.writeUInt32BE(begin, 9)
  return Buffer.concat([head, block])
}

test('a connection opened with SocketReads reads blocks straight to where they go, and keeps what it hands up', async () => {
  const reads = new SocketReads()
  const { dialled: socket, accepted: sender, close } = await socketPair(reads.options)
  try {
    const wire = new PeerWire(socket, REMOTE, { outgoing: true, maxMessage: 1 << 18, reads })
    const store = new Uint8Array(new SharedArrayBuffer(8 * 65536))
    const blocks = [randomBytes(65536), randomBytes(65536), randomBytes(32768)]
    const kept: Buffer[] = []
    const pieces: Array<{ index: number, bytes: Buffer, inPlace: boolean }> = []
    wire.attach({
      onMessage: (_id, p) => { kept.push(p) },
      // Pieces 1 and 2 go to the store; piece 4 is declined and comes up as parts.
      pieceTarget: (index, begin, length) => index < 4 ? store.subarray(index * 65536 + begin, index * 65536 + begin + length) : undefined,
      onPiece: (index, _begin, parts, length, inPlace) => { pieces.push({ index, bytes: Buffer.from(Buffer.concat(parts, length)), inPlace: inPlace === true }) },
      onClose: () => {}
    }, Buffer.alloc(0))
    const bitfield = Buffer.from([0, 0, 0, 2, MSG.bitfield, 0xa5])
    const have = Buffer.from([0, 0, 0, 5, MSG.have, 0, 0, 0, 3])
    const all = Buffer.concat([bitfield, pieceMessage(1, 0, blocks[0]), have, pieceMessage(2, 0, blocks[1]), pieceMessage(4, 0, blocks[2]), have])
    for (let at = 0; at < all.byteLength; at += 20_000) {
      sender.write(all.subarray(at, at + 20_000))
      await pause()
    }
    await pause()
    assert.equal(pieces.map(p => [p.index, p.inPlace]), [[1, true], [2, true], [4, false]])
    assert.ok(Buffer.from(store.buffer, 65536, 65536).equals(blocks[0]) && Buffer.from(store.buffer, 2 * 65536, 65536).equals(blocks[1]), 'blocks 1 and 2 are in the store')
    assert.ok(pieces[2].bytes.equals(blocks[2]), 'the declined block, handed up whole')
    assert.equal(kept.map(k => [...k]), [[0xa5], [0, 0, 0, 3], [0, 0, 0, 3]], 'messages kept after later reads are intact')
  } finally {
    close()
  }
})

test('a piece message split anywhere across reads reaches the handler whole, as the parts it arrived in', async () => {
  const { wire, sender, close } = await wirePair()
  try {
    const block = randomBytes(48 * 1024)
    const pieces: Array<{ index: number, begin: number, bytes: Buffer, parts: number }> = []
    const haves: number[] = []
    wire.attach({
      onMessage: (id, p) => { if (id === MSG.have) haves.push(p.readUInt32BE(0)) },
      onPiece: (index, begin, parts, length) => { pieces.push({ index, begin, bytes: Buffer.concat(parts, length), parts: parts.length }) },
      onClose: () => {}
    }, Buffer.alloc(0))
    const have = Buffer.from([0, 0, 0, 5, MSG.have, 0, 0, 0, 9])
    const head = Buffer.alloc(13)
    head.writeUInt32BE(9 + block.byteLength, 0); head[4] = MSG.piece; head.writeUInt32BE(7, 5); head.writeUInt32BE(32768, 9)
    const all = Buffer.concat([have, head, block, have])
    // Cuts inside the length, inside the piece header, twice inside the block, and between messages.
    for (const [from, to] of [[0, 2], [2, 12], [12, 5000], [5000, 30000], [30000, all.byteLength]]) {
      sender.write(all.subarray(from, to))
      await pause()
    }
    await pause()
    assert.equal(haves, [9, 9])
    assert.is(pieces.length, 1)
    assert.is(pieces[0].index, 7)
    assert.is(pieces[0].begin, 32768)
    assert.ok(pieces[0].bytes.equals(block), 'the block\'s bytes, in order')
    assert.ok(pieces[0].parts > 1, 'handed up without being joined first')
  } finally {
    close()
  }
})

test('a block that begins in the bytes read before the wire attached is read in place from there on', async () => {
  const reads = new SocketReads()
  const { dialled: socket, accepted: sender, close } = await socketPair(reads.options)
  try {
    const block = randomBytes(65536)
    const message = pieceMessage(3, 0, block)
    // The head and 100 bytes of the block come before the wire attaches (as with a handshake), the rest after.
    sender.write(message.subarray(0, 113))
    await pause()
    const wire = new PeerWire(socket, REMOTE, { outgoing: true, maxMessage: 1 << 18, reads })
    const store = new Uint8Array(new SharedArrayBuffer(4 * 65536))
    const pieces: Array<[number, boolean]> = []
    let closed = ''
    wire.attach({
      onMessage: () => {},
      pieceTarget: (index, begin, length) => store.subarray(index * 65536 + begin, index * 65536 + begin + length),
      onPiece: (index, _begin, _parts, _length, inPlace) => { pieces.push([index, inPlace === true]) },
      onClose: (reason) => { closed = reason }
    }, Buffer.alloc(0))
    sender.write(Buffer.concat([message.subarray(113), Buffer.from([0, 0, 0, 5, MSG.have, 0, 0, 0, 1])]))
    await pause()
    assert.is(closed, '', 'the stream stays framed')
    assert.equal(pieces, [[3, true]])
    assert.ok(Buffer.from(store.buffer, 3 * 65536, 65536).equals(block), 'the whole block is in the store')
  } finally {
    close()
  }
})

test('a message longer than the wire allows closes it with a reason', async () => {
  const { wire, sender, close } = await wirePair()
  try {
    let reason = ''
    wire.attach({ onMessage: () => {}, onPiece: () => {}, onClose: (r) => { reason = r } }, Buffer.alloc(0))
    const head = Buffer.alloc(5)
    head.writeUInt32BE((1 << 18) + 1, 0); head[4] = MSG.piece
    sender.write(head)
    await pause()
    assert.ok(wire.closed)
    assert.match(reason, /exceeds/)
  } finally {
    close()
  }
})

test.run()
