/** A bt-ps peer's window covers at most 1/DEEP_SHARE of the model's pieces (beyond the narrow window). */
const DEEP_SHARE = 8
/** Pieces a trading peer may hold from us that have not yet spread (see spreading) before it is shown more. */
const SPREADING_PIECES = 4
/** A piece has spread once this share of the other peers announced it (or SPREAD_HOLDERS of them)... */
const SPREAD_SHARE = 0.5
const SPREAD_HOLDERS = 8
/** ...or this long after it was given: peers that stopped taking pieces do not hold the giver back for good. */
const SPREAD_WAIT_MS = 2000
/** See SeedWindows.inFlight: pieces announced back over this long make the room in flight. */
const IN_FLIGHT_HORIZON_MS = 500
/** A piece shown this long ago and never announced stops counting as in flight. */
const IN_FLIGHT_WAIT_MS = 2000

interface PeerOffers {
  has: Uint8Array
  /** shown and not all sent yet: these fill the window */
  offered: Set<number>
  /** shown pieces whose every byte has gone out to the peer, with no HAVE back yet */
  given: Set<number>
  /** each offered piece's blocks sent so far, by offset, and their bytes (a block asked for twice counts once) */
  sending: Map<number, { offsets: Set<number>, bytes: number }>
  /** a standard client, shown `widePieces` at a time or more */
  wide: boolean
  /** the window's depth: one piece deeper for every piece whose last byte went out to the peer */
  depth: number
  /** pieces whose every byte went out to this peer and that no other peer is known to hold yet */
  unshared: Set<number>
  /** it announced a piece the server gave another peer: it trades with other peers (see passedOn) */
  trades: boolean
  /** pieces whose every byte went out to this peer and that too few other peers announced yet, and when */
  spreading: Map<number, number>
  /** a bt-ps peer's shown pieces not yet announced back, and when each was shown (see SeedWindows.inFlight) */
  pending: Map<number, number>
  /** when it was last shown a piece: peers waiting for room in flight are served longest-waiting first */
  shownAt: number
}

export interface SeedWindows {
  /** pieces shown at a time to a bt-ps peer, which asks for a shown piece within a round trip */
  pieces: number
  /**
   * up to this many to a bt-ps peer while the peers' windows together cover less than the model: a window of a
   * couple of pieces, one round trip per piece, leaves a fast link idle half the time (a lone peer on loopback got
   * 270 MB/s with 2 pieces of 256 KiB shown at a time)
   */
  deepPieces?: number
  /**
   * pieces shown at a time to a standard client at first: some ask for pieces only on a timer (Transmission once a
   * second), so a couple of pieces per period would starve them. The window deepens as the client takes them, up
   * to half the model: a client that asks once a second gets at most a window a second.
   */
  widePieces: number
  /**
   * With other peers in the swarm: pieces shown to bt-ps peers and not yet announced back, all peers together, at
   * least this many, and as many as came back in the last half second (a fast link opens it within a few round
   * trips). Without it a piece is shown again as soon as the last one was written, and the socket buffers of every
   * peer fill at once: at N = 32 the server had nearly the whole model on its way to 32 peers, each piece at 1/32 of
   * its uplink, so the first pieces arrived seconds in and it sent 1.8 copies. Unset: no such limit.
   */
  inFlight?: number
}

/**
 * Super-seeding for the server (in the spirit of BEP 16): instead of a full bitfield, each peer is shown a few
 * pieces at a time (HAVE messages), always those the fewest peers hold or have been shown. While some piece was
 * never handed out, every piece the server uploads is a new one, so its uplink carries about one copy of the model
 * and the clients pass pieces on among themselves. A piece leaves a peer's window once its last byte has gone out
 * to that peer (or the peer announced it, from wherever it came), so a peer that sends HAVEs late or never is not
 * held back. With other peers in the swarm, the pieces on their way to bt-ps peers, all together, are kept to what
 * the uplink passes in about half a second (see SeedWindows.inFlight), so each piece arrives whole soon after it
 * was shown and its holder can pass it on. Standard clients need nothing special: they request what they are
 * shown, and are shown more at a time.
 */
export class SeedOffers<P> {
  /** peers that hold or were shown each piece */
  private readonly holders: Uint16Array
  /** pieces whose every byte went out to some peer */
  private readonly served: Uint8Array
  /** peers that announced each piece */
  private readonly announced: Uint16Array
  private readonly peers = new Map<P, PeerOffers>()
  private readonly windows: SeedWindows
  private cursor = 0
  private readonly now: () => number
  /** pieces in all peers' `pending` */
  private inFlight = 0
  /** when pending pieces were announced back, within the last IN_FLIGHT_HORIZON_MS */
  private readonly acks: number[] = []

