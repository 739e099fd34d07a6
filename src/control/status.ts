import { id, int, json, list, num, oneOf, record } from '../net/validate.js'
import { encodeMessage } from '../net/frames.js'
import type { FramedStream } from '../net/frames.js'

/**
 * Heartbeats: a client's state and round, sent straight to the server on `/bt-ps/status/1.0.0` (a frame each, on a
 * stream the client keeps open), and published on the job's status topic when that stream fails. Gossip alone lost
 * peers whose gossip stream failed to open (seen with 200 clients).
 */
export const STATUS_PROTOCOL = '/bt-ps/status/1.0.0'
export const statusTopic = (jobId: string): string => `/bt-ps/${jobId}/status/1`

export type ClientState = 'idle' | 'downloading' | 'training' | 'uploading' | 'offline'
export const CLIENT_STATES: readonly ClientState[] = ['idle', 'downloading', 'training', 'uploading', 'offline']
/** `held`: share of the round's model this client holds; `uploaded`: model bytes it sent to other peers this round. */
export interface Heartbeat { type: 'heartbeat', clientId: string, state: ClientState, round: number, held?: number, uploaded?: number }

/**
 * A process that runs many client identities (one libp2p peer) sends their heartbeats as one batch,
 * `{type: 'heartbeats', clients: [{clientId, state, round, held?, uploaded?}, ...]}`, on the topic and on a stream.
 * The frame (MAX_FRAME_BYTES) and gossip (MAX_GOSSIP_BYTES) limits, 4 MiB each, hold about 20,000 entries at their
 * longest; a process runs at most 10,000 ids (client.count), whose batch takes under 2 MB.
 */
export const MAX_HEARTBEAT_BATCH = 100_000
const ENTRY_FIELDS = ['clientId', 'state', 'round', 'held', 'uploaded']

/** One heartbeat's fields; `at` prefixes the field names errors give (`clients[3].state`). */
function heartbeatFields (m: Record<string, unknown>, at: string): Heartbeat {
  return {
    type: 'heartbeat',
    clientId: id(m.clientId, `${at}clientId`),
    state: oneOf(m.state, `${at}state`, CLIENT_STATES),
    round: int(m.round, `${at}round`),
    ...(m.held !== undefined ? { held: num(m.held, `${at}held`, 0, 1) } : {}),
    ...(m.uploaded !== undefined ? { uploaded: int(m.uploaded, `${at}uploaded`, 0, Number.MAX_SAFE_INTEGER) } : {})
  }
}

export function parseHeartbeat (bytes: Uint8Array): Heartbeat {
  const m = record(json(bytes, 'heartbeat'), 'heartbeat', ['type', ...ENTRY_FIELDS])
  oneOf(m.type, 'type', ['heartbeat'] as const)
  return heartbeatFields(m, '')
}

/** A single heartbeat (a one-element list) or a batch; one bad entry makes the whole message invalid, naming it. */
export function parseHeartbeats (bytes: Uint8Array): Heartbeat[] {
  const m = record(json(bytes, 'heartbeat'), 'heartbeat')
  if (oneOf(m.type, 'type', ['heartbeat', 'heartbeats'] as const) === 'heartbeat') return [heartbeatFields(record(m, 'heartbeat', ['type', ...ENTRY_FIELDS]), '')]
  record(m, 'heartbeats', ['type', 'clients'])
  return list(m.clients, 'clients', MAX_HEARTBEAT_BATCH, (v, field) => heartbeatFields(record(v, field, ENTRY_FIELDS), `${field}.`))
}

/** The bytes of a heartbeat, the same on the topic and on a stream. */
export const encodeHeartbeat = (hb: Omit<Heartbeat, 'type'>): Uint8Array => encodeMessage({ type: 'heartbeat', clientId: hb.clientId, state: hb.state, round: hb.round, held: hb.held, uploaded: hb.uploaded })

/**
 * The heartbeats of every identity a process runs, as one message (at most MAX_HEARTBEAT_BATCH). One identity's is
 * exactly `encodeHeartbeat`'s bytes, which servers without batches read.
 */
export function encodeHeartbeats (list: Array<Omit<Heartbeat, 'type'>>): Uint8Array {
  if (list.length === 1) return encodeHeartbeat(list[0])
  return encodeMessage({ type: 'heartbeats', clients: list.map(hb => ({ clientId: hb.clientId, state: hb.state, round: hb.round, held: hb.held, uploaded: hb.uploaded })) })
}

/** Client side: sends a heartbeat (from `encodeHeartbeat`) on a status stream. */
export async function sendHeartbeat (lp: FramedStream, heartbeat: Uint8Array, signal?: AbortSignal): Promise<void> {
  await lp.write(heartbeat, { signal })
}
