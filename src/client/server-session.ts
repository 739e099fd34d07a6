import type { Connection, PeerId, Stream } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import type { Config } from '../config/schema.js'
import { BtpsError, errorMessage } from '../errors.js'
import type { Logger } from '../logger.js'
import { sleep, withTimeout } from '../abort.js'
import { acceptOnlyFrom } from '../net/node.js'
import type { ControlNode } from '../net/node.js'
import { framed } from '../net/frames.js'
import type { FramedStream } from '../net/frames.js'
import { LOGIN_PROTOCOL, login } from '../control/login.js'
import type { LoginResponse } from '../control/login.js'
import { ROUND_PROTOCOL, parseRoundMessage, readRoundNotice, roundsTopic } from '../control/round.js'
import type { RoundMessage } from '../control/round.js'
import { STATUS_PROTOCOL, encodeHeartbeats, sendHeartbeat, statusTopic } from '../control/status.js'
import type { ClientState } from '../control/status.js'
import { serverAddress } from './server-address.js'

/** Logins in flight at once when a process logs in many client ids. */
const LOGINS_AT_ONCE = 8

export interface ServerSessionParts {
  config: Config
  /** the client ids this process logs in (one, or many for `bt-ps clients`) */
  clientIds: readonly string[]
  node: ControlNode
  log: Logger
  /** the client's lifetime signal */
  signal: AbortSignal
  /** the backend name the login reports */
  backend: () => string
  /** what a client id's heartbeat says now */
  status: (clientId: string) => { state: ClientState, round: number, held?: number, uploaded?: number }
  /** an accepted login of a client id (before it is logged); returns the size of the data partition it loaded, if any */
  onLogin: (clientId: string, res: LoginResponse) => { samples?: number }
  /** a round message from the job's server, parsed, for this job */
  onRound: (m: RoundMessage) => void
}

/**
 * The client process's session with the job's server: dials and logs in each of its client ids (again after losing
 * the server), sends heartbeats (on one stream to the server, by gossip when that fails; one message for all its ids),
 * and gates round messages:
 * only those signed by (or sent directly from) the server it logged in to are parsed and handed on; others are
 * logged once per peer.
 */
export class ServerSession {
  /** the server's libp2p identity and host, once logged in */
  serverPeer?: PeerId
  serverHost = '127.0.0.1'
  /** peers that sent round messages without being the server (logged once each) */
  private readonly impostors = new Set<string>()
  private heartbeat?: NodeJS.Timeout
  private reconnecting = false
  /** ids whose heartbeat is due and not yet sent: one heartbeat at a time goes out, with all that came due meanwhile */
  private readonly unsent = new Set<string>()
  /** a heartbeat is going out, or one is due on the next tick */
  private sending = false
  /** the stream heartbeats go to the server on, kept open between them */
  private statusStream?: { stream: Stream, lp: FramedStream }
  private readonly p: ServerSessionParts

  constructor (parts: ServerSessionParts) {
    this.p = parts
  }

  /** Listens for round messages, logs in (waiting for the server as long as it takes), then sends heartbeats. */
  async start (): Promise<void> {
    const { node, config } = this.p
    const job = config.job
    node.services.pubsub.subscribe(roundsTopic(job.id))
    acceptOnlyFrom(node, roundsTopic(job.id), () => this.serverPeer, (from) => { this.noteImpostor(from) })
    node.services.pubsub.addEventListener('message', (evt) => { this.onGossip(evt.detail) })
    await node.handle(ROUND_PROTOCOL, async (stream, conn) => {
      try {
        const message = await withTimeout(this.p.signal, 10_000, async signal => await readRoundNotice(framed(stream), signal))
        this.onRoundMessage(conn.remotePeer, message)
      } catch (err) {
        this.p.log.warn('dropped round notice', { peer: conn.remotePeer.toString(), reason: errorMessage(err) })
      }
      await stream.close().catch(() => {})
    })
    node.addEventListener('peer:disconnect', (evt) => {
      if (this.serverPeer != null && evt.detail.equals(this.serverPeer) && !this.p.signal.aborted) {
        // One reconnect at a time: a second disconnect while it runs would log every id in twice.
        if (this.reconnecting) return
        this.p.log.warn('lost the server; reconnecting')
        this.reconnecting = true
        void this.connect()
          .catch((err: unknown) => { if (!this.p.signal.aborted) this.p.log.error('reconnect failed', { reason: errorMessage(err) }) })
          .finally(() => { this.reconnecting = false })
      }
    })
    await this.connect()
    this.heartbeat = setInterval(() => { this.publishStatus() }, config.client.heartbeatS * 1000)
  }

