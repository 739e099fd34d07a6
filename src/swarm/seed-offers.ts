interface PeerOffers { has: Uint8Array, offered: Set<number> }

/**
 * Super-seeding for the server (in the spirit of BEP 16): instead of a full bitfield, each peer is shown a few
 * pieces at a time (HAVE messages), always those the fewest peers hold or have been shown. While some piece was
 * never handed out, every piece the server uploads is a new one, so its uplink carries about one copy of the model
 * and the clients pass pieces on among themselves. A peer that gets a shown piece (from the server or anyone)
 * announces it with HAVE, which frees the slot for the next one. Standard clients need nothing special: they
 * request what they are shown.
 */
export class SeedOffers<P> {
  /** peers that hold or were shown each piece */
  private readonly holders: Uint16Array
  private readonly peers = new Map<P, PeerOffers>()
  private readonly window: number
  private cursor = 0

  /** `window`: pieces shown to one peer and not yet held by it. */
  constructor (pieceCount: number, window: number) {
    this.holders = new Uint16Array(pieceCount)
    this.window = Math.max(1, window)
  }

  addPeer (peer: P): void {
    if (!this.peers.has(peer)) this.peers.set(peer, { has: new Uint8Array(this.holders.length), offered: new Set() })
  }

  removePeer (peer: P): void {
    const s = this.peers.get(peer)
    if (s == null) return
    this.peers.delete(peer)
    for (let i = 0; i < s.has.length; i++) if (s.has[i] === 1 || s.offered.has(i)) this.holders[i]--
  }

  /** The peer announced it holds `index` (HAVE or bitfield). */
  peerHas (peer: P, index: number): void {
    const s = this.peers.get(peer)
    if (s == null || s.has[index] === 1) return
    s.has[index] = 1
    if (!s.offered.delete(index)) this.holders[index]++
  }

  /** Whether `index` is shown to `peer` now (a request for any other piece is not served). */
  isOffered (peer: P, index: number): boolean {
    return this.peers.get(peer)?.offered.has(index) ?? false
  }

  /** Pieces to show `peer` now so that it has `window` shown pieces it does not hold yet. */
  next (peer: P): number[] {
    const s = this.peers.get(peer)
    if (s == null) return []
    const out: number[] = []
    const n = this.holders.length
    while (s.offered.size < this.window) {
      // The least-held piece this peer lacks, scanning from a moving cursor so equal pieces go out in turn.
      let best = -1
      for (let k = 0; k < n; k++) {
        const i = (this.cursor + k) % n
        if (s.has[i] === 1 || s.offered.has(i)) continue
        if (best < 0 || this.holders[i] < this.holders[best]) { best = i; if (this.holders[i] === 0) break }
      }
      if (best < 0) break
      this.cursor = (best + 1) % n
      s.offered.add(best)
      this.holders[best]++
      out.push(best)
    }
    return out
  }
}
