import type { Config } from '../config/schema.js'
import type { Logger } from '../logger.js'
import { ClientPeer } from '../client/client-peer.js'
import { announceReady, runUntilSignal } from '../cli/lifecycle.js'
import { metricsRegistry } from '../prometheus/registry.js'
import { ProcessMetrics } from '../prometheus/process-metrics.js'
import { MetricsListener } from '../prometheus/metrics-listener.js'

/** `bt-ps client` (one client id) and `bt-ps clients` (client.count ids in one process), until SIGINT/SIGTERM. */
export async function runClient (config: Config, log: Logger): Promise<void> {
  const metrics = metricsRegistry('client')
  const processMetrics = new ProcessMetrics(metrics)
  const client = new ClientPeer({ log: log.child({ component: 'client', client: config.client.id !== '' ? config.client.id : undefined }), metrics }, config)
  const listener = config.client.metricsPort >= 0 ? new MetricsListener(metrics) : undefined
  const stopping = runUntilSignal(log, async () => { await listener?.stop(); await client.stop(); processMetrics.stop() })
  await client.start()
  await listener?.start(config.client.host, config.client.metricsPort)
  const metricsUrl = listener != null ? `http://${config.client.host}:${listener.port}/metrics` : undefined
  const ids = client.clientIds
  announceReady({ role: 'client', clientId: client.clientId, ...(ids.length > 1 ? { clients: ids.length, lastClientId: ids[ids.length - 1] } : {}), peerId: client.peerId, addrs: client.multiaddrs, partition: client.partitionIndex, backend: client.backend?.name, metrics: metricsUrl })
  await stopping
}
