import type { Connection, Stream } from '@libp2p/interface'
import { InvalidInputError, errorMessage } from '../../errors.js'
import type { Logger } from '../../logger.js'
import { framed } from '../../net/frames.js'
import { endStream } from '../../net/end-stream.js'
import { transferGuard } from '../../net/transfer-guard.js'
import { answerUpdate, readUpdate, readUpdateHeader } from '../../control/update.js'
import type { ClientRegistry } from '../client-registry.js'
import type { UpdateIntake } from '../update-intake.js'
import { withinHeaderTime } from './header-time.js'
import { refusalReason } from '../update-metrics.js'
import type { UpdateMetrics } from '../update-metrics.js'

export interface UpdateContext {
  registry: ClientRegistry
  /** the open round's intake, if a round is open */
  intake: () => UpdateIntake | undefined
  /** invalid updates after which a client is excluded (0: never) */
  maxRejectedUpdates: number
  /** a client's weight in the aggregate: its partition's sample count, never what it declares */
  weight: (clientId: string) => number
  /** when an update's bytes count as stalled */
  stall: { stallMs: number, minBytesPerS: number }
  metrics: UpdateMetrics
  log: Logger
  signal: AbortSignal
}

/**
 * `/bt-ps/update/1.0.0`: refuses on the header alone (no round, not logged in from this peer, excluded, not
 * selected, round full), else hands the bytes to the round's intake; invalid content counts against the client.
 */
export async function handleUpdate (ctx: UpdateContext, stream: Stream, conn: Connection): Promise<void> {
  const { registry, log } = ctx
  const lp = framed(stream)
  const header = await withinHeaderTime(ctx.signal, async signal => await readUpdateHeader(lp, signal))
  const intake = ctx.intake()
  const refusal = intake == null ? 'no round is open' : registry.updateRefusal(header.clientId, conn.remotePeer.toString()) ?? intake.refusal(header)
  if (intake == null || refusal !== undefined) {
    log.info('update refused', { client: header.clientId, round: header.round, reason: refusal })
    ctx.metrics.refuse(registry.get(header.clientId)?.excluded === true ? 'excluded' : 'refused')
    await answerUpdate(lp, { accepted: false, reason: refusal })
    await endStream(stream)
    return
  }
  // Until a staging buffer is free the sender may send only what yamux already granted: server memory stays a few
  // models however many clients upload at once.
  if (stream.readStatus === 'readable') stream.pause()
  try {
    await intake.take(header, ctx.weight(header.clientId), async (staging, roundOver) => {
      if (stream.readStatus === 'paused') stream.resume()
      const guard = transferGuard([ctx.signal, roundOver], { ...ctx.stall, what: `update from ${header.clientId}` })
      // Progress is bytes off the network, not whole frames: a 1 MiB frame on a shared link takes seconds.
      const onBytes = (evt: { data: { byteLength: number } }): void => { guard.count(evt.data.byteLength) }
      stream.addEventListener('message', onBytes)
      try {
        return await readUpdate(lp, intake.maxUpdateBytes, guard.signal, staging)
      } catch (err) {
        throw guard.signal.aborted ? guard.signal.reason : err
      } finally {
        stream.removeEventListener('message', onBytes)
        guard.release()
      }
    })
  } catch (err) {
    log.warn('update rejected', { client: header.clientId, round: header.round, reason: errorMessage(err) })
    ctx.metrics.refuse(refusalReason(err))
    // Invalid content counts against the client; a broken stream or a closed round does not.
    if (err instanceof InvalidInputError && err.code !== 'UPDATE_REFUSED') registry.countInvalid(header.clientId, ctx.maxRejectedUpdates, log)
    await answerUpdate(lp, { accepted: false, reason: errorMessage(err) }).catch(() => {})
    await endStream(stream)
    return
  }
  ctx.metrics.accept('direct')
  log.info('update accepted', { client: header.clientId, round: header.round, samples: header.samples, n: intake.accepted.length })
  await answerUpdate(lp, { accepted: true })
  await endStream(stream)
}