  stop (): void {
    clearInterval(this.heartbeat)
    void this.statusStream?.stream.close().catch(() => {})
    this.statusStream = undefined
  }

  /** Dials the server until it answers, then logs in. */
  private async connect (): Promise<void> {
    const { node, log, signal } = this.p
    const addr = multiaddr(serverAddress(this.p.config.client.server))
    let conn: Connection | undefined
    for (let attempt = 0; conn == null; attempt++) {
      try {
        conn = await withTimeout(signal, 5000, async signal => await node.dial(addr, { signal }))
      } catch (err) {
        if (signal.aborted) throw err
        if (attempt % 10 === 0) log.info('waiting for the server', { addr: addr.toString(), reason: errorMessage(err) })
        await sleep(Math.min(2000, 200 * (attempt + 1)), signal)
      }
    }
    this.serverPeer = conn.remotePeer
    this.serverHost = /\/ip[46]\/([^/]+)/.exec(conn.remoteAddr.toString())?.[1] ?? this.serverHost
    // The port this node listens on: other clients send it shards there (`job.upload: swarm`).
    const listenPort = Number(/\/tcp\/(\d+)/.exec(node.getMultiaddrs()[0]?.toString() ?? '')?.[1] ?? 0)
    const ids = this.p.clientIds
    const refused: string[] = []
    let next = 0
    const worker = async (): Promise<void> => {
      for (let i = next++; i < ids.length; i = next++) {
        // One id refused (a full job, the server's ids-per-peer limit) or whose login broke off leaves the others of
        // this process in the job; a lost connection fails them all, and the reconnect logs every id in again.
        await this.login(conn, ids[i], listenPort).catch((err: unknown) => {
          if (ids.length === 1 || signal.aborted) throw err
          refused.push(`${ids[i]}: ${errorMessage(err)}`)
        })
      }
    }
    await Promise.all(Array.from({ length: Math.min(LOGINS_AT_ONCE, ids.length) }, worker))
    if (refused.length === ids.length) throw new BtpsError('LOGIN_REFUSED', `no client id of this process logged in (${refused[0]})`)
    if (refused.length > 0) log.error('logins failed', { clients: refused.length, first: refused[0] })
    if (ids.length > 1) log.info('logged in', { server: this.serverPeer.toString(), clients: ids.length - refused.length })
    this.publishStatus()
  }

  /** Logs one client id in, waiting out a refusal that may lift. */
  private async login (conn: Connection, clientId: string, listenPort: number): Promise<void> {
    const { log, signal } = this.p
    let res
    let taken: { samples?: number } | undefined
    for (;;) {
      const stream = await conn.newStream(LOGIN_PROTOCOL, { signal })
      res = await login(framed(stream), { clientId, backend: this.p.backend(), ...(listenPort > 0 ? { listenPort } : {}) }, signal)
      // Taken in before the stream closes: once it has, the server may send the open round's notice, which this
      // id must then not take for a round it already had.
      if (res.ok && res.jobId === this.p.config.job.id) taken = this.p.onLogin(clientId, res)
      await stream.close().catch(() => {})
      // A refusal that may lift (this id's previous key still within its heartbeat window, e.g. right after a restart).
      if (res.ok || res.retryAfterS == null) break
      log.warn('login refused; trying again', { client: clientId, reason: res.reason, inS: res.retryAfterS })
      await sleep(res.retryAfterS * 1000 + 500, signal)
    }
    if (!res.ok) throw new BtpsError('LOGIN_REFUSED', `server refused login of ${clientId}: ${res.reason}`)
    if (res.jobId !== this.p.config.job.id) throw new BtpsError('LOGIN_REFUSED', `server runs job ${res.jobId}, not ${this.p.config.job.id}`)
    const { samples } = taken ?? {}
    const line = { client: clientId, server: this.serverPeer?.toString(), partition: res.partition, samples, round: res.round }
    if (this.p.clientIds.length > 1) log.debug('logged in', line)
    else log.info('logged in', line)
  }

