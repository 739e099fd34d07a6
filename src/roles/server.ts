import { join } from 'node:path'
import type { Config } from '../config/schema.js'
import type { Logger } from '../logger.js'
import { ParameterServer } from '../server/parameter-server.js'
import { AdminApi } from '../server/admin-api.js'
import { loadOrCreateAdminToken } from '../server/admin-token.js'
import { announceReady, runUntilSignal } from '../cli/lifecycle.js'
import { metricsRegistry } from '../prometheus/registry.js'
import { ProcessMetrics } from '../prometheus/process-metrics.js'

export interface ServerRoleOptions {
  /** Rounds queued at once (they wait for clients). */
  autoRounds?: number
}

/** `bt-ps server`: the server peer and its admin API, until SIGINT/SIGTERM. */
export async function runServer (config: Config, log: Logger, opts: ServerRoleOptions = {}): Promise<void> {
  const metrics = metricsRegistry('server')
  const processMetrics = new ProcessMetrics(metrics)
  const server = new ParameterServer({ log: log.child({ component: 'server' }), metrics }, config)
  await server.start()
  const tokenFile = config.server.adminTokenFile !== '' ? config.server.adminTokenFile : join(config.server.checkpointDir, config.job.id, 'admin-token')
  let admin: AdminApi
  try {
    admin = new AdminApi({ server, log: log.child({ component: 'admin' }) }, loadOrCreateAdminToken(tokenFile), { metricsPublic: config.server.metricsPublic === 'yes' })
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
  const stopping = runUntilSignal(log, async () => { await admin.stop(); await server.stop(); processMetrics.stop() })
  announceReady({ role: 'server', peerId: server.peerId, addrs: server.multiaddrs, admin: adminUrl, metrics: `${adminUrl}/metrics`, adminTokenFile: tokenFile, runDir: server.runDir, backend: server.backend?.name })
  await stopping
}
