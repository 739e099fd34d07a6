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

/** Resolves with `promise`, or rejects with TIMEOUT after `ms` / ABORTED when `signal` fires. */
export async function withTimeout<T> (promise: Promise<T>, ms: number, what: string, signal?: AbortSignal): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  let onAbort: (() => void) | undefined
  const limit = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => { reject(new BtpsError('TIMEOUT', `${what} timed out after ${ms} ms`)) }, ms)
    onAbort = () => { reject(new BtpsError('ABORTED', `${what} aborted`)) }
    signal?.addEventListener('abort', onAbort, { once: true })
  })
  try {
    return await Promise.race([promise, limit])
  } finally {
    clearTimeout(timer)
    if (onAbort != null) signal?.removeEventListener('abort', onAbort)
  }
}
