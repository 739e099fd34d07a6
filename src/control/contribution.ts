import { readJson, writeJson } from '../net/frames.js'
import type { FramedStream } from '../net/frames.js'
import { parseReport } from './report.js'
import type { ClientReport } from './report.js'
import { parseUpdateAck } from './update.js'
import type { UpdateAck } from './update.js'
import { hex, id, int, list, num, oneOf, record, str } from '../net/validate.js'
import type { ShardCheck } from '../aggregation/shards.js'

/**
 * `/bt-ps/contribution/1.0.0` (`job.upload: swarm`): a client that finished training tells the server, in a small
 * message, that its update is ready: the update's layout, and per shard the checks its owner will hold the bytes to.
 * The server admits the first K, applies the norm bound to the declared squared distances, and answers; only an
 * admitted client sends its shards to their owners.
 */
export const CONTRIBUTION_PROTOCOL = '/bt-ps/contribution/1.0.0'

export interface DeclaredTensor { name: string, shape: number[], dtype: 'float32' | 'int32' }
export interface Contribution { jobId: string, round: number, clientId: string, report: ClientReport, tensors: DeclaredTensor[], shards: ShardCheck[] }

const MAX_TENSORS = 100000
const MAX_SHARDS = 100000

function parseDeclaredTensor (v: unknown, f: string): DeclaredTensor {
  const t = record(v, f, ['name', 'shape', 'dtype'])
  return { name: str(t.name, `${f}.name`, 256), shape: list(t.shape, `${f}.shape`, 8, (d, g) => int(d, g, 0, 2 ** 31)), dtype: oneOf(t.dtype, `${f}.dtype`, ['float32', 'int32'] as const) }
}

const parseShardCheck = (v: unknown, f: string): ShardCheck => { const c = record(v, f, ['sha256', 'sumSq']); return { sha256: hex(c.sha256, `${f}.sha256`, 64), sumSq: num(c.sumSq, `${f}.sumSq`, 0) } }

export function parseContribution (v: unknown): Contribution {
  const m = record(v, 'contribution', ['jobId', 'round', 'clientId', 'report', 'tensors', 'shards'])
  return {
    jobId: id(m.jobId, 'update.jobId'),
    round: int(m.round, 'update.round'),
    clientId: id(m.clientId, 'update.clientId'),
    report: parseReport(m.report, 'update.report'),
    tensors: list(m.tensors, 'update.tensors', MAX_TENSORS, parseDeclaredTensor),
    shards: list(m.shards, 'update.shards', MAX_SHARDS, parseShardCheck)
  }
}

/** Client side: declares the contribution and returns the server's answer. */
export async function sendContribution (lp: FramedStream, c: Contribution, signal?: AbortSignal): Promise<UpdateAck> {
  await writeJson(lp, c, signal)
  return parseUpdateAck(await readJson(lp, 'contribution ack', signal))
}

/** Server side: reads the declaration (the answer goes back with `writeJson`). */
export async function readContribution (lp: FramedStream, signal?: AbortSignal): Promise<Contribution> {
  return parseContribution(await readJson(lp, 'contribution', signal))
}
