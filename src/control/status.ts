import { id, int, json, num, oneOf, record } from '../net/validate.js'
import { encodeMessage } from '../net/frames.js'
import type { FramedStream } from '../net/frames.js'

/**
 * Heartbeats: a client's state and round, published on the job's status topic and also sent straight to the server
 * on `/bt-ps/status/1.0.0` (one frame per stream), because gossip alone loses a peer whose gossip stream failed to
 * open (seen with 200 clients).
 */
export const STATUS_PROTOCOL = '/bt-ps/status/1.0.0'
export const statusTopic = (jobId: string): string => `/bt-ps/${jobId}/status/1`

export type ClientState = 'idle' | 'downloading' | 'training' | 'uploading' | 'offline'
export const CLIENT_STATES: readonly ClientState[] = ['idle', 'downloading', 'training', 'uploading', 'offline']
/** `held`: share of the round's model this client holds; `uploaded`: model bytes it sent to other peers this round. */
export interface Heartbeat { type: 'heartbeat', clientId: string, state: ClientState, round: number, held?: number, uploaded?: number }

export function parseHeartbeat (bytes: Uint8Array): Heartbeat {
  const m = record(json(bytes, 'heartbeat'), 'heartbeat', ['type', 'clientId', 'state', 'round', 'held', 'uploaded'])
  oneOf(m.type, 'type', ['heartbeat'] as const)
  return {
    type: 'heartbeat',
    clientId: id(m.clientId, 'clientId'),
    state: oneOf(m.state, 'state', CLIENT_STATES),
    round: int(m.round, 'round'),
    ...(m.held !== undefined ? { held: num(m.held, 'held', 0, 1) } : {}),
    ...(m.uploaded !== undefined ? { uploaded: int(m.uploaded, 'uploaded', 0, Number.MAX_SAFE_INTEGER) } : {})
  }
}

/** The bytes of a heartbeat, the same on the topic and on a stream. */
export const encodeHeartbeat = (hb: Omit<Heartbeat, 'type'>): Uint8Array => encodeMessage({ type: 'heartbeat', clientId: hb.clientId, state: hb.state, round: hb.round, held: hb.held, uploaded: hb.uploaded })

/** Client side: sends a heartbeat (from `encodeHeartbeat`) on a status stream. */
export async function sendHeartbeat (lp: FramedStream, heartbeat: Uint8Array, signal?: AbortSignal): Promise<void> {
  await lp.write(heartbeat, { signal })
}

/** Server side: reads the heartbeat a status stream carries. */
export async function readHeartbeat (lp: FramedStream, signal?: AbortSignal): Promise<Heartbeat> {
  return parseHeartbeat((await lp.read({ signal })).subarray())
}
