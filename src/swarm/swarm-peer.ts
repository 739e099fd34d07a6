import { createServer } from 'node:net'
import type { Server, Socket } from 'node:net'
import { BtpsError, errorMessage } from '../errors.js'
import type { Logger } from '../logger.js'
import { isLoopback, plainIp } from '../net/address.js'
import { RateLimiter } from '../net/rate-limiter.js'
import { createMetainfo, magnetUri, parseMagnet, torrentFile } from './metainfo.js'
import { choosePieceLength } from './piece-length.js'
import { SwarmTorrent } from './swarm-torrent.js'
import { newPeerId } from './peer-id.js'
import { DownloadHasher } from './download-hasher.js'
import { SpareStore } from './spare-store.js'
import { HeldPieces } from './held-pieces.js'
import { readHandshake } from './wire.js'
import { SwarmMetrics } from './swarm-metrics.js'

export interface SeedInfo { infoHash: string, magnet: string, pieceLength: number, pieces: number, bytes: number, torrentFile: Uint8Array }
export interface DownloadResult {
  bytes: Uint8Array
  seconds: number
  fromServer: number
  fromPeers: number
  /** bytes of pieces this peer held from its last download (same hash), so not downloaded */
  reused: number
  /** pieces that failed their SHA-1 and were fetched again */
  hashFailures: number
}
export interface SwarmPeerInit {
  announce: string[]
  log: Logger
  host?: string
  port?: number
  /** bytes/s, all torrents together */
  uploadLimit?: number
  /** cap loopback addresses too (a local job runs every peer on 127.0.0.1, so they are left alone by default) */
  capLoopback?: boolean
  metrics?: SwarmMetrics
}

/** Connections one address may hold to the listener. */
const MAX_CONNECTIONS_PER_ADDRESS = 8

/**
 * One BitTorrent peer over TCP (the tracker is its only discovery: no DHT, LSD or UPnP). It seeds models from
 * memory, super-seeding so the first copy of every piece leaves before any second one, and downloads rarest-first
 * from everyone in the swarm, verifying every piece and banning a peer whose piece fails.
 */
export class SwarmPeer {
  /** 20 bytes, hex */
  readonly peerId = newPeerId()
  private server?: Server
  private readonly torrents = new Map<string, SwarmTorrent>()
  private readonly sockets = new Set<Socket>()
  /** incoming connections open per remote IP */
  private readonly perAddress = new Map<string, number>()
  private readonly init: SwarmPeerInit
  private limiter?: RateLimiter
  private downLimiter?: RateLimiter
  private readonly metrics: SwarmMetrics
  private readonly spare = new SpareStore()
  private readonly hasher = new DownloadHasher()
  /** the last download, kept for the pieces the next one shares with it */
  private held?: HeldPieces

  constructor (init: SwarmPeerInit) {
    this.init = init
    this.metrics = init.metrics ?? new SwarmMetrics()
    this.metrics.countPeersWith(() => [...this.torrents.values()].reduce((n, t) => n + t.peerCount, 0))
    if (init.uploadLimit != null && init.uploadLimit > 0) this.limiter = new RateLimiter(init.uploadLimit)
  }

