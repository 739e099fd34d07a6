import { InvalidInputError } from '../errors.js'
import { id, int, record, str } from '../net/validate.js'
import { readBytes, readJson, writeBytes, writeJson } from '../net/frames.js'
import type { FramedStream } from '../net/frames.js'
import { parseReport } from './report.js'
import type { RateLimiter } from '../net/rate-limiter.js'
import type { ClientReport } from './report.js'

/**
 * `/bt-ps/update/1.0.0`: a client sends its trained model: a JSON header (round, sample count, report), the model
 * file in data frames, then reads the server's ack. The server may refuse on the header alone, answering at once
 * without reading the rest.
 */
export const UPDATE_PROTOCOL = '/bt-ps/update/1.0.0'

export interface UpdateHeader { jobId: string, round: number, clientId: string, samples: number, report: ClientReport }
export interface UpdateAck { accepted: boolean, reason?: string }

export function parseUpdateHeader (v: unknown): UpdateHeader {
  const m = record(v, 'update', ['jobId', 'round', 'clientId', 'samples', 'report'])
  return { jobId: id(m.jobId, 'update.jobId'), round: int(m.round, 'update.round'), clientId: id(m.clientId, 'update.clientId'), samples: int(m.samples, 'update.samples', 1, 1e9), report: parseReport(m.report, 'update.report') }
}

export function parseUpdateAck (v: unknown): UpdateAck {
  const m = record(v, 'update ack', ['accepted', 'reason'])
  if (typeof m.accepted !== 'boolean') throw new InvalidInputError('MESSAGE_INVALID', 'accepted', 'expected a boolean')
  return { accepted: m.accepted, reason: m.reason === undefined ? undefined : str(m.reason, 'reason', 1024) }
}

/**
 * Client side: sends the header and the update and returns the server's ack. The server answers early, and stops
 * reading, when it refuses the header: the ack is read while the bytes are still going out, and a write that fails
 * after that (the server closed the stream) does not hide the answer.
 */
export async function sendUpdate (lp: FramedStream, header: UpdateHeader, update: Uint8Array, signal?: AbortSignal, limiter?: RateLimiter): Promise<UpdateAck> {
  await writeJson(lp, header, signal)
  const ack = lp.read({ signal }).then(frame => parseUpdateAck(JSON.parse(new TextDecoder().decode(frame.subarray()))))
  await Promise.race([writeBytes(lp, update, signal, limiter).catch(() => {}), ack])
  return await ack
}

/** Server side: reads the header; the update follows (`readUpdate`) unless the server refuses it (`answerUpdate`). */
export async function readUpdateHeader (lp: FramedStream, signal?: AbortSignal): Promise<UpdateHeader> {
  return parseUpdateHeader(await readJson(lp, 'update', signal))
}

/** Server side: reads the update's data frames into `into`, never beyond `maxBytes`; `onFrame` counts progress. */
export async function readUpdate (lp: FramedStream, maxBytes: number, signal?: AbortSignal, into?: Uint8Array, onFrame?: (bytes: number) => void): Promise<Uint8Array> {
  return await readBytes(lp, maxBytes, 'update.model', signal, into, onFrame)
}

/** Server side: the ack, also for a refusal on the header alone. */
export async function answerUpdate (lp: FramedStream, ack: UpdateAck): Promise<void> {
  await writeJson(lp, ack)
}
