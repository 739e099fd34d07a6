import type { Config } from '../src/config/schema.js'
import type { Logger } from '../src/logger.js'
import { ParameterServer } from '../src/server/parameter-server.js'
import { join } from 'node:path'
import { AdminApi } from '../src/server/admin-api.js'
import { loadOrCreateAdminToken } from '../src/server/admin-token.js'
import { announceReady, runUntilSignal } from '../src/cli/lifecycle.js'

/** `bt-ps server`: the server peer and its admin API. `autoRounds` queues rounds at once (they wait for clients). */
export async function main (config: Config, log: Logger, opts: { autoRounds?: number } = {}): Promise<void> {
  const server = new ParameterServer({ log: log.child({ component: 'server' }) }, config)
  await server.start()
  const tokenFile = config.server.adminTokenFile !== '' ? config.server.adminTokenFile : join(config.server.checkpointDir, config.job.id, 'admin-token')
  let admin: AdminApi
  try {
    admin = new AdminApi({ server, log: log.child({ component: 'admin' }) }, loadOrCreateAdminToken(tokenFile))
  } catch (err) {
    await server.stop()
    throw err
  }
  try {
    await admin.start(config.server.adminHost, config.server.adminPort)
  } catch (err) {
    await server.stop()
    throw err
  }
  const adminUrl = `http://${config.server.adminHost}:${admin.port}`
  log.info('admin api listening', { url: adminUrl, tokenFile })
  // Rounds are queued and signals handled before the ready line: a parent may query or stop the role as soon as it reads it.
  if (opts.autoRounds != null && opts.autoRounds > 0) server.requestRounds(opts.autoRounds)
  const stopping = runUntilSignal(log, async () => { await admin.stop(); await server.stop() })
  announceReady({ role: 'server', peerId: server.peerId, addrs: server.multiaddrs, admin: adminUrl, adminTokenFile: tokenFile, runDir: server.runDir, backend: server.backend?.name })
  await stopping
}
