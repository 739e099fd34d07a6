import { randomBytes } from 'node:crypto'
import { connect, createServer } from 'node:net'
import type { Server, Socket } from 'node:net'
import { MSG, PeerWire, encodeHandshake, readHandshake } from '../../src/swarm/wire.js'
import type { Handshake } from '../../src/swarm/wire.js'

/**
 * A BitTorrent peer gone bad, for fault tests: for one torrent it claims every piece, unchokes everyone and answers
 * each request with bytes that are not the file. It takes connections and dials peers itself.
 */
export class CorruptSeeder {
  readonly peerId: string
  /** blocks of wrong data sent */
  served = 0
  /** peers that completed a handshake with it */
  connections = 0
  private readonly server: Server
  private readonly sockets = new Set<Socket>()
  private readonly infoHash: string
  private readonly pieces: number

  /** `peerId`: the id it claims (anyone's; random by default) */
  constructor (infoHash: string, pieces: number, peerId = randomBytes(20).toString('hex')) {
    this.peerId = peerId
    this.infoHash = infoHash
    this.pieces = pieces
    this.server = createServer(socket => {
      this.track(socket)
      void readHandshake(socket, 5000).then(({ handshake, rest }) => {
        socket.write(encodeHandshake(infoHash, this.peerId))
        this.serve(socket, handshake, rest, false)
      }).catch(() => { socket.destroy() })
    })
  }

  async listen (host: string): Promise<number> {
    await new Promise<void>(resolve => { this.server.listen(0, host, resolve) })
    const a = this.server.address()
    return typeof a === 'object' && a != null ? a.port : 0
  }

  /** `from`: the local address to dial from (another loopback address stands for another host) */
  dial (host: string, port: number, from?: string): void {
    const socket = connect({ port, host, localAddress: from }, () => { socket.write(encodeHandshake(this.infoHash, this.peerId)) })
    this.track(socket)
    void readHandshake(socket, 5000).then(({ handshake, rest }) => { this.serve(socket, handshake, rest, true) }).catch(() => { socket.destroy() })
  }

  close (): void {
    for (const s of this.sockets) s.destroy()
    if (this.server.listening) this.server.close()
  }

  private track (socket: Socket): void {
    socket.on('error', () => {})
    this.sockets.add(socket)
    socket.once('close', () => { this.sockets.delete(socket) })
  }

  private serve (socket: Socket, remote: Handshake, rest: Buffer, outgoing: boolean): void {
    if (remote.infoHash !== this.infoHash) { socket.destroy(); return }
    this.connections++
    const wire = new PeerWire(socket, remote, { outgoing, maxMessage: 1 << 20 })
    wire.attach({
      onMessage: (id, p) => {
        if (id !== MSG.request) return
        wire.sendPiece(p.readUInt32BE(0), p.readUInt32BE(4), randomBytes(p.readUInt32BE(8)))
        this.served++
      },
      onPiece: () => {},
      onClose: () => {}
    }, rest)
    const bits = Buffer.alloc(Math.ceil(this.pieces / 8), 0)
    for (let i = 0; i < this.pieces; i++) bits[i >> 3] |= 0x80 >> (i & 7)
    wire.send(MSG.bitfield, bits)
    wire.send(MSG.unchoke)
  }
}
