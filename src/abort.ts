import { setMaxListeners } from 'node:events'
import { BtpsError } from './errors.js'

/** Sleeps `ms`, rejecting with ABORTED as soon as `signal` fires. */
export async function sleep (ms: number, signal?: AbortSignal): Promise<void> {
  signal?.throwIfAborted()
  await new Promise<void>((resolve, reject) => {
    const onAbort = (): void => { clearTimeout(timer); reject(new BtpsError('ABORTED', 'aborted')) }
    const timer = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve() }, ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

/**
 * An AbortController that also aborts when `parent` does; `release()` unlinks it from `parent` once the work is done.
 * Used instead of `AbortSignal.any([parent, ...])`: Node 20 keeps every signal made that way in a set on the
 * long-lived parent until the parent itself goes, so one per heartbeat grew the server's heap without bound.
 */
export function childController (parent: AbortSignal): { controller: AbortController, release: () => void } {
  const controller = new AbortController()
  const onAbort = (): void => { controller.abort(parent.reason) }
  if (parent.aborted) onAbort()
  else parent.addEventListener('abort', onAbort, { once: true })
  return { controller, release: () => { parent.removeEventListener('abort', onAbort) } }
}

/** Runs `fn` with a signal that fires when `parent` does or after `ms` (a TimeoutError, like `AbortSignal.timeout`). */
export async function withTimeout<T> (parent: AbortSignal, ms: number, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const { controller, release } = childController(parent)
  const timer = setTimeout(() => { controller.abort(new DOMException(`timed out after ${ms} ms`, 'TimeoutError')) }, ms)
  try {
    return await fn(controller.signal)
  } finally {
    clearTimeout(timer)
    release()
  }
}

/** The controller of a peer's whole life: every timed operation in flight (a heartbeat, a notice per client) listens on it. */
export function lifetimeController (): AbortController {
  const controller = new AbortController()
  setMaxListeners(0, controller.signal)
  return controller
}

/** `p`, or ABORTED as soon as `signal` fires: `p` goes on, and what it gives then is left to its other listeners. */
export async function raceAbort<T> (p: Promise<T>, signal: AbortSignal): Promise<T> {
  signal.throwIfAborted()
  let onAbort = (): void => {}
  const aborted = new Promise<never>((_resolve, reject) => {
    onAbort = () => { reject(new BtpsError('ABORTED', 'aborted')) }
    signal.addEventListener('abort', onAbort, { once: true })
  })
  try {
    return await Promise.race([p, aborted])
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
}
