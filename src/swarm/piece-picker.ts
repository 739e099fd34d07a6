import { BLOCK_BYTES } from './wire.js'

/**
 * Endgame: second requests open at a time per peer. Asking every peer for every block still on its way (as BEP 3's
 * endgame does) makes the slow peer's blocks come twice from many; a couple per peer still lets the idle peers
 * cover a stalled one's blocks, a few at a time.
 */
const SECOND_REQUESTS_PER_PEER = 2

export interface BlockRequest { index: number, begin: number, length: number }

interface Progress<P> {
  /** the peer this piece is being fetched from; null when that peer left or was slow (anyone may adopt it) */
  owner: P | null
  received: Uint8Array
  /** outstanding requests per block (more than one only in endgame) */
  requested: Uint8Array
  missing: number
  contributors: Set<P>
}

/**
 * Which blocks to ask which peer for. Rarest piece first (ties broken at random, so peers spread out); a piece is
 * fetched from one peer at a time so a bad piece has one culprit; once every missing piece is under way
 * (endgame), blocks still missing may be asked of a second peer.
 */
export class PiecePicker<P> {
  readonly have: Uint8Array
  readonly availability: Uint16Array
  haveCount = 0
  private readonly progress = new Map<number, Progress<P>>()
  /** blocks being read in place (see SwarmTorrent.pieceTarget): never asked of a second peer */
  private readonly pinned = new Set<number>()
  /** endgame's second requests: block key → the peer asked second (at most SECOND_REQUESTS_PER_PEER each) */
  private readonly seconds = new Map<number, P>()
  private readonly pieceLength: number
  private readonly length: number
  private readonly random: () => number

  constructor (opts: { pieceCount: number, pieceLength: number, length: number, random?: () => number }) {
    this.have = new Uint8Array(opts.pieceCount)
    this.availability = new Uint16Array(opts.pieceCount)
    this.pieceLength = opts.pieceLength
    this.length = opts.length
    this.random = opts.random ?? Math.random
  }

  get pieceCount (): number { return this.have.length }
  get complete (): boolean { return this.haveCount === this.have.length }
  get endgame (): boolean { return this.haveCount + this.progress.size >= this.have.length }

  pieceBytes (index: number): number { return Math.min(this.pieceLength, this.length - index * this.pieceLength) }
  private blocks (index: number): number { return Math.ceil(this.pieceBytes(index) / BLOCK_BYTES) }

  private request (index: number, block: number): BlockRequest {
    const begin = block * BLOCK_BYTES
    return { index, begin, length: Math.min(BLOCK_BYTES, this.pieceBytes(index) - begin) }
  }

  /** Marks pieces held from the start (a seeder holds all). */
  markHave (index: number): void {
    if (this.have[index] === 1) return
    this.have[index] = 1
    this.haveCount++
    this.progress.delete(index)
    this.forgetSeconds(index)
  }

  /**
   * Up to `slots` new block requests for `peer`, which holds the pieces `peerHas` says. `inflight` are the
   * block keys (`blockKey`) already asked of this peer.
   */
  pick (peer: P, peerHas: Uint8Array, slots: number, inflight: { has: (key: number) => boolean }): BlockRequest[] {
    const out: BlockRequest[] = []
    if (slots <= 0 || this.complete) return out
    // `limit`: a block is asked for while fewer than `limit` requests for it are open (2 only in endgame).
    const picked = new Set<number>()
    let secondsLeft = 0
    const fill = (index: number, p: Progress<P>, limit: number): void => {
      for (let b = 0; b < p.received.length && out.length < slots; b++) {
        const key = blockKey(index, b)
        if (p.received[b] === 1 || p.requested[b] >= limit || inflight.has(key) || picked.has(key) || this.pinned.has(key)) continue
        if (p.requested[b] > 0) {
          if (secondsLeft === 0) return
          secondsLeft--
          this.seconds.set(key, peer)
        }
        picked.add(key)
        p.requested[b]++
        out.push(this.request(index, b))
      }
    }
    // 1. finish what this peer was already fetching, then orphaned pieces it can supply
    for (const [index, p] of this.progress) {
      if (out.length >= slots) return out
      if (p.owner === peer) fill(index, p, 1)
    }
    for (const [index, p] of this.progress) {
      if (out.length >= slots) return out
      if (p.owner === null && peerHas[index] === 1) { p.owner = peer; fill(index, p, 1) }
    }
    // 2. new pieces, rarest first
    while (out.length < slots) {
      const index = this.rarest(peerHas)
      if (index < 0) break
      const n = this.blocks(index)
      const p: Progress<P> = { owner: peer, received: new Uint8Array(n), requested: new Uint8Array(n), missing: n, contributors: new Set() }
      this.progress.set(index, p)
      fill(index, p, 1)
    }
    // 3. endgame: blocks nobody asked for yet, then a few second requests for blocks someone else has yet to send
    if (out.length < slots && this.endgame) {
      for (const limit of [1, 2]) {
        if (limit === 2) {
          secondsLeft = SECOND_REQUESTS_PER_PEER
          for (const p of this.seconds.values()) if (p === peer) secondsLeft--
        }
        for (const [index, p] of this.progress) {
          if (out.length >= slots || (limit === 2 && secondsLeft <= 0)) break
          if (peerHas[index] === 1 && p.owner !== peer) fill(index, p, limit)
        }
      }
    }
    return out
  }

