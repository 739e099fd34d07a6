import type { Connection, Stream } from '@libp2p/interface'
import { BtpsError, errorMessage } from '../../errors.js'
import { framed } from '../../net/frames.js'
import { endStream } from '../../net/end-stream.js'
import { answerReceipt, readReceipt } from '../../control/receipt.js'
import type { ClientRegistry } from '../client-registry.js'
import type { UpdateIntake } from '../update-intake.js'
import { withinHeaderTime } from './header-time.js'
import { refusalReason } from '../update-metrics.js'
import type { UpdateMetrics } from '../update-metrics.js'

export interface ReceiptContext {
  registry: ClientRegistry
  /** the open round's intake, if a round is open */
  intake: () => UpdateIntake | undefined
  metrics: UpdateMetrics
  signal: AbortSignal
}

/** `/bt-ps/receipt/1.0.0` (`task: distribute`): records that a client holds the round's model. */
export async function handleReceipt (ctx: ReceiptContext, stream: Stream, conn: Connection): Promise<void> {
  const lp = framed(stream)
  const receipt = await withinHeaderTime(ctx.signal, async signal => await readReceipt(lp, signal))
  const intake = ctx.intake()
  try {
    if (intake == null) throw new BtpsError('UPDATE_REFUSED', 'no round is open')
    if (ctx.registry.get(receipt.clientId)?.peerId !== conn.remotePeer.toString()) throw new BtpsError('UPDATE_REFUSED', `${receipt.clientId} is not logged in from this peer`)
    intake.receipt(receipt)
    ctx.metrics.accept('receipt')
    await answerReceipt(lp, { accepted: true })
  } catch (err) {
    ctx.metrics.refuse(refusalReason(err))
    await answerReceipt(lp, { accepted: false, reason: errorMessage(err) })
  }
  await endStream(stream)
}
