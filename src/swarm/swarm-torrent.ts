import { connect } from 'node:net'
import type { Socket } from 'node:net'
import { Client as TrackerClient } from 'bittorrent-tracker'
import { BtpsError, errorMessage } from '../errors.js'
import type { Logger } from '../logger.js'
import type { RateLimiter } from '../net/rate-limiter.js'
import { MAX_INFO_BYTES, parseInfo, pieceMatches, pieceSize } from './metainfo.js'
import type { Metainfo } from './metainfo.js'
import { PiecePicker, blockKey, splitKey } from './piece-picker.js'
import { SeedOffers } from './seed-offers.js'
import { isBtpsPeerId } from './peer-id.js'
import { UnchokeSlots } from './unchoke-slots.js'
import { addressPrefix, isLoopback, plainIp } from '../net/address.js'
import { LOCAL_UT_METADATA, METADATA_PIECE_BYTES, MetadataAssembly, encodeExtHandshake, encodeMetadataMessage, parseExtHandshake, parseMetadataMessage } from './ut-metadata.js'
import type { DigestSink } from './download-hasher.js'
import { BLOCK_BYTES, MAX_REQUEST_BYTES, MSG, PeerWire, SocketReads, encodeHandshake, readHandshake } from './wire.js'
import type { Handshake } from './wire.js'
import type { SwarmMetrics } from './swarm-metrics.js'
import type { HeldPieces } from './held-pieces.js'

const MAX_PEERS = 120
/** Requests a peer may have queued with us (told to it as `reqq`); more are dropped, as BEP 10 allows. */
export const MAX_QUEUED_REQUESTS = 2000
/** Peers served at a time; the others wait for a slot. */
const UNCHOKE_SLOTS = 40
/** How often a waiting peer may take the slot of one that took nothing (or least) from us. */
const ROTATE_MS = 10_000
/** A connection on which neither side wants anything for this long is closed (and, when full, closed first). */
const IDLE_MS = 20_000
/** Most pieces a torrent can have (its info dictionary is bounded): HAVEs before the metadata are kept as bits. */
const MAX_PIECES = Math.floor(MAX_INFO_BYTES / 20)
/** Bytes a wire may hold in user space before serving waits for 'drain'. */
const SEND_HIGH_WATER = 512 * 1024
/** The time over which a peer's sending rate is averaged (exponentially decaying). */
const RATE_TAU_MS = 250
/** Requests open at once to one peer: at first, and at most (within the 250 most clients queue). */
const MIN_REQUESTS = 8
const MAX_REQUESTS = 250
/**
 * In a round (the server known), requests open at once to the peers other than the server, all together:
 * MIN_REQUESTS and as many as the whole downlink, the server included, brings in half a second. Each peer's own
 * window alone let a client at N = 32 on 2.5 Mbit/s links ask 31 peers for 8 blocks or more each, seconds of its
 * downlink: the answers arrived as one burst into a shared link, dropped packets by the thousand (37,000
 * retransmission timeouts a round), and held back the server's pieces, which the whole swarm waits for.
 */
const OPEN_WINDOW_S = 0.5
/**
 * A peer that sent no block for this long while asked holds none of that budget, and is asked for no more until
 * it sends one: the others go on without it (a peer is passed over only after SNUB_MS).
 */
const STALLED_MS = 2000
/** Longest request to a bt-ps peer (within the MAX_REQUEST_BYTES every bt-ps peer serves). */
const MERGED_REQUEST_BYTES = 64 * 1024
/** A peer with requests open and no block for this long is passed over for a while (in a round, not the server). */
const SNUB_MS = 8000
const HANDSHAKE_TIMEOUT_MS = 10_000
/** Pieces the server shows each peer at a time: two keep a slow uplink busy; more only let second copies out early. */
const SUPER_SEED_WINDOW = 2
/** ...and pieces on their way to bt-ps peers (shown, not announced back yet), all together, at least (SeedWindows). */
const SUPER_SEED_IN_FLIGHT = 4
/** ...and bytes it may show a lone bt-ps peer, which has nobody to share with (a fast link needs more in flight). */
const SUPER_SEED_DEEP_BYTES = 4 * 1024 * 1024
/** Super-seeding: bytes shown at a time to a standard client (not a bt-ps peer) at first, at least SUPER_SEED_WINDOW pieces. */
const SUPER_SEED_WIDE_BYTES = 8 * 1024 * 1024
/**
 * A torrent still downloading, or never answered, announces again after this long without an answer from the
 * tracker, whatever interval the tracker asked for: a round lives minutes, and trackers such as opentracker ask
 * for 30 minutes (and refuse a torrent until it is on their whitelist).
 */
const REANNOUNCE_MS = 5000

interface PeerState {
  wire: PeerWire
  peerId: string
  /** the remote's IP: bans and duplicates go by it, never by the peer id alone, which anyone can claim */
  ip: string
  /** the "ip:port" we dialled, for a connection we opened */
  dialedAs?: string
  has?: Uint8Array
  /** HAVE/bitfield that came before the metadata */
  early: { bitfield?: Buffer, haves?: Uint8Array }
  bitfieldSeen: boolean
  /** the peer chokes us */
  choked: boolean
  /** the peer wants pieces from us */
  interested: boolean
  /** last time the peer asked for, sent or announced something */
  lastUseful: number
  /** block keys asked of this peer and not yet answered */
  inflight: Set<number>
  queue: Array<{ index: number, begin: number, length: number }>
  pumping: boolean
  utMetadata?: number
  metadataSize?: number
  /** bytes/s this peer has been sending, averaged over the last ~RATE_TAU_MS (as of `rateAt`) */
  rate: number
  rateAt: number
  lastBlockAt: number
  /** when requests last went out to this peer */
  askedAt: number
  snubbedUntil: number
  strikes: number
  /** whether a piece whose last block came from this peer passed its check */
  proven: boolean
  banned: boolean
  /** blocks read and not yet paid for under the downlink cap: reading is paused meanwhile */
  unpaid: number
}

