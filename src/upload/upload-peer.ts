import type { Connection, PeerId, Stream } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { errorMessage } from '../errors.js'
import type { Logger } from '../logger.js'
import { sleep, withTimeout } from '../abort.js'
import { shardChecks, shardRanges } from '../aggregation/shards.js'
import type { ShardRange } from '../aggregation/shards.js'
import { CONTRIBUTION_PROTOCOL, sendContribution } from '../control/contribution.js'
import type { Contribution } from '../control/contribution.js'
import { REDUCE_PROTOCOL, parseReduceRequest } from '../control/reduce.js'
import { SHARD_FETCH_PROTOCOL, SHARD_PROTOCOL, answerShardFetch, parseShardFetchRequest, parseShardHeader, sendShard } from '../control/shard.js'
import { framed, readJson, writeJson } from '../net/frames.js'
import type { ControlNode } from '../net/node.js'
import type { UpdateAck } from '../control/update.js'
import type { RoundPeer } from './round-peers.js'
import type { RateLimiter } from '../net/rate-limiter.js'
import { ShardOwner } from './shard-owner.js'

/**
 * Shards a contributor sends at once. Every selected client sending to every other at once puts N² TCP flows on N
 * links; past ~8 per link, flows on shallow-buffered links starve for seconds at a time.
 */
const SENDS_AT_ONCE = 8

/** Tries per shard before it is left to the server's fetch. */
const SEND_ATTEMPTS = 3

/**
 * Runs `fn` for indices 0..n-1 starting at `first` (mod n), `atOnce` at a time, so contributors start at different
 * owners. Settles like Promise.allSettled, in index order.
 */
async function inTurn (n: number, first: number, atOnce: number, fn: (i: number) => Promise<void>): Promise<Array<PromiseSettledResult<void>>> {
  const out = new Array<PromiseSettledResult<void>>(n)
  let next = 0
  const worker = async (): Promise<void> => {
    for (let k = next++; k < n; k = next++) {
      const i = (first + k) % n
      try { await fn(i); out[i] = { status: 'fulfilled', value: undefined } } catch (reason) { out[i] = { status: 'rejected', reason } }
    }
  }
  await Promise.all(Array.from({ length: Math.min(atOnce, n) }, worker))
  return out
}

interface Session {
  /** the client id of this process the round selected (one per peer in a swarm-upload round) */
  clientId: string
  /** its device profile's uplink, shared with the swarm (undefined: no cap) */
  uplink?: RateLimiter
  owner?: ShardOwner
  ranges: ShardRange[]
  /** this client's own update, flat, kept until the round is over so the server can fetch a shard of it */
  update?: Float32Array
}

/**
 * A client's part in `job.upload: swarm`: owns one shard of each round it is selected for (keeps what the other
 * contributors send of it, reduces it on the server's request), and sends its own update as shards to their owners.
 * One round at a time: a newer announcement drops the older round's shards. In a process of many client ids, the
 * one the round selected (the server plans swarm upload only with one client per peer).
 */
export class UploadPeer {
  private readonly log: Logger
  private readonly node: ControlNode
  private readonly server: () => PeerId | undefined
  private readonly signal: AbortSignal
  private readonly idleMs: number
  private session?: Session & { round: number }

  constructor (components: { log: Logger, node: ControlNode, signal: AbortSignal }, init: { server: () => PeerId | undefined, idleMs: number }) {
    this.log = components.log
    this.node = components.node
    this.signal = components.signal
    this.server = init.server
    this.idleMs = init.idleMs
  }

  async start (): Promise<void> {
    const guard = (name: string, fn: (stream: Stream, conn: Connection) => Promise<void>) => async (stream: Stream, conn: Connection): Promise<void> => {
      try {
        await fn(stream, conn)
        await stream.close()
      } catch (err) {
        this.log.warn(`${name}: dropped stream`, { peer: conn.remotePeer.toString(), reason: errorMessage(err) })
        stream.abort(err instanceof Error ? err : new Error(errorMessage(err)))
      }
    }
    // Per connection: a contributor sends one shard to each owner per round (a resend may overlap); the server asks an
    // owner for its mean once per round, and a contributor for at most every shard of a round whose owners vanished.
    await this.node.handle(SHARD_PROTOCOL, guard('shard', async (s, c) => { await this.onShard(s, c) }), { maxInboundStreams: 8 })
    await this.node.handle(REDUCE_PROTOCOL, guard('reduce', async (s, c) => { await this.onReduce(s, c) }), { maxInboundStreams: 4 })
    await this.node.handle(SHARD_FETCH_PROTOCOL, guard('shard fetch', async (s, c) => { await this.onFetch(s, c) }), { maxInboundStreams: 256 })
  }

