import { InvalidInputError } from '../errors.js'
import { hex, id, int, json, list, num, oneOf, record, str } from '../net/validate.js'
import { encodeMessage } from '../net/frames.js'
import type { FramedStream } from '../net/frames.js'
import { parseUploadPlan } from '../upload/round-peers.js'
import type { UploadPlan } from '../upload/round-peers.js'

/**
 * Round messages: the server's signed announcement of a round and its end, published on the job's rounds topic and
 * also sent straight to each selected client on `/bt-ps/round/1.0.0` (one frame per stream), because gossipsub
 * silently stops sending to a peer whose outbound stream failed to open. Clients act only on the server's.
 */
export const ROUND_PROTOCOL = '/bt-ps/round/1.0.0'
export const roundsTopic = (jobId: string): string => `/bt-ps/${jobId}/rounds/1`

export interface Hyper { localEpochs: number, batchSize: number, learningRate: number, mu: number }
export interface RoundAnnouncement {
  type: 'round'
  jobId: string
  round: number
  transfer: 'bt' | 'ps'
  bytes: number
  sha256: string
  /** Set in `bt` mode: the swarm to join, and the server's BitTorrent peer (id, port) to dial directly. */
  magnet?: string
  serverPeerId?: string
  serverPort?: number
  selected: string[]
  deadline: number
  hyper: Hyper
  /** Set with `job.upload: swarm`: how the update is cut and who owns each shard (the selected clients, in order). */
  upload?: UploadPlan
}
export interface RoundEnd { type: 'round-end', jobId: string, round: number, accepted: string[], reason: string }
export type RoundMessage = RoundAnnouncement | RoundEnd

const MAX_SELECTED = 100000

function parseHyper (v: unknown, f: string): Hyper {
  const h = record(v, f, ['localEpochs', 'batchSize', 'learningRate', 'mu'])
  return {
    localEpochs: int(h.localEpochs, `${f}.localEpochs`, 1, 1000),
    batchSize: int(h.batchSize, `${f}.batchSize`, 1, 65536),
    learningRate: num(h.learningRate, `${f}.learningRate`, 0, 100),
    mu: num(h.mu, `${f}.mu`, 0, 100)
  }
}

export function parseRoundMessage (bytes: Uint8Array): RoundMessage {
  const m = record(json(bytes, 'round message'), 'round message')
  const type = oneOf(m.type, 'type', ['round', 'round-end'] as const)
  if (type === 'round-end') {
    const e = record(m, 'round-end', ['type', 'jobId', 'round', 'accepted', 'reason'])
    return { type, jobId: id(e.jobId, 'jobId'), round: int(e.round, 'round'), accepted: list(e.accepted, 'accepted', MAX_SELECTED, id), reason: str(e.reason, 'reason') }
  }
  const a = record(m, 'round', ['type', 'jobId', 'round', 'transfer', 'bytes', 'sha256', 'magnet', 'serverPeerId', 'serverPort', 'selected', 'deadline', 'hyper', 'upload'])
  const transfer = oneOf(a.transfer, 'transfer', ['bt', 'ps'] as const)
  const out: RoundAnnouncement = {
    type,
    jobId: id(a.jobId, 'jobId'),
    round: int(a.round, 'round'),
    transfer,
    bytes: int(a.bytes, 'bytes', 1, 2 ** 40),
    sha256: hex(a.sha256, 'sha256', 64),
    selected: list(a.selected, 'selected', MAX_SELECTED, id),
    deadline: int(a.deadline, 'deadline'),
    hyper: parseHyper(a.hyper, 'hyper')
  }
  if (a.upload !== undefined) {
    const plan = parseUploadPlan(a.upload)
    if (plan.peers.map(p => p.clientId).join(',') !== out.selected.join(',')) throw new InvalidInputError('MESSAGE_INVALID', 'upload.peers', 'must name the selected clients, in order')
    out.upload = plan
  }
  if (transfer === 'bt') {
    const magnet = str(a.magnet, 'magnet', 4096)
    if (!magnet.startsWith('magnet:?')) throw new InvalidInputError('MESSAGE_INVALID', 'magnet', 'expected a magnet link')
    out.magnet = magnet
    out.serverPeerId = hex(a.serverPeerId, 'serverPeerId', 40)
    out.serverPort = int(a.serverPort, 'serverPort', 1, 65535)
  }
  return out
}

/** The bytes of a round message, the same on the topic and on a direct stream. */
export const encodeRoundMessage = (m: RoundMessage): Uint8Array => encodeMessage(m)

/** Server side: sends a round message (from `encodeRoundMessage`) on a round stream. */
export async function sendRoundNotice (lp: FramedStream, message: Uint8Array, signal?: AbortSignal): Promise<void> {
  await lp.write(message, { signal })
}

/**
 * Client side: reads the round message a round stream carries, unparsed: the receiver checks who sent it before it
 * parses anything.
 */
export async function readRoundNotice (lp: FramedStream, signal?: AbortSignal): Promise<Uint8Array> {
  return (await lp.read({ signal })).subarray()
}
