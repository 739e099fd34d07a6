import type { Connection, Stream } from '@libp2p/interface'
import { InvalidInputError, errorMessage } from '../../errors.js'
import type { Logger } from '../../logger.js'
import { framed, writeJson } from '../../net/frames.js'
import { endStream } from '../../net/end-stream.js'
import { readContribution } from '../../control/contribution.js'
import type { ClientRegistry } from '../client-registry.js'
import type { UpdateIntake } from '../update-intake.js'
import { withinHeaderTime } from './header-time.js'
import { refusalReason } from '../update-metrics.js'
import type { UpdateMetrics } from '../update-metrics.js'

export interface ContributionContext {
  registry: ClientRegistry
  intake: () => UpdateIntake | undefined
  /** shards of the open round (= clients it selected) */
  shards: () => number
  maxRejectedUpdates: number
  weight: (clientId: string) => number
  metrics: UpdateMetrics
  log: Logger
  signal: AbortSignal
}

/**
 * `/bt-ps/contribution/1.0.0` (`job.upload: swarm`): admits a declared update (layout, per-shard checks, the norm
 * bound on the declared squared distances) among the round's first K, or refuses it saying why. Invalid
 * declarations count against the client as invalid updates do in direct mode.
 */
export async function handleContribution (ctx: ContributionContext, stream: Stream, conn: Connection): Promise<void> {
  const { registry, log } = ctx
  const lp = framed(stream)
  const c = await withinHeaderTime(ctx.signal, async signal => await readContribution(lp, signal))
  const intake = ctx.intake()
  const refusal = intake == null ? 'no round is open' : registry.updateRefusal(c.clientId, conn.remotePeer.toString()) ?? intake.refusal(c)
  if (intake == null || refusal !== undefined) {
    log.info('update refused', { client: c.clientId, round: c.round, reason: refusal })
    ctx.metrics.refuse(registry.get(c.clientId)?.excluded === true ? 'excluded' : 'refused')
    await writeJson(lp, { accepted: false, reason: refusal }, ctx.signal)
    await endStream(stream)
    return
  }
  try {
    intake.contribute(c, conn.remotePeer.toString(), ctx.weight(c.clientId), ctx.shards())
  } catch (err) {
    log.warn('update rejected', { client: c.clientId, round: c.round, reason: errorMessage(err) })
    ctx.metrics.refuse(refusalReason(err))
    if (err instanceof InvalidInputError && err.code !== 'UPDATE_REFUSED') registry.countInvalid(c.clientId, ctx.maxRejectedUpdates, log)
    await writeJson(lp, { accepted: false, reason: errorMessage(err) }, ctx.signal)
    await endStream(stream)
    return
  }
  ctx.metrics.accept('swarm')
  log.info('contribution admitted', { client: c.clientId, round: c.round, n: intake.accepted.length })
  await writeJson(lp, { accepted: true }, ctx.signal)
  await endStream(stream)
}
