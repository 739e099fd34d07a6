import type { Connection, Stream } from '@libp2p/interface'
import type { Logger } from '../../logger.js'
import { framed } from '../../net/frames.js'
import { answerLogin, readLoginRequest } from '../../control/login.js'
import type { ClientRegistry } from '../client-registry.js'
import { dialAddress } from '../../upload/round-peers.js'

export interface LoginContext {
  registry: ClientRegistry
  job: { id: string, clients: number }
  /** the last finished round, which a (re)connecting client compares with its own */
  round: () => number
  log: Logger
  signal: AbortSignal
}

/** `/bt-ps/login/1.0.0`: admits a client to a data partition, or refuses when every partition is taken. */
export async function handleLogin (ctx: LoginContext, stream: Stream, conn: Connection): Promise<void> {
  const lp = framed(stream)
  const req = await readLoginRequest(lp, ctx.signal)
  const peerId = conn.remotePeer.toString()
  const addr = req.listenPort != null ? dialAddress(conn.remoteAddr.toString(), req.listenPort, peerId) : undefined
  const entry = ctx.registry.login(req.clientId, peerId, req.backend, addr)
  if (entry == null) {
    await answerLogin(lp, { ok: false, reason: `all ${ctx.job.clients} partitions of job ${ctx.job.id} are taken` })
  } else {
    ctx.log.info('client logged in', { client: req.clientId, partition: entry.partition, backend: req.backend })
    await answerLogin(lp, { ok: true, jobId: ctx.job.id, partition: entry.partition, partitions: ctx.job.clients, round: ctx.round() })
  }
  await stream.close()
}