  /** A round selected `clientId`: from now on it takes shards of the shard it owns. */
  begin (round: { jobId: string, round: number, clientId: string, uplink?: RateLimiter, elements: number, peers: readonly RoundPeer[] }): void {
    this.drop()
    const { clientId } = round
    const ranges = shardRanges(round.elements, round.peers.length)
    const mine = round.peers.findIndex(p => p.clientId === clientId)
    const senders = new Map(round.peers.map(p => [p.clientId, p.peerId]))
    const owner = mine >= 0 ? new ShardOwner({ jobId: round.jobId, round: round.round, shard: mine, range: ranges[mine], senders }) : undefined
    this.session = { round: round.round, clientId, uplink: round.uplink, ranges, owner }
    this.connectAhead(clientId, round.peers)
  }

  /**
   * Connects to the other owners while the round downloads and trains, a few at a time: left to the moment the
   * shards go out, every client's handshakes with every other would all fall at once.
   */
  private connectAhead (clientId: string, peers: readonly RoundPeer[]): void {
    const queue = peers.filter(p => p.clientId !== clientId && p.addr != null).map(p => p.addr as string)
    const next = async (): Promise<void> => {
      for (let addr = queue.shift(); addr != null && !this.signal.aborted; addr = queue.shift()) {
        await withTimeout(this.signal, this.idleMs, async signal => await this.node.dial(multiaddr(addr), { signal })).catch(() => {})
      }
    }
    for (let i = 0; i < 4; i++) void next()
  }

  /** This peer now holds the round's model (flat), so its shard's checks can be made. */
  hold (round: number, global: Float32Array, locate: (flatIndex: number) => string): void {
    const s = this.session
    if (s?.round !== round || s.owner == null) return
    s.owner.hold(global.slice(s.owner.range.start, s.owner.range.end), locate)
  }

