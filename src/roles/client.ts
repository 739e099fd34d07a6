import type { Config } from '../config/schema.js'
import type { Logger } from '../logger.js'
import { ClientPeer } from '../client/client-peer.js'
import { announceReady, runUntilSignal } from '../cli/lifecycle.js'

/** `bt-ps client`: one client peer, until SIGINT/SIGTERM. */
export async function runClient (config: Config, log: Logger): Promise<void> {
  const client = new ClientPeer({ log: log.child({ component: 'client', client: config.client.id !== '' ? config.client.id : undefined }) }, config)
  const stopping = runUntilSignal(log, async () => { await client.stop() })
  await client.start()
  announceReady({ role: 'client', clientId: client.clientId, peerId: client.peerId, addrs: client.multiaddrs, partition: client.partitionIndex, backend: client.backend?.name })
  await stopping
}
