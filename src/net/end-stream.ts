import type { Stream } from '@libp2p/interface'

/** How long a peer has to close its end once we have closed ours. */
export const END_GRACE_MS = 2000

/**
 * Closes our end of a stream and gives the peer `graceMs` to close its own; a peer that keeps it open has it reset.
 * A stream stays open (and counts against the per-protocol stream cap) until both ends close: without this a peer
 * that never closes would hold its streams, and our buffers, forever. Never throws.
 */
export async function endStream (stream: Stream, graceMs = END_GRACE_MS): Promise<void> {
  try {
    await stream.close()
  } catch {
    stream.abort(new Error('stream could not be closed'))
    return
  }
  if (stream.status !== 'open' && stream.status !== 'closing') return
  const timer = setTimeout(() => { stream.abort(new Error(`peer kept the stream open ${graceMs} ms after it was done`)) }, graceMs)
  timer.unref()
  stream.addEventListener('close', () => { clearTimeout(timer) }, { once: true })
}

/** Resolves once both ends of `stream` are closed (or it was reset or aborted). */
export async function streamClosed (stream: Stream): Promise<void> {
  if (stream.status !== 'open' && stream.status !== 'closing') return
  await new Promise<void>(resolve => { stream.addEventListener('close', () => { resolve() }, { once: true }) })
}
