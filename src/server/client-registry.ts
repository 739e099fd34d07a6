import type { ClientState } from '../control/status.js'
import type { Logger } from '../logger.js'

export interface ClientEntry {
  clientId: string
  peerId: string
  /** where other clients dial it (swarm upload): its observed address with its listening port, if it told one */
  addr?: string
  partition: number
  backend: string
  state: ClientState
  round: number
  lastSeen: number
  online: boolean
  /** updates refused as invalid (bad layout, NaN/Inf, outsized norm, malformed) */
  rejected: number
  /** left out of selection for sending invalid updates repeatedly; survives re-login */
  excluded: boolean
  /** from its last heartbeat: share of the round's model it held, and model bytes it sent to other peers */
  held?: number
  uploaded?: number
}

/** What a restarted server keeps of each client: whose key holds the id, its partition and its record. */
export interface ClientBinding { clientId: string, peerId: string, partition: number, rejected: number, excluded: boolean }

/** `bound`: the id is new, or moved to this key (the bindings changed and are worth saving) */
export type LoginOutcome = { ok: true, entry: ClientEntry, bound: 'new' | 'rebound' | 'same' } | { ok: false, reason: string, retryAfterS?: number }

const NONE: ReadonlySet<string> = new Set()

/**
 * Who has logged in, which data partition each holds, and who is alive enough to be selected. A client id is bound
 * to the peer key it first logged in with: another key may take it over only once the holder has been silent for
 * the heartbeat window (a client that lost its key). A peer holds at most `maxIdsPerPeer` live ids at a time (one
 * process may run many identities). Clients are indexed by peer and partitions are kept as they are taken, so a
 * login, a heartbeat or a disconnect costs the same with 10,000 clients as with 10.
 */
export class ClientRegistry {
  private readonly clients = new Map<string, ClientEntry>()
  /** the ids each peer key holds */
  private readonly byPeer = new Map<string, Set<string>>()
  /** partitions held (entries are never removed, so a partition is never freed), and the lowest one free */
  private readonly used = new Set<number>()
  private lowestFree = 0
  /** `list()`'s order, made again only after an entry is added */
  private sorted?: ClientEntry[]
  private readonly partitions: number
  private readonly staleMs: number
  private readonly maxIdsPerPeer: number

  constructor (opts: { partitions: number, staleMs: number, maxIdsPerPeer?: number }) {
    this.partitions = opts.partitions
    this.staleMs = opts.staleMs
    this.maxIdsPerPeer = opts.maxIdsPerPeer ?? 1
  }

  /** Whether `c` is connected or was heard from within the heartbeat window. */
  private live (c: ClientEntry, now: number): boolean {
    return c.online || now - c.lastSeen <= this.staleMs
  }

  /** Why `peerId` may not take one more id besides `clientId` (it holds the most it may, live); undefined when it may. */
  private peerFull (peerId: string, clientId: string, now: number): string | undefined {
    const ids = this.byPeer.get(peerId)
    const max = this.maxIdsPerPeer
    if (ids == null || ids.size - (ids.has(clientId) ? 1 : 0) < max) return undefined
    let live = 0
    let first: string | undefined
    for (const other of ids) {
      const c = this.clients.get(other)
      if (other === clientId || c == null || !this.live(c, now)) continue
      first ??= other
      if (++live >= max) break
    }
    if (live < max) return undefined
    return max === 1 ? `this peer is logged in as ${String(first)}; one client id per peer` : `this peer is logged in as ${max} client ids, the most server.max_ids_per_peer (${max}) allows`
  }

  private bind (clientId: string, peerId: string): void {
    let ids = this.byPeer.get(peerId)
    if (ids == null) this.byPeer.set(peerId, ids = new Set())
    ids.add(clientId)
  }

  private unbind (clientId: string, peerId: string): void {
    const ids = this.byPeer.get(peerId)
    ids?.delete(clientId)
    if (ids?.size === 0) this.byPeer.delete(peerId)
  }

  /** Adds a new entry (or replaces a restored one), keeping the peer index, the partitions and `list()`'s order. */
  private add (entry: ClientEntry): void {
    const old = this.clients.get(entry.clientId)
    if (old != null) this.unbind(old.clientId, old.peerId)
    this.clients.set(entry.clientId, entry)
    this.bind(entry.clientId, entry.peerId)
    this.used.add(entry.partition)
    while (this.used.has(this.lowestFree)) this.lowestFree++
    this.sorted = undefined
  }

