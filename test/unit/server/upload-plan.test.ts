import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { swarmUploadPlan } from '../../../src/server/upload-plan.js'

const clients: Record<string, { peerId: string, addr?: string }> = {
  a: { peerId: 'P1', addr: '/ip4/10.0.0.1/tcp/1/p2p/P1' },
  b: { peerId: 'P2' },
  c: { peerId: 'P3', addr: '/ip4/10.0.0.3/tcp/1/p2p/P3' },
  d: { peerId: 'P1' },
  e: { peerId: 'P3' }
}
const client = (id: string): { peerId: string, addr?: string } => clients[id]

test('swarm upload: shard owners are the selected clients, in order, when each has a peer of its own', () => {
  assert.equal(swarmUploadPlan(['c', 'a', 'b'], client, 100), {
    plan: { elements: 100, peers: [{ clientId: 'c', peerId: 'P3', addr: '/ip4/10.0.0.3/tcp/1/p2p/P3' }, { clientId: 'a', peerId: 'P1', addr: '/ip4/10.0.0.1/tcp/1/p2p/P1' }, { clientId: 'b', peerId: 'P2' }] },
    sharedPeers: 0
  })
})

test('swarm upload: no plan (updates come directly) when selected clients share a peer, counting the shared peers', () => {
  const rows: Array<[string[], number]> = [
    [['a', 'd'], 1],
    [['a', 'b', 'd'], 1],
    [['a', 'c', 'd', 'e'], 2]
  ]
  for (const [selected, sharedPeers] of rows) assert.equal(swarmUploadPlan(selected, client, 100), { sharedPeers }, selected.join(','))
})

test.run()
