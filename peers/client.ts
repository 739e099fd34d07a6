/**
 * The client role's entry point. `bt-ps client` runs the same composition (src/roles/client.ts); this file also
 * runs on its own: `node --import tsx peers/client.ts [bt-ps client flags]`. Nothing under src/ imports it.
 */
import type { Config } from '../src/config/schema.js'
import type { Logger } from '../src/logger.js'
import { runClient } from '../src/roles/client.js'
import { isEntryPoint } from '../src/cli/entry-point.js'
import { main as cli } from '../src/cli/main.js'

export async function main (config: Config, log: Logger): Promise<void> {
  await runClient(config, log)
}

if (isEntryPoint(import.meta.url)) process.exitCode = await cli(['client', ...process.argv.slice(2)])
