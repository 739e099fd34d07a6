import type { Socket } from 'node:net'
import { BtpsError, InvalidInputError } from '../errors.js'

/** BitTorrent peer wire protocol (BEP 3) with the extension protocol (BEP 10), over one TCP socket. */
export const PROTOCOL = 'BitTorrent protocol'
export const HANDSHAKE_BYTES = 68
export const BLOCK_BYTES = 16 * 1024
/** Longest block a peer may ask for; BEP 3 clients use 16 KiB, some ask 32 KiB. */
export const MAX_REQUEST_BYTES = 128 * 1024

/** Parts up to this size are joined before writing. */
const SMALL_PART_BYTES = 1024
/** length, id, index and begin: what precedes a `piece` message's block */
const PIECE_HEAD_BYTES = 13

export const MSG = { choke: 0, unchoke: 1, interested: 2, notInterested: 3, have: 4, bitfield: 5, request: 6, piece: 7, cancel: 8, port: 9, extended: 20 } as const

export interface Handshake { infoHash: string, peerId: string, extensions: boolean }

export function encodeHandshake (infoHash: string, peerId: string): Buffer {
  const b = Buffer.alloc(HANDSHAKE_BYTES)
  b[0] = PROTOCOL.length
  b.write(PROTOCOL, 1, 'latin1')
  b[25] = 0x10 // reserved bit 20 from the right: extension protocol (BEP 10)
  Buffer.from(infoHash, 'hex').copy(b, 28)
  Buffer.from(peerId, 'hex').copy(b, 48)
  return b
}

export function parseHandshake (b: Uint8Array): Handshake {
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength)
  if (buf.byteLength < HANDSHAKE_BYTES || buf[0] !== PROTOCOL.length || buf.toString('latin1', 1, 20) !== PROTOCOL) {
    throw new InvalidInputError('WIRE_PROTOCOL', 'handshake', 'not a BitTorrent handshake')
  }
  return { infoHash: buf.toString('hex', 28, 48), peerId: buf.toString('hex', 48, 68), extensions: (buf[25] & 0x10) !== 0 }
}

/** Bytes a socket opened with SocketReads reads at a time into its reused buffer. */
const READ_BYTES = 64 * 1024
/** HAVEs in a row read a message head at a time after a block, before reads go back to READ_BYTES. */
const MAX_SMALL_READS = 16

/**
 * Where a socket we open reads to (Node's `onread`, given at connect): a reused buffer, or the place in the
 * download where the block of the `piece` message being read goes, so the kernel copies the block there and
 * nothing copies it again. Which it is for each read is decided when the read before it has been handled.
 */
export class SocketReads {
  private readonly scratch = Buffer.allocUnsafe(READ_BYTES)
  /** the next reads go here, not into the reused buffer */
  into?: Uint8Array
  /** the next read into the reused buffer stops after a piece message's head, so the block can go in place */
  headOnly = false
  private lastInPlace = false
  /** bytes read while nobody listens (between the handshake and the wire), copied */
  private early: Buffer[] = []
  /** what gets each read: `bytes` lies in the reused buffer (valid only during the call) unless `inPlace` */
  private listener: (bytes: Buffer, inPlace: boolean) => void = (bytes) => { this.early.push(Buffer.from(bytes)) }

  /** `onread` for net.connect. */
  readonly options = {
    buffer: (): Uint8Array => {
      this.lastInPlace = this.into != null
      return this.into ?? (this.headOnly ? this.scratch.subarray(0, PIECE_HEAD_BYTES) : this.scratch)
    },
    callback: (n: number, buf: Uint8Array): boolean => {
      this.listener(Buffer.from(buf.buffer, buf.byteOffset, n), this.lastInPlace)
      return true
    }
  }

  /** Sends later reads to `listener` (none: keep copies until the next listener); returns what was kept. */
  listen (listener?: (bytes: Buffer, inPlace: boolean) => void): Buffer[] {
    const early = this.early
    this.early = []
    this.listener = listener ?? ((bytes) => { this.early.push(Buffer.from(bytes)) })
    return early
  }
}

/**
 * Reads the 68-byte handshake from a fresh socket; resolves with it and whatever bytes followed. `reads`: the
 * socket was opened with them (its bytes come there, not as 'data').
 */
