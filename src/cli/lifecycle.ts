import type { Logger } from '../logger.js'
import { errorMessage } from '../errors.js'

/** Prints the machine-readable line a launcher (or a person) waits for: `{"event":"ready",...}` on stdout. */
export function announceReady (fields: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify({ event: 'ready', ...fields }) + '\n')
}

/** SIGINT/SIGTERM → stop the service (children in reverse order) → exit 0; docker stop relies on this. */
export async function runUntilSignal (log: Logger, stop: () => Promise<void>): Promise<void> {
  await new Promise<void>(resolve => {
    const onSignal = (sig: string): void => {
      log.info('stopping', { signal: sig })
      process.off('SIGINT', onSignal); process.off('SIGTERM', onSignal)
      stop().catch((err: unknown) => { log.error('stop failed', { reason: errorMessage(err) }) }).finally(resolve)
    }
    process.on('SIGINT', onSignal)
    process.on('SIGTERM', onSignal)
  })
}
