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

/**
 * Who has logged in, which data partition each holds, and who is alive enough to be selected. A client id is bound
 * to the peer key it first logged in with: another key may take it over only once the holder has been silent for
 * the heartbeat window (a client that lost its key), and a peer holds one id at a time.
 */
export class ClientRegistry {
  private readonly clients = new Map<string, ClientEntry>()
  private readonly partitions: number
  private readonly staleMs: number

  constructor (opts: { partitions: number, staleMs: number }) {
    this.partitions = opts.partitions
    this.staleMs = opts.staleMs
  }

  /** Whether `c` is connected or was heard from within the heartbeat window. */
  private live (c: ClientEntry, now: number): boolean {
    return c.online || now - c.lastSeen <= this.staleMs
  }

  /** Registers a login; a returning client id keeps its partition. Refuses a taken id, a second id, or a full job. */
  login (clientId: string, peerId: string, backend: string, addr?: string, now = Date.now()): LoginOutcome {
    const other = [...this.clients.values()].find(c => c.peerId === peerId && c.clientId !== clientId && this.live(c, now))
    if (other != null) return { ok: false, reason: `this peer is logged in as ${other.clientId}; one client id per peer` }
    const known = this.clients.get(clientId)
    if (known != null) {
      const rebound = known.peerId !== peerId
      if (rebound && this.live(known, now)) {
        const heard = known.online ? 'which is connected' : `which was heard from ${((now - known.lastSeen) / 1000).toFixed(0)} s ago`
        const retryAfterS = Math.ceil((known.online ? this.staleMs : this.staleMs - (now - known.lastSeen)) / 1000)
        return { ok: false, reason: `${clientId} is bound to another peer key, ${heard}; it can move to a new key ${this.staleMs / 1000} s after its holder goes silent`, retryAfterS }
      }
      Object.assign(known, { peerId, addr, backend, lastSeen: now, online: true, state: 'idle' })
      return { ok: true, entry: known, bound: rebound ? 'rebound' : 'same' }
    }
    const used = new Set([...this.clients.values()].map(c => c.partition))
    let partition = 0
    while (used.has(partition)) partition++
    if (partition >= this.partitions) return { ok: false, reason: `all ${this.partitions} partitions are taken` }
    const entry: ClientEntry = { clientId, peerId, addr, partition, backend, state: 'idle', round: 0, lastSeen: now, online: true, rejected: 0, excluded: false }
    this.clients.set(clientId, entry)
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
    for (const b of bindings) this.clients.set(b.clientId, { ...b, backend: '', state: 'idle', round: 0, lastSeen: now, online: false })
  }

  heartbeat (clientId: string, peerId: string, state: ClientState, round: number, now = Date.now(), swarm: { held?: number, uploaded?: number } = {}): boolean {
    const c = this.clients.get(clientId)
    if (c == null || c.peerId !== peerId) return false
    Object.assign(c, { state, round, lastSeen: now, online: true, held: swarm.held, uploaded: swarm.uploaded })
    return true
  }

  disconnected (peerId: string): void {
    for (const c of this.clients.values()) if (c.peerId === peerId) c.online = false
  }

  get (clientId: string): ClientEntry | undefined { return this.clients.get(clientId) }

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

  list (): ClientEntry[] { return [...this.clients.values()].sort((a, b) => a.partition - b.partition) }
}