export async function readHandshake (socket: Socket, timeoutMs: number, reads?: SocketReads): Promise<{ handshake: Handshake, rest: Buffer }> {
  return await new Promise((resolve, reject) => {
    let got: Buffer = Buffer.alloc(0)
    const done = (err?: Error): void => {
      clearTimeout(timer)
      socket.off('data', onData); socket.off('close', onClose); socket.off('error', onError)
      reads?.listen()
      if (err != null) { reject(err); return }
      try {
        resolve({ handshake: parseHandshake(got), rest: got.subarray(HANDSHAKE_BYTES) })
      } catch (e) { reject(e as Error) }
    }
    const onData = (d: Buffer): void => {
      got = got.byteLength === 0 ? d : Buffer.concat([got, d])
      if (got.byteLength >= HANDSHAKE_BYTES || got[0] !== PROTOCOL.length) { socket.pause(); done() }
    }
    const onClose = (): void => { done(new BtpsError('WIRE_CLOSED', 'peer closed before its handshake')) }
    const onError = (err: Error): void => { done(err) }
    const timer = setTimeout(() => { done(new BtpsError('WIRE_TIMEOUT', 'no handshake in time')) }, timeoutMs)
    if (reads != null) reads.listen((bytes) => { onData(Buffer.from(bytes)) })
    else socket.on('data', onData)
    socket.once('close', onClose); socket.once('error', onError)
  })
}

/** What a wire hands up; each message from the peer is already checked for shape, not for meaning. */
export interface WireHandler {
  onMessage: (id: number, payload: Buffer) => void
  /**
   * A `piece` message: its block as it lies in the read buffers (one part or several), `length` bytes in all, or
   * (`inPlace`) already where `pieceTarget` said it goes.
   */
  onPiece: (index: number, begin: number, parts: Buffer[], length: number, inPlace?: boolean) => void
  /** Where a block may be read straight to (a wire with SocketReads asks as a `piece` message begins); none: not. */
  pieceTarget?: (index: number, begin: number, length: number) => Uint8Array | undefined
  onClose: (reason: string) => void
}

/** A block being read in place: its piece, offset, length, destination, bytes read so far, and when last. */
export interface InPlaceRead { index: number, begin: number, length: number, dest: Uint8Array, got: number, at: number }

/** Frames messages on an established socket. Bad framing closes the wire with a reason; it never throws out. */
export class PeerWire {
  readonly socket: Socket
  readonly remote: Handshake
  readonly outgoing: boolean
  closed = false
  private chunks: Buffer[] = []
  private buffered = 0
  private readonly maxMessage: number
  private handler?: WireHandler
  private pending: Uint8Array[] = []
  private flushScheduled = false
  private readonly reads?: SocketReads
  /** the block being read in place, if one is */
  inPlace?: InPlaceRead
  /** messages other than blocks since the last block */
  private smallReads = 0

  /** `reads`: the socket was opened with them (see SocketReads). */
  constructor (socket: Socket, remote: Handshake, opts: { outgoing: boolean, maxMessage: number, reads?: SocketReads }) {
    this.socket = socket
    this.remote = remote
    this.outgoing = opts.outgoing
    this.maxMessage = opts.maxMessage
    this.reads = opts.reads
    socket.setNoDelay(true)
  }

  /** Starts reading (after `rest`, the bytes that came with the handshake). */
  attach (handler: WireHandler, rest: Buffer): void {
    this.handler = handler
    const early = this.reads?.listen((bytes, inPlace) => { this.onRead(bytes, inPlace) }) ?? []
    if (this.reads == null) this.socket.on('data', (d: Buffer) => { this.onData(d) })
    this.socket.once('close', () => { this.close('connection closed') })
    this.socket.on('error', (err: Error) => { this.close(err.message) })
    // Through onRead: a block that begins here may be read in place, and the bytes after it belong to it.
    for (const d of [rest, ...early]) if (d.byteLength > 0) this.onRead(d, false)
    this.socket.resume()
  }

  /**
   * Bytes read from the socket: into its reused buffer, or (`inPlace`) into the block being read in place. Bytes of
   * that block that came otherwise (the read was set up before the block began, or with the handshake) are copied
   * there; what follows the block is parsed as usual.
   */
  private onRead (bytes: Buffer, inPlace: boolean): void {
    if (this.closed) return
    const r = this.inPlace
    if (r != null) {
      const n = Math.min(bytes.byteLength, r.length - r.got)
      if (!inPlace) r.dest.set(bytes.subarray(0, n), r.got)
      r.got += n
      r.at = performance.now()
      if (r.got < r.length) { this.reads!.into = r.dest.subarray(r.got); return }
      this.inPlace = undefined
      this.reads!.into = undefined
      try {
        this.handler?.onPiece(r.index, r.begin, [r.dest as Buffer], r.length, true)
      } catch (err) {
        this.close(`bad message ${MSG.piece}: ${String((err as Error).message ?? err)}`)
        return
      }
      if (inPlace || n === bytes.byteLength) return
      bytes = bytes.subarray(n)
    }
    this.onData(bytes)
    // What stays buffered must outlive the reused buffer.
    for (let i = 0; i < this.chunks.length; i++) if (this.chunks[i].buffer === bytes.buffer) this.chunks[i] = Buffer.from(this.chunks[i])
  }

