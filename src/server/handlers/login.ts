import type { Connection, Stream } from '@libp2p/interface'
import type { Logger } from '../../logger.js'
import { framed } from '../../net/frames.js'
import { endStream, streamClosed } from '../../net/end-stream.js'
import { answerLogin, readLoginRequest } from '../../control/login.js'
import type { ClientRegistry } from '../client-registry.js'
import { dialAddress } from '../../upload/round-peers.js'
import { withinHeaderTime } from './header-time.js'

export interface LoginContext {
  registry: ClientRegistry
  job: { id: string, clients: number }
  /** the last finished round, which a (re)connecting client compares with its own */
  round: () => number
  log: Logger
  signal: AbortSignal
  /** after a login that bound an id to a key: the bindings are saved beside the checkpoint */
  bound: () => void
  /** after a login was answered and both ends of its stream closed (the client has taken in the answer) */
  loggedIn?: (clientId: string) => void
}

/** `/bt-ps/login/1.0.0`: admits a client to a data partition, or refuses (id bound to another key, full job) saying why. */
export async function handleLogin (ctx: LoginContext, stream: Stream, conn: Connection): Promise<void> {
  const lp = framed(stream)
  const req = await withinHeaderTime(ctx.signal, async signal => await readLoginRequest(lp, signal))
  const peerId = conn.remotePeer.toString()
  const addr = req.listenPort != null ? dialAddress(conn.remoteAddr.toString(), req.listenPort, peerId) : undefined
  const outcome = ctx.registry.login(req.clientId, peerId, req.backend, addr)
  if (!outcome.ok) {
    ctx.log.warn('login refused', { client: req.clientId, peer: peerId, reason: outcome.reason })
    await answerLogin(lp, { ok: false, reason: `job ${ctx.job.id}: ${outcome.reason}`, ...(outcome.retryAfterS != null ? { retryAfterS: outcome.retryAfterS } : {}) })
  } else {
    const { entry, bound } = outcome
    if (bound === 'rebound') ctx.log.warn('client id moved to a new peer key after its holder went silent', { client: req.clientId, peer: peerId })
    ctx.log.info('client logged in', { client: req.clientId, partition: entry.partition, backend: req.backend })
    if (bound !== 'same') ctx.bound()
    await answerLogin(lp, { ok: true, jobId: ctx.job.id, partition: entry.partition, partitions: ctx.job.clients, round: ctx.round() })
  }
  await endStream(stream)
  if (!outcome.ok || ctx.loggedIn == null) return
  // The client closes its end once it has taken in the answer (or endStream resets it after its grace).
  await streamClosed(stream)
  ctx.loggedIn(req.clientId)
}