export interface TorrentInit {
  infoHash: string
  peerId: string
  port: number
  announce: string[]
  log: Logger
  limiter?: RateLimiter
  /** paces reading from peers (a device profile's downlink): a connection stops reading until its bytes are due */
  downLimiter?: RateLimiter
  /** known metainfo (seeding, or a downloader that has the .torrent) */
  meta?: Metainfo
  /** the whole file, when seeding */
  bytes?: Uint8Array
  /** show pieces a few at a time so each goes out once before any goes out twice */
  superSeed?: boolean
  onProgress?: (fraction: number) => void
  metrics: SwarmMetrics
  /** the seeding server's BitTorrent peer id, to tell its pieces from other peers' */
  serverPeerId?: string
  /** where a download's bytes go once the size is known (default: a new buffer) */
  allocate?: (bytes: number) => Uint8Array
  /** told where the download lies and of each piece held, verified (the whole file's SHA-256 follows them) */
  digest?: DigestSink
  /** a file this peer holds: pieces with the same hash are copied from it, not downloaded */
  reuse?: HeldPieces
}

/** One torrent's swarm: its peers, what to ask whom, serving requests, verifying pieces, the tracker. */
export class SwarmTorrent {
  readonly infoHash: string
  meta?: Metainfo
  uploaded = 0
  downloaded = 0
  /** pieces the peers announced holding (a piece counts once per peer): news of a swarm at work */
  announced = 0
  /** bytes copied from pieces this peer already held (see HeldPieces) */
  reused = 0
  hashFailures = 0
  /** wanted block bytes received from each peer id */
  readonly receivedFrom = new Map<string, number>()
  private store?: Uint8Array
  private picker?: PiecePicker<PeerState>
  private offers?: SeedOffers<PeerState>
  private readonly init: TorrentInit
  private readonly log: Logger
  private readonly peers = new Map<PeerWire, PeerState>()
  /** ban keys (see `banKey`) */
  private readonly banned = new Set<string>()
  /** addresses whose connection was closed as idle once we held everything: not dialled again */
  private readonly quiet = new Set<string>()
  private readonly slots: UnchokeSlots<PeerState>
  private readonly dialing = new Set<string>()
  private readonly addrPeer = new Map<string, string>()
  /** pieces being checked: the peer their last block came from */
  private readonly completedBy = new Map<number, PeerState>()
  private fetch?: { from: PeerState, assembly: MetadataAssembly, at: number }
  private tracker?: TrackerClient
  /** when the tracker last answered an announce (undefined: never), and when we last asked it */
  private answeredAt: number | undefined
  private announcedAt = performance.now()
  private tick?: NodeJS.Timeout
  private ticks = 0
  /** some peer was refused requests for want of the shared budget (see fillAll) */
  private starved = false
  /** where the next fillAll pass begins */
  private turn = 0
  private readonly controller = new AbortController()
  private waiters: Array<{ resolve: () => void, reject: (err: Error) => void }> = []

  constructor (init: TorrentInit) {
    this.init = init
    this.infoHash = init.infoHash
    this.log = init.log.child({ infoHash: init.infoHash.slice(0, 12) })
    this.slots = new UnchokeSlots<PeerState>(UNCHOKE_SLOTS, {
      choke: (ps) => { ps.queue = []; ps.wire.send(MSG.choke) },
      unchoke: (ps) => { ps.wire.send(MSG.unchoke) }
    })
    if (init.meta != null) this.setMeta(init.meta, init.bytes)
  }

  get complete (): boolean { return this.picker?.complete ?? false }
  /** connections open in this torrent */
  get peerCount (): number { return this.peers.size }
  get bytes (): Uint8Array | undefined { return this.complete ? this.store : undefined }

  start (): void {
    this.tick = setInterval(() => { this.onTick() }, 1000)
    if (this.init.announce.length === 0) return
    const tracker = new TrackerClient({
      infoHash: this.infoHash,
      peerId: this.init.peerId,
      announce: this.init.announce,
      port: this.init.port,
      getAnnounceOpts: () => ({ uploaded: this.uploaded, downloaded: this.downloaded, left: this.left(), numwant: MAX_PEERS })
    })
    tracker.on('update', () => { this.answeredAt = performance.now() })
    tracker.on('peer', (addr: unknown) => { if (typeof addr === 'string') this.dial(addr) })
    tracker.on('warning', (err: unknown) => { this.log.debug('tracker warning', { err: String(err) }) })
    tracker.on('error', (err: unknown) => { this.log.warn('tracker error', { err: String(err) }) })
    this.tracker = tracker
    tracker.start()
  }

  private left (): number {
    const m = this.meta
    const p = this.picker
    if (m == null || p == null) return 1
    return Math.max(0, m.length - p.haveCount * m.pieceLength)
  }

