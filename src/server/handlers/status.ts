import type { Connection, Stream } from '@libp2p/interface'
import { errorMessage } from '../../errors.js'
import type { Logger } from '../../logger.js'
import { framed } from '../../net/frames.js'
import type { FramedStream } from '../../net/frames.js'
import { endStream } from '../../net/end-stream.js'
import { parseHeartbeats } from '../../control/status.js'
import type { Heartbeat } from '../../control/status.js'
import type { ClientRegistry } from '../client-registry.js'
import { withinHeaderTime } from './header-time.js'

export interface StatusContext {
  registry: ClientRegistry
  signal: AbortSignal
  /** counts each message and its bytes (the heartbeat load) */
  counted?: (bytes: number) => void
}

/**
 * Applies each heartbeat of a message (one, or a process's batch) that `peerId` holds the id of; returns the ids it
 * does not hold (unknown, or bound to another key), whose heartbeats are ignored.
 */
export function applyHeartbeats (registry: ClientRegistry, peerId: string, heartbeats: readonly Heartbeat[], now = Date.now()): string[] {
  const ignored: string[] = []
  for (const hb of heartbeats) if (!registry.heartbeat(hb.clientId, peerId, hb.state, hb.round, now, hb)) ignored.push(hb.clientId)
  return ignored
}

/**
 * `/bt-ps/status/1.0.0`: heartbeats (each one, or a batch), a frame each, for as long as the client keeps the stream
 * open; one stream per client process, not one per heartbeat. Gossip alone loses peers whose gossip stream failed to
 * open (seen with 200 clients).
 */
export async function handleStatus (ctx: StatusContext, stream: Stream, conn: Connection): Promise<void> {
  const lp = framed(stream)
  const peer = conn.remotePeer.toString()
  let data: Uint8Array | undefined = await withinHeaderTime(ctx.signal, async signal => (await lp.read({ signal })).subarray())
  while (data != null) {
    ctx.counted?.(data.byteLength)
    applyHeartbeats(ctx.registry, peer, parseHeartbeats(data))
    data = await nextFrame(lp, ctx.signal)
  }
  await endStream(stream)
}

/**
 * The next frame, or undefined once the stream is over: closed by the peer, reset, its connection gone, or the
 * server stopping. A client that goes away is not an error; a frame over the size limit is.
 */
async function nextFrame (lp: FramedStream, signal: AbortSignal): Promise<Uint8Array | undefined> {
  try {
    return (await lp.read({ signal })).subarray()
  } catch (err) {
    if ((err as Error).name.startsWith('InvalidDataLength')) throw err
    return undefined
  }
}

/** A heartbeat or a batch from the status topic (`from` is its signer); a malformed one is dropped whole with a warning. */
export function handleHeartbeatGossip (ctx: { registry: ClientRegistry, log: Logger, counted?: (bytes: number) => void }, from: string, data: Uint8Array): void {
  ctx.counted?.(data.byteLength)
  let heartbeats: Heartbeat[]
  try {
    heartbeats = parseHeartbeats(data)
  } catch (err) {
    ctx.log.warn('dropped malformed heartbeat', { peer: from, reason: errorMessage(err) })
    return
  }
  const ignored = applyHeartbeats(ctx.registry, from, heartbeats)
  // One line per message, however many identities it carries.
  if (ignored.length > 0) ctx.log.debug('heartbeat from unknown client', { client: ignored[0], ...(ignored.length > 1 ? { unknown: ignored.length } : {}) })
}
