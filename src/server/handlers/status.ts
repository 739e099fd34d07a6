import type { Connection, Stream } from '@libp2p/interface'
import { errorMessage } from '../../errors.js'
import type { Logger } from '../../logger.js'
import { framed } from '../../net/frames.js'
import { endStream } from '../../net/end-stream.js'
import { parseHeartbeat, readHeartbeat } from '../../control/status.js'
import type { ClientRegistry } from '../client-registry.js'
import { withinHeaderTime } from './header-time.js'

export interface StatusContext {
  registry: ClientRegistry
  signal: AbortSignal
}

/** `/bt-ps/status/1.0.0`: a heartbeat on its own stream. Gossip alone loses peers whose gossip stream failed to open (seen with 200). */
export async function handleStatus (ctx: StatusContext, stream: Stream, conn: Connection): Promise<void> {
  const hb = await withinHeaderTime(ctx.signal, async signal => await readHeartbeat(framed(stream), signal))
  ctx.registry.heartbeat(hb.clientId, conn.remotePeer.toString(), hb.state, hb.round, Date.now(), hb)
  await endStream(stream)
}

/** A heartbeat from the status topic (`from` is its signer); a malformed one is dropped with a warning. */
export function handleHeartbeatGossip (ctx: { registry: ClientRegistry, log: Logger }, from: string, data: Uint8Array): void {
  try {
    const hb = parseHeartbeat(data)
    if (!ctx.registry.heartbeat(hb.clientId, from, hb.state, hb.round, Date.now(), hb)) ctx.log.debug('heartbeat from unknown client', { client: hb.clientId })
  } catch (err) {
    ctx.log.warn('dropped malformed heartbeat', { peer: from, reason: errorMessage(err) })
  }
}
