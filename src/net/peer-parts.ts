import type * as TF from '@tensorflow/tfjs'
import type { ControlNode } from './node.js'
import type { SwarmPeer } from '../swarm/swarm-peer.js'

/** What a server or client peer holds open: stopped libp2p first, then the swarm, then the model's memory. */
export interface PeerParts { node?: ControlNode, swarm?: SwarmPeer, model?: TF.LayersModel }

export async function releasePeerParts (parts: PeerParts): Promise<void> {
  await Promise.resolve(parts.node?.stop()).catch(() => {})
  await parts.swarm?.stop().catch(() => {})
  parts.model?.dispose()
}