  constructor (pieceCount: number, windows: SeedWindows, now: () => number = () => performance.now()) {
    this.now = now
    this.holders = new Uint16Array(pieceCount)
    this.served = new Uint8Array(pieceCount)
    this.announced = new Uint16Array(pieceCount)
    this.windows = { pieces: Math.max(1, windows.pieces), deepPieces: Math.max(1, windows.pieces, windows.deepPieces ?? 0), widePieces: Math.max(1, windows.pieces, windows.widePieces), inFlight: windows.inFlight }
  }

  /** `wide`: a standard client, shown `widePieces` at a time. */
  addPeer (peer: P, wide = false): void {
    if (!this.peers.has(peer)) this.peers.set(peer, { has: new Uint8Array(this.holders.length), offered: new Set(), given: new Set(), sending: new Map(), wide, depth: wide ? this.windows.widePieces : this.windows.pieces, unshared: new Set(), trades: false, spreading: new Map(), pending: new Map(), shownAt: 0 })
  }

  removePeer (peer: P): void {
    const s = this.peers.get(peer)
    if (s == null) return
    this.peers.delete(peer)
    for (let i = 0; i < s.has.length; i++) {
      if (s.has[i] === 1 || s.offered.has(i) || s.given.has(i)) this.holders[i]--
      if (s.has[i] === 1) this.announced[i]--
    }
    this.inFlight -= s.pending.size
  }

  /**
   * The peer announced it holds `index` (HAVE or bitfield). Returns the peers held back by `index` not having
   * spread that may be shown more now (see next).
   */
  peerHas (peer: P, index: number): P[] {
    const s = this.peers.get(peer)
    if (s == null || s.has[index] === 1) return []
    s.has[index] = 1
    this.announced[index]++
    s.sending.delete(index)
    const shown = s.offered.delete(index) || s.given.delete(index)
    if (!shown) this.holders[index]++
    if (!shown && this.served[index] === 1) s.trades = true
    const freed: P[] = []
    if (s.pending.delete(index)) {
      this.inFlight--
      const now = this.now()
      this.pruneAcks(now)
      this.acks.push(now)
      freed.push(...this.waiting())
    }
    // Once, as the count reaches what spreading takes (a count past it after peers left is pruned in next()).
    if (this.announced[index] !== this.spreadNeed()) return freed
    for (const [p, o] of this.peers) if (o.spreading.delete(index) && o.spreading.size < SPREADING_PIECES) freed.push(p)
    return freed
  }

  /**
   * `length` bytes at `begin` of shown piece `index` (of `pieceBytes`) went out to `peer`. Once the whole piece
   * has, its slot goes to the next piece: what to show the peer now (as next()).
   */
  sent (peer: P, index: number, begin: number, length: number, pieceBytes: number): number[] {
    const s = this.peers.get(peer)
    if (s == null || !s.offered.has(index)) return []
    let sent = s.sending.get(index)
    if (sent == null) s.sending.set(index, sent = { offsets: new Set(), bytes: 0 })
    if (!sent.offsets.has(begin)) {
      sent.offsets.add(begin)
      sent.bytes += length
    }
    if (sent.bytes < pieceBytes) return []
    s.sending.delete(index)
    s.offered.delete(index)
    s.given.add(index)
    s.unshared.add(index)
    if (this.announced[index] < this.spreadNeed()) s.spreading.set(index, this.now())
    this.served[index] = 1
    s.depth++
    return this.next(peer)
  }

  /** Whether `index` is shown to `peer` now (a request for any other piece is not served). */
  isOffered (peer: P, index: number): boolean {
    const s = this.peers.get(peer)
    return s != null && (s.offered.has(index) || s.given.has(index))
  }

