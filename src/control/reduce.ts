import { InvalidInputError } from '../errors.js'
import { readJson, writeJson } from '../net/frames.js'
import type { FramedStream } from '../net/frames.js'
import { hex, id, int, list, num, record, str } from '../net/validate.js'

/**
 * `/bt-ps/reduce/1.0.0`: the server asks a shard's owner for the weighted mean of the committed contributors'
 * values of that shard. The owner answers with a header, the mean as float32 data frames (streamed as soon as
 * every contributor's values for a stretch have arrived), then a trailer: which contributors it covers and their
 * weight sum, or which of them were missing or invalid (the server then commits again without them).
 */
export const REDUCE_PROTOCOL = '/bt-ps/reduce/1.0.0'

export interface Committed { clientId: string, weight: number, sha256: string, sumSq: number }
export interface ReduceRequest { jobId: string, round: number, shard: number, contributors: Committed[], waitMs: number }
export interface Rejected { clientId: string, reason: string }
export type ReduceTrailer =
  | { ok: true, contributors: string[], weightSum: number }
  | { ok: false, missing: string[], invalid: Rejected[] }
export type ReduceHead = { ok: true, elements: number } | { ok: false, missing: string[], invalid: Rejected[] }

const MAX_CONTRIBUTORS = 100000

function parseCommitted (v: unknown, f: string): Committed {
  const c = record(v, f, ['clientId', 'weight', 'sha256', 'sumSq'])
  return { clientId: id(c.clientId, `${f}.clientId`), weight: num(c.weight, `${f}.weight`, Number.MIN_VALUE, 1e12), sha256: hex(c.sha256, `${f}.sha256`, 64), sumSq: num(c.sumSq, `${f}.sumSq`, 0) }
}

const parseRejected = (v: unknown, f: string): Rejected => { const r = record(v, f, ['clientId', 'reason']); return { clientId: id(r.clientId, `${f}.clientId`), reason: str(r.reason, `${f}.reason`, 1024) } }

export function parseReduceRequest (v: unknown): ReduceRequest {
  const m = record(v, 'reduce', ['jobId', 'round', 'shard', 'contributors', 'waitMs'])
  const contributors = list(m.contributors, 'reduce.contributors', MAX_CONTRIBUTORS, parseCommitted)
  if (contributors.length === 0) throw new InvalidInputError('MESSAGE_INVALID', 'reduce.contributors', 'is empty')
  if (new Set(contributors.map(c => c.clientId)).size !== contributors.length) throw new InvalidInputError('MESSAGE_INVALID', 'reduce.contributors', 'names a client twice')
  return { jobId: id(m.jobId, 'reduce.jobId'), round: int(m.round, 'reduce.round'), shard: int(m.shard, 'reduce.shard', 0, 1e6), contributors, waitMs: int(m.waitMs, 'reduce.waitMs', 1, 3_600_000) }
}

function parseFailure (m: Record<string, unknown>, f: string): { ok: false, missing: string[], invalid: Rejected[] } {
  return { ok: false, missing: list(m.missing, `${f}.missing`, MAX_CONTRIBUTORS, id), invalid: list(m.invalid, `${f}.invalid`, MAX_CONTRIBUTORS, parseRejected) }
}

export function parseReduceHead (v: unknown): ReduceHead {
  const m = record(v, 'reduce head', ['ok', 'elements', 'missing', 'invalid'])
  if (m.ok === true) return { ok: true, elements: int(m.elements, 'reduceHead.elements', 0, 2 ** 31) }
  return parseFailure(m, 'reduceHead')
}

export function parseReduceTrailer (v: unknown): ReduceTrailer {
  const m = record(v, 'reduce trailer', ['ok', 'contributors', 'weightSum', 'missing', 'invalid'])
  if (m.ok === true) return { ok: true, contributors: list(m.contributors, 'reduceTrailer.contributors', MAX_CONTRIBUTORS, id), weightSum: num(m.weightSum, 'reduceTrailer.weightSum', 0) }
  return parseFailure(m, 'reduceTrailer')
}

/** Server side: sends the request and reads the head (the data and trailer follow when it is ok). */
export async function requestReduce (lp: FramedStream, req: ReduceRequest, signal?: AbortSignal): Promise<ReduceHead> {
  await writeJson(lp, req, signal)
  return parseReduceHead(await readJson(lp, 'reduce head', signal))
}

export async function readReduceTrailer (lp: FramedStream, signal?: AbortSignal): Promise<ReduceTrailer> {
  return parseReduceTrailer(await readJson(lp, 'reduce trailer', signal))
}

export async function writeReduceMessage (lp: FramedStream, m: ReduceHead | ReduceTrailer, signal?: AbortSignal): Promise<void> {
  await writeJson(lp, m, signal)
}
