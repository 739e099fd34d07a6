import { InvalidInputError } from '../errors.js'
import { hex, id, int, json, list, num, oneOf, record, str } from './validate.js'

/** Every control message bt-ps exchanges, with the parser that admits it from the network. */
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
}
export interface RoundEnd { type: 'round-end', jobId: string, round: number, accepted: string[], reason: string }
export type RoundMessage = RoundAnnouncement | RoundEnd
export type ClientState = 'idle' | 'downloading' | 'training' | 'uploading'
export const CLIENT_STATES: readonly ClientState[] = ['idle', 'downloading', 'training', 'uploading']
export interface Heartbeat { type: 'heartbeat', clientId: string, state: ClientState, round: number }

export interface LoginRequest { clientId: string, backend: string }
export interface LoginResponse { ok: true, jobId: string, partition: number, partitions: number, round: number }
export interface LoginRefusal { ok: false, reason: string }

export interface ClientReport {
  downloadS: number
  computeS: number
  bytesFromServer: number
  bytesFromPeers: number
  bytesUploadedToPeers: number
  utility: number
  meanLoss: number
  backend: string
  /** Wall-clock ms when the client held the verified model (distribution benchmarks compare it to the announcement). */
  heldAt?: number
}
export interface UpdateHeader { jobId: string, round: number, clientId: string, samples: number, report: ClientReport }
/** In `distribute` rounds a client only confirms it holds the verified model. */
export interface Receipt { jobId: string, round: number, clientId: string, report: ClientReport }
export interface UpdateAck { accepted: boolean, reason?: string }
export interface ModelRequest { jobId: string, round: number }

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
  const a = record(m, 'round', ['type', 'jobId', 'round', 'transfer', 'bytes', 'sha256', 'magnet', 'serverPeerId', 'serverPort', 'selected', 'deadline', 'hyper'])
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
  if (transfer === 'bt') {
    const magnet = str(a.magnet, 'magnet', 4096)
    if (!magnet.startsWith('magnet:?')) return parseError('magnet', 'expected a magnet link')
    out.magnet = magnet
    out.serverPeerId = hex(a.serverPeerId, 'serverPeerId', 40)
    out.serverPort = int(a.serverPort, 'serverPort', 1, 65535)
  }
  return out
}

function parseError (field: string, message: string): never {
  throw new InvalidInputError('MESSAGE_INVALID', field, message)
}

export function parseHeartbeat (bytes: Uint8Array): Heartbeat {
  const m = record(json(bytes, 'heartbeat'), 'heartbeat', ['type', 'clientId', 'state', 'round'])
  oneOf(m.type, 'type', ['heartbeat'] as const)
  return { type: 'heartbeat', clientId: id(m.clientId, 'clientId'), state: oneOf(m.state, 'state', CLIENT_STATES), round: int(m.round, 'round') }
}

export function parseLoginRequest (v: unknown): LoginRequest {
  const m = record(v, 'login', ['clientId', 'backend'])
  return { clientId: id(m.clientId, 'clientId'), backend: str(m.backend, 'backend', 64) }
}

export function parseLoginResponse (v: unknown): LoginResponse | LoginRefusal {
  const m = record(v, 'login response')
  if (m.ok === false) return { ok: false, reason: str(m.reason, 'reason', 1024) }
  const r = record(m, 'login response', ['ok', 'jobId', 'partition', 'partitions', 'round'])
  const partitions = int(r.partitions, 'partitions', 1, 1e6)
  return { ok: true, jobId: id(r.jobId, 'jobId'), partition: int(r.partition, 'partition', 0, partitions - 1), partitions, round: int(r.round, 'round') }
}

export function parseReport (v: unknown, f = 'report'): ClientReport {
  const r = record(v, f, ['downloadS', 'computeS', 'bytesFromServer', 'bytesFromPeers', 'bytesUploadedToPeers', 'utility', 'meanLoss', 'backend', 'heldAt'])
  const report: ClientReport = {
    downloadS: num(r.downloadS, `${f}.downloadS`, 0, 1e7),
    computeS: num(r.computeS, `${f}.computeS`, 0, 1e7),
    bytesFromServer: int(r.bytesFromServer, `${f}.bytesFromServer`),
    bytesFromPeers: int(r.bytesFromPeers, `${f}.bytesFromPeers`),
    bytesUploadedToPeers: int(r.bytesUploadedToPeers, `${f}.bytesUploadedToPeers`),
    utility: num(r.utility, `${f}.utility`, 0),
    meanLoss: num(r.meanLoss, `${f}.meanLoss`, 0),
    backend: str(r.backend, `${f}.backend`, 64)
  }
  if (r.heldAt !== undefined) report.heldAt = int(r.heldAt, `${f}.heldAt`)
  return report
}

export function parseUpdateHeader (v: unknown): UpdateHeader {
  const m = record(v, 'update', ['jobId', 'round', 'clientId', 'samples', 'report'])
  return { jobId: id(m.jobId, 'update.jobId'), round: int(m.round, 'update.round'), clientId: id(m.clientId, 'update.clientId'), samples: int(m.samples, 'update.samples', 1, 1e9), report: parseReport(m.report, 'update.report') }
}

export function parseReceipt (v: unknown): Receipt {
  const m = record(v, 'receipt', ['jobId', 'round', 'clientId', 'report'])
  return { jobId: id(m.jobId, 'receipt.jobId'), round: int(m.round, 'receipt.round'), clientId: id(m.clientId, 'receipt.clientId'), report: parseReport(m.report, 'receipt.report') }
}

export function parseUpdateAck (v: unknown): UpdateAck {
  const m = record(v, 'update ack', ['accepted', 'reason'])
  if (typeof m.accepted !== 'boolean') return parseError('accepted', 'expected a boolean')
  return { accepted: m.accepted, reason: m.reason === undefined ? undefined : str(m.reason, 'reason', 1024) }
}

export function parseModelRequest (v: unknown): ModelRequest {
  const m = record(v, 'model request', ['jobId', 'round'])
  return { jobId: id(m.jobId, 'jobId'), round: int(m.round, 'round') }
}

export const encodeMessage = (m: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(m))
