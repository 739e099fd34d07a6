import { BtpsError } from '../errors.js'
import { id, int, record } from '../net/validate.js'
import { readBytes, readJson, writeBytes, writeJson } from '../net/frames.js'
import type { FramedStream } from '../net/frames.js'
import type { RateLimiter } from '../net/rate-limiter.js'

/**
 * `/bt-ps/model/1.0.0` (`transfer: ps`): a selected client asks for the round's model; the server answers
 * `{ok, bytes}` and streams the model file in data frames, or refuses with a reason.
 */
export const MODEL_PROTOCOL = '/bt-ps/model/1.0.0'

export interface ModelRequest { jobId: string, round: number }

export function parseModelRequest (v: unknown): ModelRequest {
  const m = record(v, 'model request', ['jobId', 'round'])
  return { jobId: id(m.jobId, 'jobId'), round: int(m.round, 'round') }
}

/** Client side: asks for round `req.round`'s model and reads it (at most `maxBytes`); a refusal throws DOWNLOAD_FAILED. */
export async function fetchModel (lp: FramedStream, req: ModelRequest, maxBytes: number, signal?: AbortSignal): Promise<Uint8Array> {
  await writeJson(lp, req, signal)
  const head = await readJson(lp, 'model response', signal) as { ok?: boolean, reason?: string }
  if (head?.ok !== true) throw new BtpsError('DOWNLOAD_FAILED', `server: ${String(head?.reason)}`)
  return await readBytes(lp, maxBytes, 'model', signal)
}

/** Server side: reads a model request. */
export async function readModelRequest (lp: FramedStream, signal?: AbortSignal): Promise<ModelRequest> {
  return parseModelRequest(await readJson(lp, 'model request', signal))
}

/** Server side: refuses a model request. */
export async function refuseModel (lp: FramedStream, reason: string): Promise<void> {
  await writeJson(lp, { ok: false, reason })
}

/**
 * Server side: sends the model (through `limiter` when given). `onFrame` hears of each data frame as it is handed to
 * the stream: the client may hold the model (and report it) before the last write resolves.
 */
export async function sendModel (lp: FramedStream, blob: Uint8Array, signal?: AbortSignal, limiter?: RateLimiter, onFrame?: (bytes: number) => void): Promise<void> {
  await writeJson(lp, { ok: true, bytes: blob.byteLength })
  await writeBytes(lp, blob, signal, limiter, onFrame)
}
