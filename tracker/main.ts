/**
 * The tracker role's entry point. `bt-ps tracker` runs the same composition (src/roles/tracker.ts); this file also
 * runs on its own: `node --import tsx tracker/main.ts [bt-ps tracker flags]`. Nothing under src/ imports it.
 */
import type { Config } from '../src/config/schema.js'
import type { Logger } from '../src/logger.js'
import { runTracker } from '../src/roles/tracker.js'
import { isEntryPoint } from '../src/cli/entry-point.js'
import { main as cli } from '../src/cli/main.js'

export async function main (config: Config, log: Logger): Promise<void> {
  await runTracker(config, log)
}

if (isEntryPoint(import.meta.url)) process.exitCode = await cli(['tracker', ...process.argv.slice(2)])