  async start (): Promise<void> {
    if (this.server != null) return
    const server = createServer({ pauseOnConnect: false }, (socket) => {
      socket.on('error', () => {})
      if (!this.admit(socket)) return
      this.sockets.add(socket)
      socket.once('close', () => { this.sockets.delete(socket) })
      readHandshake(socket, 10_000).then(({ handshake, rest }) => {
        const torrent = this.torrents.get(handshake.infoHash)
        if (torrent == null) { socket.destroy(); return }
        torrent.accept(socket, handshake, rest)
      }).catch((err: unknown) => {
        this.init.log.debug('incoming connection dropped', { peer: socket.remoteAddress, reason: errorMessage(err) })
        socket.destroy()
      })
    })
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(this.init.port ?? 0, this.init.host, () => { server.off('error', reject); resolve() })
    })
    server.on('error', (err) => { this.init.log.warn('bittorrent listener error', { err: errorMessage(err) }) })
    this.server = server
  }

  /** Counts an incoming connection against its address's cap; one over the cap is closed at once. */
  private admit (socket: Socket): boolean {
    const ip = plainIp(socket.remoteAddress)
    const open = this.perAddress.get(ip) ?? 0
    if (open >= MAX_CONNECTIONS_PER_ADDRESS && (this.init.capLoopback === true || !isLoopback(ip))) {
      this.init.log.debug('connection refused: too many from one address', { peer: ip, open })
      socket.destroy()
      return false
    }
    this.perAddress.set(ip, open + 1)
    socket.once('close', () => {
      const n = (this.perAddress.get(ip) ?? 1) - 1
      if (n > 0) this.perAddress.set(ip, n)
      else this.perAddress.delete(ip)
    })
    return true
  }

  /**
   * Caps this peer's links from now on (a device profile): `up` is shared with the other streams of the process
   * that upload; `downBytesPerS` paces what is read from peers. Loopback is capped too.
   */
  limitLinks (up?: RateLimiter, downBytesPerS?: number): void {
    this.limiter = up
    this.downLimiter = downBytesPerS != null && downBytesPerS > 0 ? new RateLimiter(downBytesPerS) : undefined
  }

  /** where the BitTorrent listener is bound, host:port */
  get address (): string {
    const a = this.need().address()
    return typeof a === 'object' && a != null ? `${a.address}:${a.port}` : String(a)
  }

  get port (): number {
    const a = this.need().address()
    return typeof a === 'object' && a != null ? a.port : 0
  }

  private need (): Server {
    if (this.server == null) throw new BtpsError('NOT_STARTED', 'swarm peer is not started')
    return this.server
  }

  private add (torrent: SwarmTorrent): SwarmTorrent {
    this.need()
    if (this.torrents.has(torrent.infoHash)) throw new BtpsError('TORRENT_EXISTS', `already in the swarm of ${torrent.infoHash}`)
    this.torrents.set(torrent.infoHash, torrent)
    torrent.start()
    return torrent
  }

  /**
   * Seeds `bytes` from memory as a v1 torrent with one file `name` (piece length chosen from the size unless given).
   * `beforeAnnounce` runs once the infohash is known and before the first announce (a private tracker's registration).
   */
  async seed (bytes: Uint8Array, name: string, pieceLength = choosePieceLength(bytes.byteLength), beforeAnnounce?: (infoHash: string) => Promise<void>): Promise<SeedInfo> {
    const meta = createMetainfo(bytes, name, pieceLength)
    await beforeAnnounce?.(meta.infoHash)
    this.add(new SwarmTorrent({ infoHash: meta.infoHash, peerId: this.peerId, port: this.port, announce: this.init.announce, log: this.init.log, limiter: this.limiter, meta, bytes, superSeed: true, metrics: this.metrics }))
    return { infoHash: meta.infoHash, magnet: magnetUri(meta, this.init.announce), pieceLength, pieces: meta.pieceCount, bytes: bytes.byteLength, torrentFile: torrentFile(meta, this.init.announce) }
  }

  /**
   * Joins the swarm of `magnet` and resolves with the verified file. `serverPeerId` separates bytes that came
   * from the seeding server from bytes that came from other clients; `directPeers` are dialled without the tracker.
   * The torrent keeps seeding until `remove`.
   */
  async download (magnet: string, opts: { sha256: string, serverPeerId?: string, directPeers?: string[], signal?: AbortSignal, onProgress?: (fraction: number) => void }): Promise<DownloadResult> {
    const start = performance.now()
    const { infoHash } = parseMagnet(magnet)
    const hashing = this.hasher.track()
    const torrent = this.add(new SwarmTorrent({ infoHash, peerId: this.peerId, port: this.port, announce: this.init.announce, log: this.init.log, limiter: this.limiter, onProgress: opts.onProgress, metrics: this.metrics, serverPeerId: opts.serverPeerId, downLimiter: this.downLimiter, allocate: (n) => this.spare.take(n), reuse: this.held, digest: hashing.sink }))
    try {
      for (const p of opts.directPeers ?? []) torrent.dial(p)
      await torrent.whenComplete(opts.signal)
      const bytes = torrent.bytes!
      const digest = await hashing.finish(bytes)
      if (digest !== opts.sha256) throw new BtpsError('MODEL_HASH_MISMATCH', `downloaded model sha256 ${digest} != announced ${opts.sha256}`)
      this.hold(torrent, bytes)
      let fromServer = 0
      let fromPeers = 0
      for (const [peer, n] of torrent.receivedFrom) {
        if (peer === opts.serverPeerId) fromServer += n
        else fromPeers += n
      }
      return { bytes, seconds: (performance.now() - start) / 1000, fromServer, fromPeers, reused: torrent.reused, hashFailures: torrent.hashFailures }
    } catch (err) {
      hashing.drop()
      await this.remove(infoHash)
      throw err
    }
  }

  /**
   * Keeps a finished download for the next one. The next round's model most likely has the same size: its buffer
   * is readied while this one is used, and is the file held before when no torrent seeds from that any more.
   */
  private hold (torrent: SwarmTorrent, bytes: Uint8Array): void {
    const old = this.held
    this.held = new HeldPieces(torrent.meta!, bytes)
    if (old != null && old.bytes !== bytes && old.bytes.byteLength === bytes.byteLength && !this.torrents.has(old.infoHash)) this.spare.recycle(old.bytes)
    else this.spare.prepare(bytes.byteLength)
  }

  /** Model bytes this peer has received for one torrent so far. */
  downloaded (infoHash: string): number {
    return this.torrents.get(infoHash)?.downloaded ?? 0
  }

  /** Pieces of one torrent its peers announced holding so far (each counted once per peer). */
  announced (infoHash: string): number {
    return this.torrents.get(infoHash)?.announced ?? 0
  }

  /** Bytes of one torrent this peer copied from pieces it held, instead of downloading them. */
  reused (infoHash: string): number {
    return this.torrents.get(infoHash)?.reused ?? 0
  }

  /** Bytes this peer has uploaded for one torrent. */
  uploaded (infoHash: string): number {
    return this.torrents.get(infoHash)?.uploaded ?? 0
  }

  async remove (infoHash: string | undefined): Promise<void> {
    if (infoHash == null) return
    this.torrents.get(infoHash)?.destroy()
    this.torrents.delete(infoHash)
  }

  async stop (): Promise<void> {
    const server = this.server
    this.server = undefined
    for (const t of this.torrents.values()) t.destroy()
    this.torrents.clear()
    this.spare.clear()
    await this.hasher.stop()
    this.held = undefined
    for (const s of this.sockets) s.destroy()
    if (server != null) await new Promise<void>(resolve => { server.close(() => { resolve() }) })
  }
}