  /**
   * Declares the update to the server; when it is admitted, sends each shard to its owner (all at once). A shard
   * that cannot be delivered is left to the server, which fetches it from here while the round lasts.
   */
  async contribute (round: { jobId: string, round: number, peers: readonly RoundPeer[] }, update: Float32Array, global: Float32Array, declared: Omit<Contribution, 'shards'>, signal: AbortSignal): Promise<UpdateAck> {
    const s = this.session
    if (s?.round !== round.round || s.clientId !== declared.clientId) return { accepted: false, reason: `round ${round.round} is no longer open here` }
    s.update = update
    const server = this.server()
    if (server == null) return { accepted: false, reason: 'not logged in' }
    const t0 = performance.now()
    const shards = shardChecks(update, global, s.ranges)
    const lp = framed(await this.node.dialProtocol(server, CONTRIBUTION_PROTOCOL, { signal }))
    const ack = await sendContribution(lp, { ...declared, shards }, signal)
    await lp.unwrap().close().catch(() => {})
    this.log.info('contribution declared', { round: round.round, accepted: ack.accepted, seconds: ((performance.now() - t0) / 1000).toFixed(2) })
    if (!ack.accepted) return ack
    const mine = round.peers.findIndex(p => p.clientId === s.clientId)
    const sent = await inTurn(round.peers.length, mine + 1, SENDS_AT_ONCE, async (shard) => {
      const owner = round.peers[shard]
      const values = update.subarray(s.ranges[shard].start, s.ranges[shard].end)
      if (owner.clientId === s.clientId) { s.owner?.keepOwn(s.clientId, values); return }
      if (owner.addr == null) throw new Error('it gave no address')
      const addr = multiaddr(owner.addr)
      // A stream that could not be opened or broke off is tried again (the owner takes a resend of a broken
      // transfer); an owner's refusal is final. Each failed shard would cost the server a fetch of it from everyone.
      for (let attempt = 1; ; attempt++) {
        let answer
        try {
          const stream = await withTimeout(signal, this.idleMs, async sig => await this.node.dialProtocol(addr, SHARD_PROTOCOL, { signal: sig }))
          answer = await sendShard(framed(stream), { jobId: round.jobId, round: round.round, clientId: s.clientId, shard, elements: values.length }, values, { signal, idleMs: this.idleMs, limiter: s.uplink })
          await stream.close().catch(() => {})
        } catch (err) {
          if (signal.aborted || attempt >= SEND_ATTEMPTS) throw err
          this.log.debug('shard transfer failed; trying again', { round: round.round, shard, owner: owner.clientId, attempt, reason: errorMessage(err) })
          await sleep(1000 * attempt, signal)
          continue
        }
        if (!answer.accepted) throw new Error(`owner ${owner.clientId} refused shard ${shard}: ${answer.reason ?? ''}`)
        this.log.debug('shard delivered', { round: round.round, shard, owner: owner.clientId, attempt, seconds: ((performance.now() - t0) / 1000).toFixed(2) })
        return
      }
    })
    const failed = sent.flatMap((r, shard) => r.status === 'rejected' ? [`${shard} (${round.peers[shard].clientId}): ${errorMessage(r.reason)}`] : [])
    if (failed.length > 0) this.log.warn('shards not delivered; the server can fetch them from here', { round: round.round, shards: failed.join('; ') })
    this.log.info('shards sent', { round: round.round, owners: round.peers.length - failed.length, seconds: ((performance.now() - t0) / 1000).toFixed(2) })
    return ack
  }

  private async onShard (stream: Stream, conn: Connection): Promise<void> {
    const lp = framed(stream)
    const t0 = performance.now()
    const header = parseShardHeader(await withTimeout(this.signal, this.idleMs, async signal => await readJson(lp, 'shard', signal)))
    const owner = this.session?.owner
    const ack = owner == null ? { accepted: false, reason: `no shard of round ${header.round} is kept here` } : await owner.receive(lp, header, conn.remotePeer.toString(), { signal: this.signal, idleMs: this.idleMs })
    if (!ack.accepted) this.log.warn('shard refused', { round: header.round, from: header.clientId, shard: header.shard, reason: ack.reason })
    else this.log.debug('shard received', { round: header.round, from: header.clientId, shard: header.shard, seconds: ((performance.now() - t0) / 1000).toFixed(2) })
    await writeJson(lp, ack, this.signal)
  }

  /** Only the server may ask for a reduce or a fetch. */
  private fromServer (conn: Connection): boolean {
    return this.server()?.equals(conn.remotePeer) === true
  }

  private async onReduce (stream: Stream, conn: Connection): Promise<void> {
    const lp = framed(stream)
    const req = parseReduceRequest(await withTimeout(this.signal, this.idleMs, async signal => await readJson(lp, 'reduce', signal)))
    const owner = this.session?.owner
    if (!this.fromServer(conn) || owner == null) {
      await writeJson(lp, { ok: false, missing: req.contributors.map(c => c.clientId), invalid: [] }, this.signal)
      return
    }
    await owner.reduce(lp, req, this.signal)
  }

  private async onFetch (stream: Stream, conn: Connection): Promise<void> {
    const lp = framed(stream)
    const req = parseShardFetchRequest(await withTimeout(this.signal, this.idleMs, async signal => await readJson(lp, 'shard fetch', signal)))
    const s = this.session
    const range = s?.ranges[req.shard]
    const answer = !this.fromServer(conn)
      ? 'only the server may fetch shards'
      : s?.round !== req.round || s.update == null || range == null ? `no update of round ${req.round} is kept here` : s.update.subarray(range.start, range.end)
    await answerShardFetch(lp, answer, this.signal)
  }

  /** Forgets the current round's shards and update. */
  drop (): void {
    this.session?.owner?.drop()
    this.session = undefined
  }
}
