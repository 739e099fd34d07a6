/**
 * The server role's entry point. `bt-ps server` runs the same composition (src/roles/server.ts); this file also
 * runs on its own: `node --import tsx peers/server.ts [bt-ps server flags]`. Nothing under src/ imports it.
 */
import type { Config } from '../src/config/schema.js'
import type { Logger } from '../src/logger.js'
import { runServer } from '../src/roles/server.js'
import type { ServerRoleOptions } from '../src/roles/server.js'
import { isEntryPoint } from '../src/cli/entry-point.js'
import { main as cli } from '../src/cli/main.js'

export async function main (config: Config, log: Logger, opts: ServerRoleOptions = {}): Promise<void> {
  await runServer(config, log, opts)
}

if (isEntryPoint(import.meta.url)) process.exitCode = await cli(['server', ...process.argv.slice(2)])
