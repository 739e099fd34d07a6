interface Held { since: number, sent: number }

/**
 * Which interested peers may request from us. At most `slots` are unchoked at a time; the others wait in arrival
 * order. Every rotation, while peers wait, each unchoked peer that held its slot a whole period and took nothing
 * in it yields its slot (idle or not reading), and so does the one that took least: a peer that says "interested"
 * and then sits still cannot keep others from the data.
 */
export class UnchokeSlots<P> {
  private readonly unchoked = new Map<P, Held>()
  /** peer → when it started waiting; Map order is arrival order */
  private readonly waiting = new Map<P, number>()
  private readonly slots: number
  private readonly act: { choke: (peer: P) => void, unchoke: (peer: P) => void }

  constructor (slots: number, act: { choke: (peer: P) => void, unchoke: (peer: P) => void }) {
    this.slots = Math.max(1, slots)
    this.act = act
  }

  get waitingCount (): number { return this.waiting.size }
  isUnchoked (peer: P): boolean { return this.unchoked.has(peer) }

  interested (peer: P, now: number): void {
    if (this.unchoked.has(peer) || this.waiting.has(peer)) return
    if (this.unchoked.size < this.slots) this.grant(peer, now)
    else this.waiting.set(peer, now)
  }

  /** Not interested any more, or gone: its slot goes to the longest waiter. */
  remove (peer: P, now: number): void {
    this.waiting.delete(peer)
    if (!this.unchoked.delete(peer)) return
    this.promote(now)
  }

  /** Like `remove`, and the peer is told it is choked. */
  choke (peer: P, now: number): void {
    this.waiting.delete(peer)
    if (!this.unchoked.delete(peer)) return
    this.act.choke(peer)
    this.promote(now)
  }

  sent (peer: P, bytes: number): void {
    const h = this.unchoked.get(peer)
    if (h != null) h.sent += bytes
  }

  rotate (now: number, periodMs: number): void {
    if (this.waiting.size > 0) {
      const due = [...this.unchoked].filter(([, h]) => now - h.since >= periodMs)
      const idle = due.filter(([, h]) => h.sent === 0).map(([p]) => p)
      const slowest = due.filter(([, h]) => h.sent > 0).sort((a, b) => a[1].sent - b[1].sent)[0]?.[0]
      const out = [...idle, ...(slowest != null ? [slowest] : [])].slice(0, this.waiting.size)
      for (const p of out) {
        this.unchoked.delete(p)
        this.act.choke(p)
        // Back in line: it still wants data, it just had its turn.
        this.waiting.set(p, now)
      }
      this.promote(now)
    }
    for (const h of this.unchoked.values()) h.sent = 0
  }

  private promote (now: number): void {
    for (const [p] of this.waiting) {
      if (this.unchoked.size >= this.slots) return
      this.waiting.delete(p)
      this.grant(p, now)
    }
  }

  private grant (peer: P, now: number): void {
    this.unchoked.set(peer, { since: now, sent: 0 })
    this.act.unchoke(peer)
  }
}
