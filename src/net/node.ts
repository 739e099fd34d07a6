import '../polyfill.js'
import { createLibp2p } from 'libp2p'
import type { Libp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { TopicValidatorResult, gossipsub } from '@libp2p/gossipsub'
import type { GossipSub } from '@libp2p/gossipsub'
import type { Identify } from '@libp2p/identify'
import type { PeerId, PrivateKey } from '@libp2p/interface'
import { preSharedKey } from '@libp2p/pnet'

export type ControlNode = Libp2p<{ identify: Identify, pubsub: GossipSub }>

/** Gossipsub messages never carry tensors; this caps them. */
export const MAX_GOSSIP_BYTES = 4 * 1024 * 1024

/** Flow-control window per stream: enough for a 10 GbE link with ~3 ms RTT. */
export const STREAM_WINDOW = 4 * 1024 * 1024
/** The largest frame a framed stream takes (frames.ts); a stream is paused once more than that waits unread. */
export const MAX_FRAME_BYTES = 4 << 20
/**
 * What a stream may buffer unread. yamux grants window as data arrives, not as it is read, so when a stream is
 * paused (at a frame's worth unread) the sender may still hold a whole window: a frame, plus the window, plus slack.
 */
export const STREAM_READ_BUFFER = MAX_FRAME_BYTES + (64 << 10) + STREAM_WINDOW + (512 << 10)

/** A libp2p node for the control plane: TCP (+ pre-shared key) + noise + yamux, identify, gossipsub (signed messages). */
export async function createControlNode (opts: { host: string, port: number, privateKey?: PrivateKey, psk?: Uint8Array }): Promise<ControlNode> {
  return await createLibp2p({
    ...(opts.privateKey != null ? { privateKey: opts.privateKey } : {}),
    // A private network: connections open only between peers holding the job's key.
    ...(opts.psk != null ? { connectionProtector: preSharedKey({ psk: opts.psk }) } : {}),
    addresses: { listen: [`/ip4/${opts.host}/tcp/${opts.port}`] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    // A stream's unread data is capped (STREAM_READ_BUFFER); yamux must never have more than that in flight.
    streamMuxers: [yamux({ streamOptions: { maxStreamWindowSize: STREAM_WINDOW, maxReadBufferLength: STREAM_READ_BUFFER } })],
    connectionMonitor: { enabled: false },
    // In a swarm-upload round every selected client connects to every other at once (and on one host they all come
    // from 127.0.0.1): libp2p's defaults (5 connections a second per host, 10 handshakes pending) refuse most of them.
    connectionManager: { inboundConnectionThreshold: 100, maxIncomingPendingConnections: 128 },
    services: {
      identify: identify(),
      pubsub: gossipsub({ allowPublishToZeroTopicPeers: true, emitSelf: false, maxInboundDataLength: MAX_GOSSIP_BYTES, heartbeatInterval: 500 })
    }
  })
}

/**
 * Gossip on `topic` is delivered and relayed only when signed by `publisher()` (the job's server): a member of the
 * network that forges round messages cannot use the other peers to spread them. Before the publisher is known,
 * messages are ignored (dropped without blame).
 */
export function acceptOnlyFrom (node: ControlNode, topic: string, publisher: () => PeerId | undefined, onReject?: (from: PeerId | undefined) => void): void {
  node.services.pubsub.topicValidators.set(topic, (_relay, msg) => {
    const want = publisher()
    if (want == null) return TopicValidatorResult.Ignore
    if (msg.type === 'signed' && msg.from.equals(want)) return TopicValidatorResult.Accept
    onReject?.(msg.type === 'signed' ? msg.from : undefined)
    return TopicValidatorResult.Reject
  })
}