  /** Stops reading from the socket (TCP pushes back on the sender) until resume(). */
  pause (): void { this.socket.pause() }
  resume (): void { if (!this.closed) this.socket.resume() }

  get remoteAddress (): string { return `${this.socket.remoteAddress ?? '?'}:${this.socket.remotePort ?? 0}` }
  /** Bytes waiting in user space to be written. */
  get backlog (): number {
    let n = this.socket.writableLength
    for (const p of this.pending) n += p.byteLength
    return n
  }

  private onData (d: Buffer): void {
    if (this.closed) return
    this.chunks.push(d)
    this.buffered += d.byteLength
    while (!this.closed && this.buffered >= 4) {
      const head = this.peek(Math.min(PIECE_HEAD_BYTES, this.buffered))
      const len = head.readUInt32BE(0)
      if (len > this.maxMessage) { this.close(`message of ${len} bytes exceeds ${this.maxMessage}`); return }
      if (len === 0) { if (this.buffered < 4) return; this.take(4); continue } // keep-alive
      const id = head[4]
      if (this.reads != null) {
        // After a block, the next is likely a block too: read its head alone, so the block can go in place. The
        // HAVEs a seeder sends between blocks keep it so, a few at a time (many would cost a read each).
        this.smallReads = id === MSG.piece ? 0 : this.smallReads + 1
        this.reads.headOnly = id === MSG.piece || (this.reads.headOnly && id === MSG.have && this.smallReads <= MAX_SMALL_READS)
        if (id === MSG.piece && len >= PIECE_HEAD_BYTES - 4 && this.buffered < 4 + len && this.buffered >= PIECE_HEAD_BYTES && this.readInPlace(head, len)) return
      }
      if (this.buffered < 4 + len) return
      try {
        if (id === MSG.piece && len >= PIECE_HEAD_BYTES - 4) {
          // A block is handed up where it lies: joining it across read buffers would copy every byte once more.
          const index = head.readUInt32BE(5)
          const begin = head.readUInt32BE(9)
          this.take(PIECE_HEAD_BYTES)
          this.handler?.onPiece(index, begin, this.takeParts(len + 4 - PIECE_HEAD_BYTES), len + 4 - PIECE_HEAD_BYTES)
        } else {
          // Copied when read into a reused buffer: a handler may keep a message (a bitfield before the metadata).
          const msg = this.reads != null ? Buffer.from(this.take(4 + len)) : this.take(4 + len)
          this.handler?.onMessage(id, msg.subarray(5))
        }
      } catch (err) {
        this.close(`bad message ${id}: ${String((err as Error).message ?? err)}`)
      }
    }
  }

  /**
   * A `piece` message has begun and its block is not all here: when the handler gives the block's place, the
   * part here is copied there and the rest is read straight to it. Otherwise reads go on as usual (and not a head
   * at a time).
   */
  private readInPlace (head: Buffer, len: number): boolean {
    const index = head.readUInt32BE(5)
    const begin = head.readUInt32BE(9)
    const length = len + 4 - PIECE_HEAD_BYTES
    const dest = this.handler?.pieceTarget?.(index, begin, length)
    if (dest == null || dest.byteLength !== length) { this.reads!.headOnly = false; return false }
    this.take(PIECE_HEAD_BYTES)
    const here = this.buffered
    copyParts(this.takeParts(here), dest)
    this.inPlace = { index, begin, length, dest, got: here, at: performance.now() }
    this.reads!.into = dest.subarray(here)
    return true
  }

  /** The first `n` buffered bytes, contiguous; the read buffers stay as they are. */
  private peek (n: number): Buffer {
    if (this.chunks[0].byteLength >= n) return this.chunks[0]
    const out = Buffer.allocUnsafe(n)
    for (let i = 0, off = 0; off < n; i++) off += this.chunks[i].copy(out, off, 0, Math.min(this.chunks[i].byteLength, n - off))
    return out
  }

