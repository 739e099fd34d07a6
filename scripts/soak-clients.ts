/**
 * Many light clients in one process for `npm run bench:soak`: real ClientPeers on a distribution-only job (no
 * tfjs), each with its own libp2p node and BitTorrent listener. Logs warnings and errors to stderr.
 *   node --import tsx scripts/soak-clients.ts --config FILE --first N --count M
 */
import { parseArgs } from 'node:util'
import { ClientPeer } from '../src/client/client-peer.js'
import { loadConfig } from '../src/config/load.js'
import { createLogger } from '../src/logger.js'
import { errorMessage } from '../src/errors.js'
import { announceReady, runUntilSignal } from '../src/cli/lifecycle.js'

const { values } = parseArgs({ options: { config: { type: 'string' }, first: { type: 'string', default: '1' }, count: { type: 'string', default: '50' } } })
const config = await loadConfig({ file: values.config, env: process.env })
const first = Number(values.first)
const count = Number(values.count)
const log = createLogger({ level: 'warn', base: { role: 'soak-clients' } })
process.on('unhandledRejection', (reason) => { log.error('unhandled rejection', { reason: errorMessage(reason) }) })
const clients: ClientPeer[] = []
let stopped = false
const stopping = runUntilSignal(log, async () => { stopped = true; await Promise.all(clients.map(async c => { await c.stop() })) })
// A signal during the staggered start ends the starting too: no client is started after the others were stopped.
for (let i = first; i < first + count && !stopped; i++) {
  const id = `soak-${String(i).padStart(3, '0')}`
  const client = new ClientPeer({ log: log.child({ client: id }) }, { ...config, client: { ...config.client, id } })
  clients.push(client)
  // Staggered, as a cluster's clients would come up; a failed start is an error to count, not a reason to stop.
  await client.start().catch((err: unknown) => { log.error('client failed to start', { client: id, reason: errorMessage(err) }) })
}
if (!stopped) announceReady({ role: 'soak-clients', first, count })
await stopping