  /** A client id's state changed: its heartbeat goes out on the next tick, with those of the others that changed meanwhile. */
  statusChanged (clientId: string): void {
    this.unsent.add(clientId)
    if (this.sending) return
    this.sending = true
    setImmediate(() => { void this.sendDue() })
  }

  /** Sends a heartbeat of `clientIds` (default: all of this process's) now, or after the one going out. */
  publishStatus (clientIds: readonly string[] = this.p.clientIds): void {
    for (const id of clientIds) this.unsent.add(id)
    if (!this.sending) void this.sendDue()
  }

  /** Sends heartbeats while some are due, each saying the state of its ids when it leaves. */
  private async sendDue (): Promise<void> {
    this.sending = true
    try {
      while (this.unsent.size > 0 && !this.p.signal.aborted) {
        const ids = [...this.unsent]
        this.unsent.clear()
        await this.deliver(encodeHeartbeats(ids.map(clientId => ({ clientId, ...this.p.status(clientId) }))))
      }
    } finally {
      this.sending = false
    }
  }

  /**
   * To the server on the status stream, opened once and kept: a stream per heartbeat cost every client process and
   * the server a stream negotiation each time, and gossiping every heartbeat too a signature each (together ~15% of
   * the machine at N = 32). Gossip carries a heartbeat the stream could not, so a client whose stream fails to open
   * still reports; the next heartbeat tries a fresh stream.
   */
  private async deliver (hb: Uint8Array): Promise<void> {
    const { node, signal } = this.p
    const server = this.serverPeer
    try {
      if (server == null) throw new BtpsError('NOT_LOGGED_IN', 'no server yet')
      await withTimeout(signal, 5000, async signal => {
        const s = this.statusStream ?? await this.openStatusStream(server, signal)
        await sendHeartbeat(s.lp, hb, signal)
      })
    } catch (err) {
      this.statusStream?.stream.abort(err instanceof Error ? err : new Error(errorMessage(err)))
      this.statusStream = undefined
      if (signal.aborted) return
      this.p.log.debug('heartbeat sent by gossip', { reason: errorMessage(err) })
      node.services.pubsub.publish(statusTopic(this.p.config.job.id), hb).catch(() => {})
    }
  }

  private async openStatusStream (server: PeerId, signal: AbortSignal): Promise<{ stream: Stream, lp: FramedStream }> {
    const stream = await this.p.node.dialProtocol(server, STATUS_PROTOCOL, { signal })
    const s = { stream, lp: framed(stream) }
    // Closed or reset by the server, or gone with the connection: the next heartbeat opens another.
    stream.addEventListener('close', () => { if (this.statusStream === s) this.statusStream = undefined })
    this.statusStream = s
    return s
  }

  private onGossip (msg: { topic: string, type: string, from?: PeerId, data: Uint8Array }): void {
    if (msg.topic !== roundsTopic(this.p.config.job.id) || msg.type !== 'signed' || msg.from == null) return
    this.onRoundMessage(msg.from, msg.data)
  }

  /** Logs a peer that sent round messages without being the server: once, not once per message it sends. */
  private noteImpostor (from: PeerId | undefined): void {
    const peer = from?.toString() ?? 'unsigned'
    if (this.serverPeer == null || this.impostors.has(peer) || this.impostors.size >= 100) return
    this.impostors.add(peer)
    this.p.log.warn('ignored round message not signed by the job\'s server', { peer, server: this.serverPeer.toString() })
  }

  /** A round message from gossip (`from` is its signer) or a direct stream (`from` is the authenticated peer). */
  private onRoundMessage (from: PeerId, data: Uint8Array): void {
    // Only the job's server may steer rounds.
    if (this.serverPeer == null || !from.equals(this.serverPeer)) { this.noteImpostor(from); return }
    let m
    try {
      m = parseRoundMessage(data)
    } catch (err) {
      this.p.log.warn('dropped malformed round message', { reason: errorMessage(err) })
      return
    }
    if (m.jobId !== this.p.config.job.id) return
    this.p.onRound(m)
  }
}
