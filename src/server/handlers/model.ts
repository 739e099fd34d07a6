import type { Connection, Stream } from '@libp2p/interface'
import { framed } from '../../net/frames.js'
import { endStream } from '../../net/end-stream.js'
import type { RateLimiter } from '../../net/rate-limiter.js'
import { readModelRequest, refuseModel, sendModel } from '../../control/model.js'
import type { ClientRegistry } from '../client-registry.js'
import type { UpdateIntake } from '../update-intake.js'
import { withinHeaderTime } from './header-time.js'

export interface ModelContext {
  registry: ClientRegistry
  /** the open round's intake and model file, if a round is open */
  round: () => { intake?: UpdateIntake, blob?: Uint8Array }
  /** counts model bytes as they are handed to a stream (the round's server egress in `ps` mode) */
  countEgress: (bytes: number) => void
  limiter?: RateLimiter
  signal: AbortSignal
}

/** `/bt-ps/model/1.0.0` (`transfer: ps`): the open round's model, to the clients it selected only. */
export async function handleModel (ctx: ModelContext, stream: Stream, conn: Connection): Promise<void> {
  const lp = framed(stream)
  const req = await withinHeaderTime(ctx.signal, async signal => await readModelRequest(lp, signal))
  const { intake, blob } = ctx.round()
  // The peer gets the model when any id it holds was selected (a process running many identities fetches it once).
  const ids = ctx.registry.idsOf(conn.remotePeer.toString())
  if (intake == null || intake.closed || blob == null || req.round !== intake.round || ![...ids].some(id => intake.selected.has(id))) {
    await refuseModel(lp, `no model for round ${req.round} for this peer`)
  } else {
    // Counted as handed to the stream: the client may hold the model (and report it) before the last write resolves.
    // Stops when the round closes: the next round's model is written into the same buffer.
    await sendModel(lp, blob, AbortSignal.any([ctx.signal, intake.signal]), ctx.limiter, ctx.countEgress)
  }
  await endStream(stream)
}
