import type { UploadPlan } from '../upload/round-peers.js'
import type { ClientEntry } from './client-registry.js'

/**
 * Swarm upload's plan: shard s belongs to the s-th selected client, dialled where it told the server it listens.
 * Owners are dialled by peer id, so each needs a peer of its own: when selected clients share one (a process running
 * many identities) there is no plan (`sharedPeers`: how many peers hold more than one of them), and every client
 * sends its update straight to the server that round.
 */
export function swarmUploadPlan (selected: readonly string[], client: (clientId: string) => Pick<ClientEntry, 'peerId' | 'addr'>, elements: number): { plan?: UploadPlan, sharedPeers: number } {
  const holders = new Map<string, number>()
  const peers = selected.map(clientId => {
    const c = client(clientId)
    holders.set(c.peerId, (holders.get(c.peerId) ?? 0) + 1)
    return { clientId, peerId: c.peerId, ...(c.addr != null ? { addr: c.addr } : {}) }
  })
  if (holders.size < peers.length) return { sharedPeers: [...holders.values()].filter(n => n > 1).length }
  return { plan: { elements, peers }, sharedPeers: 0 }
}