  /** Resolves when every piece is verified. */
  async whenComplete (signal?: AbortSignal): Promise<void> {
    if (this.complete) return
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => { reject(new BtpsError('ABORTED', 'download aborted')) }
      if (signal?.aborted === true) { onAbort(); return }
      signal?.addEventListener('abort', onAbort, { once: true })
      this.waiters.push({ resolve: () => { signal?.removeEventListener('abort', onAbort); resolve() }, reject })
    })
  }

  /** Connects to `addr` ("ip:port") unless already connected or dialling there. */
  dial (addr: string): void {
    if (this.controller.signal.aborted || this.peers.size >= MAX_PEERS || this.dialing.has(addr) || (this.complete && this.quiet.has(addr))) return
    const colon = addr.lastIndexOf(':')
    const host = addr.slice(0, colon).replace(/^\[|\]$/g, '')
    const port = Number(addr.slice(colon + 1))
    if (colon < 0 || !Number.isInteger(port) || port <= 0 || port > 65535) return
    // Not again: a banned address, or one we are connected to (an accepted connection is known by the peer id it
    // gave when we dialled that address before).
    const ip = plainIp(host)
    const known = this.addrPeer.get(addr)
    // Ourselves, as the tracker lists us (our own peer id answered the first time): else a connection every announce.
    if (known === this.init.peerId) return
    if (this.banned.has(banKey(ip, known ?? '')) || (known != null && [...this.peers.values()].some(p => p.peerId === known && p.ip === ip))) return
    this.dialing.add(addr)
    // A connection we open reads blocks straight into the download (one copy fewer per byte).
    const reads = new SocketReads()
    const socket = connect({ host, port, onread: reads.options })
    socket.on('error', () => {})
    socket.once('connect', () => {
      socket.write(encodeHandshake(this.infoHash, this.init.peerId))
      readHandshake(socket, HANDSHAKE_TIMEOUT_MS, reads).then(({ handshake, rest }) => {
        this.dialing.delete(addr)
        this.addrPeer.set(addr, handshake.peerId)
        if (handshake.infoHash !== this.infoHash) throw new BtpsError('WIRE_PROTOCOL', 'peer answered for another torrent')
        if (handshake.peerId === this.init.peerId) throw new BtpsError('SELF_DIAL', 'the tracker listed our own address; not dialled again')
        this.addWire(socket, handshake, rest, addr, reads)
      }).catch((err: unknown) => {
        this.dialing.delete(addr)
        this.log.debug('dial failed', { addr, reason: errorMessage(err) })
        socket.destroy()
      })
    })
    socket.once('close', () => { this.dialing.delete(addr) })
  }

  /** An incoming connection whose handshake named this torrent. */
  accept (socket: Socket, handshake: Handshake, rest: Buffer): void {
    if (this.controller.signal.aborted || this.banned.has(banKey(plainIp(socket.remoteAddress), handshake.peerId)) || !this.makeRoom()) { socket.destroy(); return }
    socket.write(encodeHandshake(this.infoHash, this.init.peerId))
    this.addWire(socket, handshake, rest)
  }

  /** Whether one more peer fits; when full, the longest-idle connection makes way for it. */
  private makeRoom (): boolean {
    if (this.peers.size < MAX_PEERS) return true
    const idle = [...this.peers.values()].filter(p => !p.interested && !this.wants(p)).sort((a, b) => a.lastUseful - b.lastUseful)[0]
    if (idle == null) return false
    idle.wire.close('idle, making room for a new peer')
    return true
  }

  /** `dialedAs`: the address we dialled (an outgoing connection); none for one we accepted. */
  private addWire (socket: Socket, remote: Handshake, rest: Buffer, dialedAs?: string, reads?: SocketReads): void {
    const outgoing = dialedAs != null
    const ip = plainIp(socket.remoteAddress)
    if (this.controller.signal.aborted || remote.peerId === this.init.peerId || this.banned.has(banKey(ip, remote.peerId))) { socket.destroy(); return }
    // Two peers that dialled each other keep the connection opened by the smaller peer id, on both sides. Only a
    // connection from the same address counts as a duplicate: a peer id is a claim, and another host's claim never
    // replaces a connection.
    const initiator = (out: boolean, peerId: string): string => out ? this.init.peerId : peerId
    for (const p of this.peers.values()) {
      if (p.peerId !== remote.peerId || p.ip !== ip) continue
      if (initiator(outgoing, remote.peerId) < initiator(p.wire.outgoing, p.peerId)) { p.wire.close('duplicate connection'); break }
      socket.destroy()
      return
    }
    const maxMessage = Math.max(MAX_REQUEST_BYTES + 13, METADATA_PIECE_BYTES + 1024, this.meta != null ? Math.ceil(this.meta.pieceCount / 8) + 1 : 1 << 20)
    const wire = new PeerWire(socket, remote, { outgoing, maxMessage, reads })
    const ps: PeerState = { wire, peerId: remote.peerId, ip, dialedAs, early: {}, bitfieldSeen: false, choked: true, interested: false, lastUseful: performance.now(), inflight: new Set(), queue: [], pumping: false, rate: 0, rateAt: performance.now(), lastBlockAt: performance.now(), askedAt: 0, snubbedUntil: 0, strikes: 0, proven: false, banned: false, unpaid: 0 }
    this.peers.set(wire, ps)
    this.log.debug('peer joined', { peer: wire.remoteAddress, outgoing, agent: Buffer.from(remote.peerId, 'hex').subarray(0, 8).toString('latin1').replace(/[^\x20-\x7e]/g, '?') })
    // Our side first (bitfield right after the handshake, as BEP 3 asks), then what the peer already sent.
    this.greet(ps, false)
    if (remote.extensions) wire.sendExtended(0, encodeExtHandshake(this.meta?.info.byteLength, MAX_QUEUED_REQUESTS, this.init.port))
    wire.attach({
      onMessage: (id, payload) => { this.onMessage(ps, id, payload) },
      onPiece: (index, begin, parts, length, inPlace) => { this.onPiece(ps, index, begin, parts, length, inPlace === true) },
      pieceTarget: (index, begin, length) => this.pieceTarget(ps, index, begin, length),
      onClose: (reason) => { this.onClose(ps, reason) }
    }, rest)
  }

  /**
   * What a peer learns of us once we know the metadata: our pieces (or, super-seeding, the first few shown).
   * `late`: the metadata came after the handshake, when BEP 3 no longer allows a bitfield: HAVEs instead.
   */
  private greet (ps: PeerState, late: boolean): void {
    const picker = this.picker
    const meta = this.meta
    if (picker == null || meta == null || ps.has != null) return
    ps.has = new Uint8Array(meta.pieceCount)
    const { bitfield, haves } = ps.early
    ps.early = {}
    if (bitfield != null) this.applyBitfield(ps, bitfield)
    for (let byte = 0; haves != null && byte < haves.byteLength; byte++) {
      if (haves[byte] === 0) continue
      for (let bit = 0; bit < 8; bit++) if ((haves[byte] & (0x80 >> bit)) !== 0) this.onHave(ps, byte * 8 + bit)
    }
    if (this.offers != null) {
      this.offers.addPeer(ps, !isBtpsPeerId(ps.peerId))
      this.showOffers(ps)
    } else if (picker.haveCount > 0 && late) {
      for (let i = 0; i < meta.pieceCount; i++) if (picker.have[i] === 1) ps.wire.sendInts(MSG.have, i)
    } else if (picker.haveCount > 0) {
      const bits = Buffer.alloc(Math.ceil(meta.pieceCount / 8))
      for (let i = 0; i < meta.pieceCount; i++) if (picker.have[i] === 1) bits[i >> 3] |= 0x80 >> (i & 7)
      ps.wire.send(MSG.bitfield, bits)
    }
    if (!picker.complete) ps.wire.send(MSG.interested)
  }

  private showOffers (ps: PeerState): void {
    for (const i of this.offers?.next(ps) ?? []) ps.wire.sendInts(MSG.have, i)
  }

  private onMessage (ps: PeerState, id: number, p: Buffer): void {
    const need = (n: number): void => { if (p.byteLength !== n) throw new BtpsError('WIRE_PROTOCOL', `message ${id} has ${p.byteLength} bytes, expected ${n}`) }
    switch (id) {
      case MSG.choke: need(0); ps.choked = true; this.releaseAll(ps); break
      case MSG.unchoke: need(0); ps.choked = false; this.fill(ps); break
      case MSG.interested: need(0); ps.interested = true; ps.lastUseful = performance.now(); this.slots.interested(ps, ps.lastUseful); break
      case MSG.notInterested: need(0); ps.interested = false; this.slots.choke(ps, performance.now()); break
      case MSG.have: need(4); this.onHave(ps, p.readUInt32BE(0)); break
      case MSG.bitfield: this.onBitfield(ps, p); break
      case MSG.request: need(12); this.onRequest(ps, p.readUInt32BE(0), p.readUInt32BE(4), p.readUInt32BE(8)); break
      case MSG.piece: throw new BtpsError('WIRE_PROTOCOL', 'short piece message')
      case MSG.cancel: { need(12); const [i, b] = [p.readUInt32BE(0), p.readUInt32BE(4)]; ps.queue = ps.queue.filter(r => r.index !== i || r.begin !== b); break }
      case MSG.port: break
      case MSG.extended: this.onExtended(ps, p); break
      default: break // unknown messages are skipped, as BEP 3 asks
    }
  }

  private onHave (ps: PeerState, index: number): void {
    const meta = this.meta
    if (meta == null || ps.has == null) {
      if (index >= MAX_PIECES) throw new BtpsError('WIRE_PROTOCOL', `HAVE for piece ${index}: no torrent has that many`)
      // Bits, grown to the highest piece seen: a few bytes for a real torrent, at most MAX_PIECES / 8 for a flood.
      let bits = ps.early.haves ?? new Uint8Array(16)
      if (index >> 3 >= bits.byteLength) {
        const grown = new Uint8Array(Math.min(Math.ceil(MAX_PIECES / 8), Math.max(bits.byteLength * 2, (index >> 3) + 1)))
        grown.set(bits)
        bits = grown
      }
      bits[index >> 3] |= 0x80 >> (index & 7)
      ps.early.haves = bits
      return
    }
    if (index >= meta.pieceCount) throw new BtpsError('WIRE_PROTOCOL', `HAVE for piece ${index} of ${meta.pieceCount}`)
    // A repeated HAVE changes nothing and costs nothing.
    if (!this.peerHas(ps, index)) return
    ps.lastUseful = performance.now()
    this.showOffers(ps)
    // A piece we hold gives nothing new to ask for (most HAVEs in a swarm: each peer announces every piece to all).
    if (this.picker!.have[index] !== 1) this.fill(ps)
  }

  private onBitfield (ps: PeerState, bits: Buffer): void {
    if (ps.bitfieldSeen) throw new BtpsError('WIRE_PROTOCOL', 'a second bitfield')
    ps.bitfieldSeen = true
    this.applyBitfield(ps, bits)
  }

  private applyBitfield (ps: PeerState, bits: Buffer): void {
    const meta = this.meta
    if (meta == null || ps.has == null) { ps.early.bitfield = bits; return }
    if (bits.byteLength !== Math.ceil(meta.pieceCount / 8)) throw new BtpsError('WIRE_PROTOCOL', `bitfield of ${bits.byteLength} bytes for ${meta.pieceCount} pieces`)
    for (let i = 0; i < meta.pieceCount; i++) if ((bits[i >> 3] & (0x80 >> (i & 7))) !== 0) this.peerHas(ps, i)
    this.showOffers(ps)
    this.fill(ps)
  }

  /** Records that `ps` holds `index`; false when it was known already. */
  private peerHas (ps: PeerState, index: number): boolean {
    if (ps.has![index] === 1) return false
    ps.has![index] = 1
    this.announced++
    this.picker!.availability[index]++
    for (const freed of this.offers?.peerHas(ps, index) ?? []) this.showOffers(freed)
    return true
  }

  /**
   * Whether `ps` is sent a HAVE for a piece we now hold: not a bt-ps client that holds it already, which asks only
   * for pieces it lacks (half the HAVEs of a swarm, each a message to write, read and handle). The server counts
   * HAVEs to pace super-seeding, and standard clients may count them too: they get every one, and so does everyone
   * while the server's peer id is not known.
   */
  private toldOfHave (ps: PeerState, index: number): boolean {
    const server = this.init.serverPeerId
    return ps.has?.[index] !== 1 || server == null || ps.peerId === server || !isBtpsPeerId(ps.peerId)
  }

  /** Whether `ps` has something we lack (or we still need the metadata, which anyone may have). */
  private wants (ps: PeerState): boolean {
    const picker = this.picker
    if (picker == null) return true
    if (picker.complete || ps.has == null) return false
    for (let i = 0; i < ps.has.length; i++) if (ps.has[i] === 1 && picker.have[i] !== 1) return true
    return false
  }

  private onRequest (ps: PeerState, index: number, begin: number, length: number): void {
    const meta = this.meta
    const picker = this.picker
    if (meta == null || picker == null || index >= meta.pieceCount || picker.have[index] !== 1) return // nothing to give: ignored, as BEP 3 allows
    if (length === 0 || length > MAX_REQUEST_BYTES || begin + length > pieceSize(meta, index)) throw new BtpsError('WIRE_PROTOCOL', `request ${index}/${begin}+${length} is out of range`)
    // Not served: a choked peer's requests, past its queue, or (super-seeding) for a piece it was not shown.
    if (!this.slots.isUnchoked(ps) || ps.queue.length >= MAX_QUEUED_REQUESTS || (this.offers != null && !this.offers.isOffered(ps, index))) return
    ps.lastUseful = performance.now()
    ps.queue.push({ index, begin, length })
    void this.pump(ps)
  }

  /** Serves queued requests while the socket keeps up (and the upload limit allows). */
  private async pump (ps: PeerState): Promise<void> {
    if (ps.pumping) return
    ps.pumping = true
    try {
      const { wire } = ps
      while (!wire.closed && ps.queue.length > 0 && !this.controller.signal.aborted) {
        if (wire.backlog >= SEND_HIGH_WATER) { await wire.writable(SEND_HIGH_WATER); continue }
        const r = ps.queue.shift()!
        await this.init.limiter?.take(r.length, this.controller.signal)
        const at = r.index * this.meta!.pieceLength + r.begin
        wire.sendPiece(r.index, r.begin, this.store!.subarray(at, at + r.length))
        for (const i of this.offers?.sent(ps, r.index, r.begin, r.length, pieceSize(this.meta!, r.index)) ?? []) wire.sendInts(MSG.have, i)
        this.uploaded += r.length
        this.init.metrics.sent(r.length)
        this.slots.sent(ps, r.length)
      }
    } catch { /* aborted: the torrent is going away */ } finally {
      ps.pumping = false
    }
  }

  /**
   * Where a block (or run of blocks) `ps` has begun to send may be read straight to: its place in the download,
   * when every block of it was asked of `ps` alone and is still missing. Not in endgame, when a block may be asked
   * of two peers, nor under a downlink cap, which pays for each message as it is read. The blocks are pinned: no
   * other request goes out for them (even for the piece fetched anew after a failed check), and they are not given
   * up while they are being read.
   */
  private pieceTarget (ps: PeerState, index: number, begin: number, length: number): Uint8Array | undefined {
    const picker = this.picker
    const meta = this.meta
    if (picker == null || meta == null || picker.endgame || this.init.downLimiter != null || index >= meta.pieceCount || begin % BLOCK_BYTES !== 0 || length === 0 || begin + length > pieceSize(meta, index)) return undefined
    const keys: number[] = []
    for (let off = 0; off < length; off += BLOCK_BYTES) {
      const key = blockKey(index, (begin + off) / BLOCK_BYTES)
      if (!ps.inflight.has(key) || !picker.askedOnce(index, begin + off, Math.min(BLOCK_BYTES, length - off))) return undefined
      keys.push(key)
    }
    picker.pin(keys)
    const at = index * meta.pieceLength + begin
    return this.store!.subarray(at, at + length)
  }

  /** Whether `ps` is sending block `key` in place: it arrives whole or not at all (the connection closes). */
  private readingInPlace (ps: PeerState, key: number): boolean {
    const r = ps.wire.inPlace
    if (r == null || ps.wire.closed) return false
    const { index, block } = splitKey(key)
    return index === r.index && block * BLOCK_BYTES >= r.begin && block * BLOCK_BYTES < r.begin + r.length
  }

  /** What `ps` was asked for and may be given up: all but a block it is sending in place. */
  private givable (ps: PeerState): number[] {
    return [...ps.inflight].filter(key => !this.readingInPlace(ps, key))
  }

  /**
   * A block, or (from a bt-ps peer, see fill) a run of blocks of one piece: each block is checked on its own.
   * `inPlace`: the bytes were read to where they go (see pieceTarget).
   */
  private onPiece (ps: PeerState, index: number, begin: number, parts: Buffer[], length: number, inPlace: boolean): void {
    const picker = this.picker
    if (picker == null || begin % BLOCK_BYTES !== 0) return // unasked-for data is dropped
    let asked = false
    let took = 0
    let piece = false
    if (inPlace) picker.unpin(index, begin, length)
    for (let off = 0; off < length; off += BLOCK_BYTES) {
      const n = Math.min(BLOCK_BYTES, length - off)
      if (!ps.inflight.delete(blockKey(index, (begin + off) / BLOCK_BYTES))) continue
      asked = true
      const got = picker.received(ps, index, begin + off, n)
      if (got === 'unwanted') continue
      if (!inPlace) copyRange(parts, off, n, this.store!, index * this.meta!.pieceLength + begin + off)
      took += n
      piece ||= got === 'piece'
    }
    if (!asked) return
    const now = performance.now()
    // A block someone else delivered first still shows the peer answers (it is not snubbed for it).
    ps.lastBlockAt = ps.lastUseful = now
    if (took === 0) { this.fillNext(ps); return }
    ps.rate = rateNow(ps, now) + took * 1000 / RATE_TAU_MS
    ps.rateAt = now
    const down = this.init.downLimiter
    if (down != null) {
      // Reading resumes once every block read so far is paid for.
      if (ps.unpaid++ === 0) ps.wire.pause()
      void down.take(length, this.controller.signal).then(() => { if (--ps.unpaid === 0) ps.wire.resume() }, () => {})
    }
    this.downloaded += took
    this.init.metrics.received(took)
    this.receivedFrom.set(ps.peerId, (this.receivedFrom.get(ps.peerId) ?? 0) + took)
    if (piece) this.verify(index, ps)
    this.fillNext(ps)
  }

  /** After a block from `ps`: its requests topped up, then, once the shared budget binds, the other peers' in turn. */
  private fillNext (ps: PeerState): void {
    this.fill(ps)
    if (this.starved) this.fillAll()
  }

  /**
   * Checks a piece whose last block came from `lastFrom`: on the hashing worker when there is one and pieces come
   * fast, once that peer has sent a good piece. Its first is checked here, so a peer that sends garbage from the
   * start is banned at its first piece, not after all it sent while the worker was busy.
   */
  private verify (index: number, lastFrom: PeerState): void {
    this.completedBy.set(index, lastFrom)
    if (lastFrom.proven && this.init.digest?.verify(index) === true) return
    const meta = this.meta!
    const ok = pieceMatches(this.store!, meta.pieceLength, meta.pieceHashes, index)
    if (ok) this.init.digest?.held(index)
    this.checked(index, ok)
  }

  /** A piece's check came back: held and announced, or its blocks are fetched again and who sent them pays. */
  private checked (index: number, ok: boolean): void {
    const picker = this.picker
    if (picker == null || this.controller.signal.aborted) return
    const lastFrom = this.completedBy.get(index)
    this.completedBy.delete(index)
    if (ok) {
      if (lastFrom != null) lastFrom.proven = true
      picker.markHave(index)
      this.init.metrics.piece(lastFrom?.peerId === this.init.serverPeerId ? 'server' : 'peer')
      for (const p of this.peers.values()) {
        if (this.toldOfHave(p, index)) p.wire.sendInts(MSG.have, index)
        for (const key of p.inflight) if (splitKey(key).index === index) this.cancel(p, key)
      }
      this.init.onProgress?.(picker.haveCount / picker.pieceCount)
      if (picker.complete) this.finish()
      return
    }
    this.hashFailures++
    this.init.metrics.hashFailure()
    const contributors = picker.settle(index)
    this.log.warn('piece failed verification', { piece: index, peers: [...contributors].map(c => c.wire.remoteAddress).join(',') })
    // The piece is fetched anew: requests still open for it (endgame's second ones) go.
    for (const p of this.peers.values()) for (const key of p.inflight) if (splitKey(key).index === index) this.cancel(p, key)
    for (const c of contributors) {
      if (c.banned) continue // for a piece checked earlier
      c.strikes++
      // One peer sent the whole piece: it is the culprit. Blocks from several peers: ban on repeat offence.
      if (contributors.size === 1 || c.strikes >= 3) this.ban(c, `sent piece ${index}, which failed its SHA-1`)
    }
    this.fillAll()
  }

  /** Bans a peer's address from this torrent, connected or gone since (checks answer after a while). */
  private ban (ps: PeerState, reason: string): void {
    ps.banned = true
    this.banned.add(banKey(ps.ip, ps.peerId))
    this.init.metrics.ban()
    this.log.warn('peer banned from this torrent', { peer: ps.wire.remoteAddress, reason })
    ps.wire.close(`banned: ${reason}`)
  }

  private finish (): void {
    for (const p of this.peers.values()) p.wire.send(MSG.notInterested)
    this.tracker?.complete()
    for (const w of this.waiters.splice(0)) w.resolve()
  }

  /** `room`: the shared budget left in a pass over all peers (see fillAll); otherwise counted here. */
  private fill (ps: PeerState, room?: { left: number }): void {
    const picker = this.picker
    if (picker == null || picker.complete || ps.choked || ps.has == null || ps.wire.closed || performance.now() < ps.snubbedUntil) return
    // Enough requests open to cover about half a second at the rate this peer has been sending. The rate follows
    // the last quarter second, so a fast link opens the window within a few round trips (a rate averaged over
    // seconds kept 8 blocks in flight for a whole 256 MiB transfer on loopback).
    const now = performance.now()
    const cap = Math.min(MAX_REQUESTS, MIN_REQUESTS + Math.ceil(rateNow(ps, now) * OPEN_WINDOW_S / BLOCK_BYTES))
    let slots = cap - ps.inflight.size
    // Topped up in batches of a quarter of the window: a request per block read would cost a write system call each.
    if (slots <= 0 || (ps.inflight.size > 0 && slots < cap / 4)) return
    const shared = this.sharesBudget(ps)
    if (shared) {
      if (this.stalled(ps, now)) return
      const left = room?.left ?? this.sharedRoom(now)
      if (left <= 0) { this.starved = true; return }
      slots = Math.min(slots, left)
    }
    // A bt-ps peer is asked for runs of consecutive blocks in one request: a quarter of the messages each way. Not
    // under a downlink cap, which pays for what it read a message at a time: 64 KiB messages would let a capped
    // connection read four times as far ahead of its rate.
    const most = isBtpsPeerId(ps.peerId) && this.init.downLimiter == null ? MERGED_REQUEST_BYTES : BLOCK_BYTES
    let run: { index: number, begin: number, length: number } | undefined
    for (const r of picker.pick(ps, ps.has, slots, ps.inflight)) {
      ps.inflight.add(blockKey(r.index, r.begin / BLOCK_BYTES))
      if (shared && room != null) room.left--
      if (run != null && run.index === r.index && run.begin + run.length === r.begin && run.length + r.length <= most) { run.length += r.length; continue }
      if (run != null) ps.wire.sendInts(MSG.request, run.index, run.begin, run.length)
      run = { ...r }
    }
    if (run == null) return
    ps.wire.sendInts(MSG.request, run.index, run.begin, run.length)
    ps.askedAt = now
  }

  /** Whether `ps` is the round's server (never, outside a round). */
  private isServer (ps: PeerState): boolean {
    return ps.peerId === this.init.serverPeerId
  }

  /** Whether `ps`'s requests count against the shared budget: in a round (the server known), every peer but it. */
  private sharesBudget (ps: PeerState): boolean {
    return this.init.serverPeerId != null && !this.isServer(ps)
  }

  /**
   * A peer with requests open that sent no block for STALLED_MS, nor was asked for more since. Counted from the
   * first request to an idle peer instead, peers merely slow to answer on 2.5 Mbit/s links left the budget too
   * soon: N = 32 took 2.36x T_min with ~4,200 retransmission timeouts, twice, against 2.16-2.18x.
   */
  private stalled (ps: PeerState, now: number): boolean {
    return ps.inflight.size > 0 && now - Math.max(ps.lastBlockAt, ps.askedAt) >= STALLED_MS
  }

  /** Requests the peers other than the server may still be asked for, all together (see OPEN_WINDOW_S). */
  private sharedRoom (now: number): number {
    let rate = 0
    let open = 0
    for (const p of this.peers.values()) {
      rate += rateNow(p, now)
      if (this.sharesBudget(p) && !this.stalled(p, now)) open += p.inflight.size
    }
    return MIN_REQUESTS + Math.ceil(rate * OPEN_WINDOW_S / BLOCK_BYTES) - open
  }

  /**
   * Tops up every peer, the shared budget counted once. The pass begins with the first peer the last one had to
   * refuse, so that peers refused for want of room take turns at what frees up, and the pieces only they hold do
   * not wait on the peers that happen to come first.
   */
  private fillAll (): void {
    this.starved = false
    const all = [...this.peers.values()]
    if (all.length === 0) return
    const room = { left: this.sharedRoom(performance.now()) }
    const from = this.turn % all.length
    let refused: number | undefined
    for (let k = 0; k < all.length; k++) {
      const i = (from + k) % all.length
      this.fill(all[i], room)
      if (this.starved && refused == null) refused = i
    }
    this.turn = refused ?? from
  }

  /** Withdraws one open request (the caller settles the picker's count). */
  private cancel (ps: PeerState, key: number): void {
    if (this.readingInPlace(ps, key)) return
    const { index, block } = splitKey(key)
    ps.inflight.delete(key)
    ps.wire.sendInts(MSG.cancel, index, block * BLOCK_BYTES, Math.min(BLOCK_BYTES, pieceSize(this.meta!, index) - block * BLOCK_BYTES))
  }

  /** Gives up what `ps` was asked for (except a block being read in place, which comes whole or with the close). */
  private releaseAll (ps: PeerState): void {
    const given = this.givable(ps)
    this.picker?.release(ps, given)
    for (const key of given) ps.inflight.delete(key)
    const r = ps.wire.inPlace
    if (ps.wire.closed && r != null) this.picker?.unpin(r.index, r.begin, r.length)
  }

  private onClose (ps: PeerState, reason: string): void {
    if (this.peers.get(ps.wire) !== ps) return
    this.peers.delete(ps.wire)
    this.slots.remove(ps, performance.now())
    this.log.debug('peer left', { peer: ps.wire.remoteAddress, reason })
    this.releaseAll(ps)
    if (ps.has != null && this.picker != null) for (let i = 0; i < ps.has.length; i++) if (ps.has[i] === 1) this.picker.availability[i]--
    this.offers?.removePeer(ps)
    if (this.fetch?.from === ps) { this.fetch = undefined; this.fetchMetadata() }
    if (!this.controller.signal.aborted) this.fillAll()
  }

  private onExtended (ps: PeerState, p: Buffer): void {
    if (p.byteLength < 1) throw new BtpsError('WIRE_PROTOCOL', 'empty extended message')
    if (p[0] === 0) {
      const hs = parseExtHandshake(p.subarray(1))
      ps.utMetadata = hs.utMetadata
      ps.metadataSize = hs.metadataSize
      // A peer that dialled us says where it listens: the tracker's answers list that address, and dialling it too
      // would open a second connection, which the duplicate rule closes (one of the two, with its requests, a second
      // into a round). Only the same IP's address is taken, as for dialled peers.
      if (!ps.wire.outgoing && hs.listenPort != null) this.addrPeer.set(`${addressPrefix(ps.ip)}${hs.listenPort}`, ps.peerId)
      this.fetchMetadata()
      return
    }
    if (p[0] !== LOCAL_UT_METADATA) return
    const msg = parseMetadataMessage(p.subarray(1))
    const meta = this.meta
    if (msg.type === 'request') {
      // A 20-byte request earns a 16 KiB reply: none while the peer leaves earlier replies unread.
      if (ps.utMetadata == null || ps.wire.backlog >= SEND_HIGH_WATER) return
      const at = msg.piece * METADATA_PIECE_BYTES
      if (meta == null || at >= meta.info.byteLength) ps.wire.sendExtended(ps.utMetadata, encodeMetadataMessage({ type: 'reject', piece: msg.piece }))
      else ps.wire.sendExtended(ps.utMetadata, encodeMetadataMessage({ type: 'data', piece: msg.piece, totalSize: meta.info.byteLength, data: meta.info.subarray(at, at + METADATA_PIECE_BYTES) }))
      return
    }
    const f = this.fetch
    if (meta != null || f == null || f.from !== ps) return
    if (msg.type !== 'data' || msg.totalSize !== f.assembly.size) { ps.metadataSize = undefined; this.fetch = undefined; this.fetchMetadata(); return }
    f.at = performance.now()
    const info = f.assembly.add(msg.piece, msg.data)
    if (info == null) return
    this.fetch = undefined
    try {
      this.setMeta(parseInfo(info, this.infoHash))
    } catch (err) {
      this.ban(ps, `sent bad metadata: ${errorMessage(err)}`)
    }
  }

  /** Without metadata, asks one peer that offers it for every metadata piece. */
  private fetchMetadata (): void {
    if (this.meta != null || this.fetch != null) return
    const from = [...this.peers.values()].find(p => p.utMetadata != null && p.metadataSize != null)
    if (from == null) return
    const assembly = new MetadataAssembly(from.metadataSize!)
    this.fetch = { from, assembly, at: performance.now() }
    for (let i = 0; i < assembly.count; i++) from.wire.sendExtended(from.utMetadata!, encodeMetadataMessage({ type: 'request', piece: i }))
  }

  private setMeta (meta: Metainfo, bytes?: Uint8Array): void {
    this.meta = meta
    this.store = bytes ?? this.init.allocate?.(meta.length) ?? new Uint8Array(meta.length)
    this.picker = new PiecePicker({ pieceCount: meta.pieceCount, pieceLength: meta.pieceLength, length: meta.length })
    if (bytes != null) for (let i = 0; i < meta.pieceCount; i++) this.picker.markHave(i)
    if (bytes != null && this.init.superSeed === true) this.offers = new SeedOffers(meta.pieceCount, { pieces: SUPER_SEED_WINDOW, deepPieces: Math.ceil(SUPER_SEED_DEEP_BYTES / meta.pieceLength), widePieces: Math.ceil(SUPER_SEED_WIDE_BYTES / meta.pieceLength), inFlight: SUPER_SEED_IN_FLIGHT })
    if (bytes == null) this.init.digest?.start(this.store, meta.pieceLength, meta.pieceHashes, (index, ok) => { this.checked(index, ok) })
    if (bytes == null && this.init.reuse != null) this.reuse(this.init.reuse)
    for (const ps of this.peers.values()) {
      try { this.greet(ps, true) } catch (err) { ps.wire.close(errorMessage(err)) }
    }
    if (this.picker.complete && bytes == null) this.finish()
  }

  /** Copies the pieces `held` has under the same hash (they were verified when they arrived there). */
  private reuse (held: HeldPieces): void {
    const meta = this.meta!
    for (let i = 0; i < meta.pieceCount; i++) {
      const piece = held.find(meta.pieceHashes.subarray(i * 20, i * 20 + 20), pieceSize(meta, i))
      if (piece == null) continue
      this.store!.set(piece, i * meta.pieceLength)
      this.picker!.markHave(i)
      this.init.digest?.held(i)
      this.reused += piece.byteLength
    }
    if (this.reused === 0) return
    this.init.metrics.reused(this.reused)
    this.log.debug('pieces reused from the last download', { pieces: this.picker!.haveCount, bytes: this.reused, from: held.infoHash.slice(0, 12) })
  }

  private onTick (): void {
    const now = performance.now()
    this.ticks++
    for (const ps of this.peers.values()) {
      const r = ps.wire.inPlace
      // A peer that stops in the middle of a block being read in place holds it: it goes, and the block with it.
      if (r != null && now - r.at > SNUB_MS) { ps.wire.close('stalled in the middle of a block'); continue }
      if (ps.inflight.size > 0 && now - ps.lastBlockAt > SNUB_MS && !this.isServer(ps)) {
        // Requests this peer sits on go to others (except a block it is sending in place); it gets asked again later.
        // Not the server's: it alone holds the pieces it shows, so they would only be asked of it again, and what it
        // already wrote, arriving after the cancel, is thrown away (on 2.5 Mbit/s links shared by 32 peers, its
        // flows sat 8 s in retransmission timeouts: 4.6 MB of its 8.4 MB model went out a second time).
        const keys = this.givable(ps)
        for (const key of keys) this.cancel(ps, key)
        this.picker?.release(ps, keys)
        ps.snubbedUntil = now + SNUB_MS
        ps.lastBlockAt = now
        this.fillAll()
      }
      if (this.ticks % 30 === 0) ps.wire.keepAlive()
      // Super-seeding: a peer held back from second copies until it passed its pieces on may have done so since.
      this.showOffers(ps)
      if (now >= ps.snubbedUntil) this.fill(ps)
      if (!ps.interested && now - ps.lastUseful > IDLE_MS && !this.wants(ps)) {
        if (this.complete && ps.dialedAs != null) this.quiet.add(ps.dialedAs)
        ps.wire.close('idle: neither side wants anything')
      }
    }
    if (this.ticks % (ROTATE_MS / 1000) === 0) this.slots.rotate(now, ROTATE_MS)
    if (this.tracker != null && (!this.complete || this.answeredAt == null) && now - Math.max(this.answeredAt ?? 0, this.announcedAt) > REANNOUNCE_MS) {
      this.announcedAt = now
      this.tracker.update()
    }
    if (this.fetch != null && now - this.fetch.at > 5000) { this.fetch.from.metadataSize = undefined; this.fetch = undefined; this.fetchMetadata() }
  }

  destroy (): void {
    if (this.controller.signal.aborted) return
    this.controller.abort()
    clearInterval(this.tick)
    if (this.tracker != null) {
      const t = this.tracker
      this.tracker = undefined
      try { t.stop() } catch { /* tracker gone */ }
      t.destroy()
    }
    for (const p of [...this.peers.values()]) p.wire.close('torrent removed')
    for (const w of this.waiters.splice(0)) w.reject(new BtpsError('ABORTED', 'torrent removed'))
  }
}

/** Bans go by address; on loopback, where a local job runs every peer, by address and peer id. */
function banKey (ip: string, peerId: string): string {
  return isLoopback(ip) ? `${ip}/${peerId}` : ip
}

/** A peer's sending rate now: its last estimate, decayed over the time since. */
function rateNow (ps: PeerState, now: number): number {
  return ps.rate * Math.exp(-(now - ps.rateAt) / RATE_TAU_MS)
}

/** Copies `n` bytes from offset `from` of the concatenation of `parts` into `dst` at `at`. */
function copyRange (parts: Buffer[], from: number, n: number, dst: Uint8Array, at: number): void {
  for (const part of parts) {
    if (n === 0) return
    if (from >= part.byteLength) { from -= part.byteLength; continue }
    const k = Math.min(part.byteLength - from, n)
    part.copy(dst, at, from, from + k)
    at += k
    n -= k
    from = 0
  }
}