  /** The next `n` bytes as views of the read buffers, without copying. */
  private takeParts (n: number): Buffer[] {
    const parts: Buffer[] = []
    let left = n
    while (left > 0) {
      const c = this.chunks[0]
      if (c.byteLength <= left) {
        parts.push(c)
        this.chunks.shift()
        left -= c.byteLength
      } else {
        parts.push(c.subarray(0, left))
        this.chunks[0] = c.subarray(left)
        left = 0
      }
    }
    this.buffered -= n
    return parts
  }

  private take (n: number): Buffer {
    const first = this.chunks[0]
    let out: Buffer
    if (first.byteLength >= n) {
      out = first.subarray(0, n)
      if (first.byteLength === n) this.chunks.shift()
      else this.chunks[0] = first.subarray(n)
    } else {
      out = Buffer.allocUnsafe(n)
      let off = 0
      while (off < n) {
        const c = this.chunks[0]
        const k = Math.min(c.byteLength, n - off)
        c.copy(out, off, 0, k)
        off += k
        if (k === c.byteLength) this.chunks.shift()
        else this.chunks[0] = c.subarray(k)
      }
    }
    this.buffered -= n
    return out
  }

  /** Resolves once fewer than `limit` bytes wait to be written (or the wire closed). */
  async writable (limit: number): Promise<void> {
    while (!this.closed && this.backlog >= limit) {
      if (this.pending.length > 0) await new Promise(resolve => setImmediate(resolve))
      else await drained(this.socket)
    }
  }

  /**
   * Messages queue up and go out together once the current I/O callbacks are done: a HAVE to every peer after
   * each piece and a request after each block would otherwise cost a system call apiece.
   */
  private queue (...parts: Uint8Array[]): void {
    if (this.closed) return
    this.pending.push(...parts)
    if (!this.flushScheduled) {
      this.flushScheduled = true
      setImmediate(() => { this.flush() })
    }
  }

  private flush (): void {
    this.flushScheduled = false
    const parts = this.pending
    this.pending = []
    if (this.closed || parts.length === 0) return
    this.socket.cork()
    // Runs of small messages (requests, HAVEs) go out as one buffer: a vector of thousands of 17-byte parts costs
    // more to hand to the kernel than the bytes do. Blocks are written as they are.
    let run: Uint8Array[] = []
    const writeRun = (): void => {
      if (run.length === 0) return
      this.socket.write(run.length === 1 ? run[0] : Buffer.concat(run))
      run = []
    }
    for (const p of parts) {
      if (p.byteLength <= SMALL_PART_BYTES) { run.push(p); continue }
      writeRun()
      this.socket.write(p)
    }
    writeRun()
    this.socket.uncork()
  }

  send (id: number, payload?: Uint8Array): void {
    const head = Buffer.allocUnsafe(5)
    head.writeUInt32BE(1 + (payload?.byteLength ?? 0), 0)
    head[4] = id
    if (payload == null || payload.byteLength === 0) this.queue(head)
    else this.queue(head, payload)
  }

  keepAlive (): void {
    this.queue(Buffer.alloc(4))
  }

  sendInts (id: number, ...ints: number[]): void {
    const b = Buffer.allocUnsafe(5 + ints.length * 4)
    b.writeUInt32BE(1 + ints.length * 4, 0)
    b[4] = id
    ints.forEach((v, i) => b.writeUInt32BE(v, 5 + i * 4))
    this.queue(b)
  }

  /** A `piece` message: header and the block, the block written without copying. */
  sendPiece (index: number, begin: number, block: Uint8Array): void {
    const head = Buffer.allocUnsafe(13)
    head.writeUInt32BE(9 + block.byteLength, 0)
    head[4] = MSG.piece
    head.writeUInt32BE(index, 5)
    head.writeUInt32BE(begin, 9)
    this.queue(head, block)
  }

  sendExtended (extId: number, payload: Uint8Array): void {
    const b = Buffer.allocUnsafe(1 + payload.byteLength)
    b[0] = extId
    b.set(payload, 1)
    this.send(MSG.extended, b)
  }

  close (reason: string): void {
    if (this.closed) return
    this.closed = true
    this.chunks = []
    this.pending = []
    this.socket.destroy()
    this.handler?.onClose(reason)
  }
}

function copyParts (parts: Buffer[], dest: Uint8Array): void {
  let at = 0
  for (const p of parts) { dest.set(p, at); at += p.byteLength }
}

async function drained (socket: Socket): Promise<void> {
  await new Promise<void>(resolve => {
    const done = (): void => { socket.off('drain', done); socket.off('close', done); resolve() }
    socket.once('drain', done)
    socket.once('close', done)
  })
}