  private rarest (peerHas: Uint8Array): number {
    let best = -1
    let bestAvail = Infinity
    let ties = 0
    for (let i = 0; i < this.have.length; i++) {
      if (this.have[i] === 1 || peerHas[i] !== 1 || this.progress.has(i)) continue
      const a = this.availability[i]
      if (a < bestAvail) { best = i; bestAvail = a; ties = 1 } else if (a === bestAvail && this.random() * ++ties < 1) best = i
    }
    return best
  }

  /**
   * A block arrived from `peer`. Returns 'piece' when it completed its piece (the caller verifies it),
   * 'block' when it was wanted, 'unwanted' when it was not (already had, or never asked for).
   */
  received (peer: P, index: number, begin: number, length: number): 'piece' | 'block' | 'unwanted' {
    const p = this.progress.get(index)
    if (p == null || begin % BLOCK_BYTES !== 0) return 'unwanted'
    const b = begin / BLOCK_BYTES
    if (b >= p.received.length || p.received[b] === 1 || Math.min(BLOCK_BYTES, this.pieceBytes(index) - begin) !== length) return 'unwanted'
    p.received[b] = 1
    if (p.requested[b] > 0) p.requested[b]--
    this.seconds.delete(blockKey(index, b))
    p.missing--
    p.contributors.add(peer)
    return p.missing === 0 ? 'piece' : 'block'
  }

  /** Whether the block at `begin` (`length` bytes) of piece `index` has not arrived and is asked of one peer only. */
  askedOnce (index: number, begin: number, length: number): boolean {
    const p = this.progress.get(index)
    const b = begin / BLOCK_BYTES
    return p != null && Number.isInteger(b) && b < p.received.length && p.received[b] === 0 && p.requested[b] === 1 && Math.min(BLOCK_BYTES, this.pieceBytes(index) - begin) === length
  }

  pin (keys: number[]): void { for (const k of keys) this.pinned.add(k) }
  /** Unpins the blocks of `length` bytes at `begin` of piece `index`. */
  unpin (index: number, begin: number, length: number): void {
    for (let off = 0; off < length; off += BLOCK_BYTES) this.pinned.delete(blockKey(index, (begin + off) / BLOCK_BYTES))
  }

  /** Requests that will not be answered (peer choked, left, cancelled or was too slow). */
  release (peer: P, requests: Iterable<number>): void {
    for (const key of requests) {
      const { index, block } = splitKey(key)
      const p = this.progress.get(index)
      if (p != null && p.requested[block] > 0) p.requested[block]--
      // One request left for it, or none: it is nobody's second request any more.
      if (p == null || p.requested[block] < 2) this.seconds.delete(key)
    }
    for (const p of this.progress.values()) if (p.owner === peer) p.owner = null
  }

  /** A completed piece was checked (verified or failed): forgets its progress, returns who supplied its blocks. */
  settle (index: number): Set<P> {
    const p = this.progress.get(index)
    this.progress.delete(index)
    this.forgetSeconds(index)
    return p?.contributors ?? new Set()
  }

  private forgetSeconds (index: number): void {
    for (const key of this.seconds.keys()) if (splitKey(key).index === index) this.seconds.delete(key)
  }
}

export const blockKey = (index: number, block: number): number => index * 65536 + block
export const splitKey = (key: number): { index: number, block: number } => ({ index: Math.floor(key / 65536), block: key % 65536 })
