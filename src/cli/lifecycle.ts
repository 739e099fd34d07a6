import { rmSync, writeFileSync } from 'node:fs'
import type { Logger } from '../logger.js'
import { errorMessage } from '../errors.js'

const HEALTH_TOUCH_MS = 5000
let health: { file: string, timer?: NodeJS.Timeout } | undefined

/** Makes a ready role touch `file` every 5 s until it stops; docker/healthcheck.mjs reads its age. '' turns it off. */
export function useHealthFile (file: string): void {
  health = file === '' ? undefined : { file }
}

function touchHealthFile (): void {
  if (health == null) return
  try {
    writeFileSync(health.file, String(Date.now()))
  } catch (err) {
    process.stderr.write(`cannot write health file ${health.file}: ${errorMessage(err)}\n`)
    clearInterval(health.timer)
    health = undefined
  }
}

/**
 * Prints the machine-readable line a launcher (or a person) waits for: `{"event":"ready",...}` on stdout. The health
 * file is written first: a parent that sees the line may look for the file at once.
 */
export function announceReady (fields: Record<string, unknown>): void {
  if (health != null && health.timer == null) {
    touchHealthFile()
    if (health != null) health.timer = setInterval(touchHealthFile, HEALTH_TOUCH_MS).unref()
  }
  process.stdout.write(JSON.stringify({ event: 'ready', ...fields }) + '\n')
}

/** SIGINT/SIGTERM → stop the service (children in reverse order) → exit 0; docker stop relies on this. */
export async function runUntilSignal (log: Logger, stop: () => Promise<void>): Promise<void> {
  await new Promise<void>(resolve => {
    const onSignal = (sig: string): void => {
      log.info('stopping', { signal: sig })
      process.off('SIGINT', onSignal); process.off('SIGTERM', onSignal)
      if (health != null) { clearInterval(health.timer); rmSync(health.file, { force: true }); health = undefined }
      stop().catch((err: unknown) => { log.error('stop failed', { reason: errorMessage(err) }) }).finally(resolve)
    }
    process.on('SIGINT', onSignal)
    process.on('SIGTERM', onSignal)
  })
}
