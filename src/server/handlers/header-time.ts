import { withTimeout } from '../../abort.js'

/**
 * How long a stream may take to send its opening message (login, model request, update header, receipt,
 * contribution, heartbeat): a peer that opens streams and says nothing does not hold them, or the memory behind them.
 */
export const HEADER_TIMEOUT_MS = 10_000

export async function withinHeaderTime<T> (signal: AbortSignal, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  return await withTimeout(signal, HEADER_TIMEOUT_MS, fn)
}
