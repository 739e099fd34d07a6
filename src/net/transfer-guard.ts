import { BtpsError } from '../errors.js'

export interface TransferGuard {
  /** aborts when the transfer stalls, trickles, or any parent aborts */
  signal: AbortSignal
  /** records `bytes` more received */
  count: (bytes: number) => void
  /** stops watching (always call it) */
  release: () => void
}

/**
 * Watches one incoming transfer (an update, a shard): gives it up when its bytes stop coming for `stallMs`, or, once
 * `stallMs` has passed, when they average below `minBytesPerS` (0: no minimum). A sender that sends a header and
 * then nothing, or one byte a second, holds a reader for seconds, not for the round.
 */
export function transferGuard (parents: readonly AbortSignal[], opts: { stallMs: number, minBytesPerS: number, what: string }): TransferGuard {
  const controller = new AbortController()
  const started = Date.now()
  let last = started
  let bytes = 0
  const onAbort = (): void => { controller.abort(new BtpsError('ABORTED', `${opts.what}: the round is over`)) }
  for (const p of parents) {
    if (p.aborted) onAbort()
    else p.addEventListener('abort', onAbort, { once: true })
  }
  const timer = setInterval(() => {
    const now = Date.now()
    if (now - last > opts.stallMs) controller.abort(new BtpsError('TRANSFER_STALLED', `${opts.what}: no bytes for ${((now - last) / 1000).toFixed(1)} s (server.upload_stall_s)`))
    else if (opts.minBytesPerS > 0 && now - started > opts.stallMs && bytes * 1000 / (now - started) < opts.minBytesPerS) {
      controller.abort(new BtpsError('TRANSFER_STALLED', `${opts.what}: ${(bytes * 1000 / (now - started)).toFixed(0)} B/s on average, below the minimum ${opts.minBytesPerS} B/s (server.min_upload_kbps)`))
    }
  }, Math.max(50, Math.min(1000, opts.stallMs / 4)))
  timer.unref()
  return {
    signal: controller.signal,
    count: (n) => { bytes += n; last = Date.now() },
    release: () => { clearInterval(timer); for (const p of parents) p.removeEventListener('abort', onAbort) }
  }
}