  /** Pieces to show `peer` now so that its window of shown pieces, not yet all sent to it, is full. */
  next (peer: P): number[] {
    const s = this.peers.get(peer)
    if (s == null) return []
    const out: number[] = []
    const n = this.holders.length
    const window = this.window(s)
    const now = this.now()
    const budgeted = !s.wide && this.peers.size > 1 && this.windows.inFlight != null
    if (budgeted) this.expire(now)
    // A peer whose last pieces from us have not spread yet is shown nothing new: its uplink is busy passing them on,
    // and TCP's uneven shares of ours would otherwise hand it more than it can pass on while other peers' uplinks idle.
    if (!s.wide && s.trades && s.spreading.size >= SPREADING_PIECES) {
      for (const [i, at] of s.spreading) if (this.announced[i] >= this.spreadNeed() || now - at >= SPREAD_WAIT_MS) s.spreading.delete(i)
      if (s.spreading.size >= SPREADING_PIECES) return out
    }
    while (s.offered.size < window && !(budgeted && this.inFlight >= this.budget(now))) {
      // The least-held piece this peer lacks, scanning from a moving cursor so equal pieces go out in turn.
      let best = -1
      for (let k = 0; k < n; k++) {
        const i = (this.cursor + k) % n
        if (s.has[i] === 1 || s.offered.has(i) || s.given.has(i)) continue
        if (best < 0 || this.holders[i] < this.holders[best]) { best = i; if (this.holders[i] === 0) break }
      }
      if (best < 0) break
      // Every piece went out once: a second copy only to a peer that passed on what it was given (BEP 16's rule).
      // Otherwise the server's uplink, idle once the first copies are out, sends the copies the peers would have
      // passed on to each other (1.04-1.06 F at N = 8).
      if (this.holders[best] > 0 && !s.wide && !this.passedOn(s)) break
      this.cursor = (best + 1) % n
      s.offered.add(best)
      this.holders[best]++
      if (!s.wide) {
        s.pending.set(best, now)
        this.inFlight++
      }
      s.shownAt = now
      out.push(best)
    }
    return out
  }

  /** Pieces that may be in flight to bt-ps peers now: as many as came back over the horizon, `inFlight` at least. */
  private budget (now: number): number {
    this.pruneAcks(now)
    return Math.max(this.windows.inFlight ?? 0, this.acks.length)
  }

  private pruneAcks (now: number): void {
    let old = 0
    while (old < this.acks.length && now - this.acks[old] > IN_FLIGHT_HORIZON_MS) old++
    if (old > 0) this.acks.splice(0, old)
  }

  /** Pieces shown long ago and never announced (the peer is slow, or gone quiet) stop holding the others back. */
  private expire (now: number): void {
    for (const o of this.peers.values()) {
      for (const [i, at] of o.pending) {
        if (now - at < IN_FLIGHT_WAIT_MS) continue
        o.pending.delete(i)
        this.inFlight--
      }
    }
  }

  /** bt-ps peers with room in their window, longest since last shown a piece first. */
  private waiting (): P[] {
    const out: Array<[P, number]> = []
    for (const [p, o] of this.peers) if (!o.wide && o.offered.size < this.windows.pieces) out.push([p, o.shownAt])
    return out.sort((a, b) => a[1] - b[1]).map(([p]) => p)
  }

  /**
   * Whether every piece that went out to this peer is held by another peer too, or wanted by none (no other peer is
   * here, or each was shown it already). A peer never seen to trade (it announced only what the server gave it: no
   * tracker, or peers that cannot reach it) passes: its pieces cannot reach anyone, and it needs the rest from us.
   */
  private passedOn (s: PeerOffers): boolean {
    if (!s.trades) return true
    const others = this.peers.size - 1
    for (const i of s.unshared) {
      if (this.holders[i] >= Math.min(2, others + 1)) s.unshared.delete(i)
      else return false
    }
    return true
  }

  /** Peers that must have announced a piece before it counts as spread: the one given it and a share of the others. */
  private spreadNeed (): number {
    return 1 + Math.min(SPREAD_HOLDERS, Math.ceil((this.peers.size - 1) * SPREAD_SHARE))
  }

  /**
   * Pieces shown to one peer at a time: a lone peer's window deepens as it takes them (as TCP's slow start), since
   * with nobody to share with a fast link would otherwise wait a round trip for every two pieces. A small model
   * (under 24 pieces) keeps the narrow window. A standard client's window deepens the same way, with others or not.
   */
  private window (s: PeerOffers): number {
    if (s.wide) return Math.max(this.windows.widePieces, Math.min(s.depth, Math.ceil(this.holders.length / 2)))
    const { pieces, deepPieces } = this.windows
    // With others in the swarm, pieces shown early would go out twice (a sweep at N = 8 sent 1.28 F with deep
    // windows, 1.05 F without). An eighth of the model at most: the peers of a round connect one after another,
    // and the first must not have been shown the pieces the later ones will need from the server.
    if (this.peers.size > 1) return pieces
    return Math.max(pieces, Math.min(s.depth, deepPieces ?? pieces, Math.floor(this.holders.length / DEEP_SHARE)))
  }
}