  /** Registers a login; a returning client id keeps its partition. Refuses a taken id, an id past the peer's limit, or a full job. */
  login (clientId: string, peerId: string, backend: string, addr?: string, now = Date.now()): LoginOutcome {
    const full = this.peerFull(peerId, clientId, now)
    if (full != null) return { ok: false, reason: full }
    const known = this.clients.get(clientId)
    if (known != null) {
      const rebound = known.peerId !== peerId
      if (rebound && this.live(known, now)) {
        const heard = known.online ? 'which is connected' : `which was heard from ${((now - known.lastSeen) / 1000).toFixed(0)} s ago`
        const retryAfterS = Math.ceil((known.online ? this.staleMs : this.staleMs - (now - known.lastSeen)) / 1000)
        return { ok: false, reason: `${clientId} is bound to another peer key, ${heard}; it can move to a new key ${this.staleMs / 1000} s after its holder goes silent`, retryAfterS }
      }
      if (rebound) { this.unbind(clientId, known.peerId); this.bind(clientId, peerId) }
      Object.assign(known, { peerId, addr, backend, lastSeen: now, online: true, state: 'idle' })
      return { ok: true, entry: known, bound: rebound ? 'rebound' : 'same' }
    }
    const partition = this.lowestFree
    if (partition >= this.partitions) return { ok: false, reason: `all ${this.partitions} partitions are taken` }
    const entry: ClientEntry = { clientId, peerId, addr, partition, backend, state: 'idle', round: 0, lastSeen: now, online: true, rejected: 0, excluded: false }
    this.add(entry)
    return { ok: true, entry, bound: 'new' }
  }

  /** The bindings to persist beside the checkpoint. */
  bindings (): ClientBinding[] {
    return this.list().map(c => ({ clientId: c.clientId, peerId: c.peerId, partition: c.partition, rejected: c.rejected, excluded: c.excluded }))
  }

  /**
   * Bindings a previous run of the server persisted, as offline clients. They count as heard from `now`, so each
   * holder has a heartbeat window to come back before its id can move to another key.
   */
  restore (bindings: readonly ClientBinding[], now = Date.now()): void {
    for (const b of bindings) this.add({ ...b, backend: '', state: 'idle', round: 0, lastSeen: now, online: false })
  }

  heartbeat (clientId: string, peerId: string, state: ClientState, round: number, now = Date.now(), swarm: { held?: number, uploaded?: number } = {}): boolean {
    const c = this.clients.get(clientId)
    if (c == null || c.peerId !== peerId) return false
    Object.assign(c, { state, round, lastSeen: now, online: true, held: swarm.held, uploaded: swarm.uploaded })
    return true
  }

  /** The peer closed its connection: every id it holds goes offline. */
  disconnected (peerId: string): void {
    for (const id of this.byPeer.get(peerId) ?? []) {
      const c = this.clients.get(id)
      if (c != null) c.online = false
    }
  }

  get (clientId: string): ClientEntry | undefined { return this.clients.get(clientId) }

  /** The peer key `clientId` is bound to. */
  peerOf (clientId: string): string | undefined { return this.clients.get(clientId)?.peerId }

  /** The client ids bound to `peerId` (live or not). */
  idsOf (peerId: string): ReadonlySet<string> { return this.byPeer.get(peerId) ?? NONE }

  /** Clients known, connected and excluded, without sorting or copying the list (metrics read it at each scrape). */
  counts (): { known: number, online: number, excluded: number } {
    let online = 0
    let excluded = 0
    for (const c of this.clients.values()) { if (c.online) online++; if (c.excluded) excluded++ }
    return { known: this.clients.size, online, excluded }
  }

  /** Why `clientId` may not send an update from `peerId` (not logged in from there, or excluded); undefined when it may. */
  updateRefusal (clientId: string, peerId: string): string | undefined {
    const c = this.clients.get(clientId)
    if (c?.peerId !== peerId) return `${clientId} is not logged in from this peer`
    // Exclusion also holds inside the round that caused it: no retry after the last straw.
    if (c.excluded) return `${clientId} is excluded after ${c.rejected} invalid updates`
    return undefined
  }

  /** Counts an invalid update against `clientId` and logs the exclusion it may bring (`limit` 0: never). */
  countInvalid (clientId: string, limit: number, log: Logger): void {
    if (this.rejectedUpdate(clientId, limit)) log.warn('client excluded: repeated invalid updates', { client: clientId, rejected: this.get(clientId)?.rejected })
  }

  /** Counts an invalid update; at `limit` (0: never) the client is excluded. Returns true when this excluded it. */
  rejectedUpdate (clientId: string, limit: number): boolean {
    const c = this.clients.get(clientId)
    if (c == null || c.excluded) return false
    c.rejected++
    c.excluded = limit > 0 && c.rejected >= limit
    return c.excluded
  }

  /** Clients that can be selected: connected, not offline by their device schedule, not excluded, heard from recently and subscribed (`reachable`). */
  eligible (reachable: (peerId: string) => boolean, now = Date.now()): ClientEntry[] {
    return [...this.clients.values()].filter(c => c.online && c.state !== 'offline' && !c.excluded && now - c.lastSeen <= this.staleMs && reachable(c.peerId))
  }

  /** Every client by partition: a copy, O(n); sorted again only after an entry was added. */
  list (): ClientEntry[] {
    this.sorted ??= [...this.clients.values()].sort((a, b) => a.partition - b.partition)
    return this.sorted.slice()
  }
}
