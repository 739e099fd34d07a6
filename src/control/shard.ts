import { InvalidInputError } from '../errors.js'
import { childController, withTimeout } from '../abort.js'
import { readJson, writeJson } from '../net/frames.js'
import type { FramedStream } from '../net/frames.js'
import { id, int, record, str } from '../net/validate.js'
import type { RateLimiter } from '../net/rate-limiter.js'
import { bytesOf } from '../aggregation/shards.js'

/**
 * `/bt-ps/shard/1.1.0`: a contributor sends shard s of its update to the shard's owner (peer to peer), and
 * `/bt-ps/shard-fetch/1.0.0`: the server fetches shard s straight from a contributor when the owner failed.
 * Both carry raw little-endian float32 values in data frames after a JSON header; the shard's extent follows from
 * the round (model size and the number of shards), so the header names only which shard it is.
 * On a shard stream the owner paces the sender: it answers with credit frames (`{ credit }`: how many values the
 * sender may have sent in all) and ends with an ack (`{ accepted, reason? }`), which may come early as a refusal.
 */
export const SHARD_PROTOCOL = '/bt-ps/shard/1.1.0'
export const SHARD_FETCH_PROTOCOL = '/bt-ps/shard-fetch/1.0.0'

export interface ShardHeader { jobId: string, round: number, clientId: string, shard: number, elements: number }
export interface ShardFetchRequest { jobId: string, round: number, shard: number }
export type ShardFetchResponse = { ok: true, elements: number } | { ok: false, reason: string }
export interface ShardAck { accepted: boolean, reason?: string }
export interface ShardCredit { credit: number }

const MAX_ELEMENTS = 2 ** 31

export function parseShardHeader (v: unknown): ShardHeader {
  const m = record(v, 'shard', ['jobId', 'round', 'clientId', 'shard', 'elements'])
  return { jobId: id(m.jobId, 'shard.jobId'), round: int(m.round, 'shard.round'), clientId: id(m.clientId, 'shard.clientId'), shard: int(m.shard, 'shard.shard', 0, 1e6), elements: int(m.elements, 'shard.elements', 0, MAX_ELEMENTS) }
}

export function parseShardFetchRequest (v: unknown): ShardFetchRequest {
  const m = record(v, 'shard fetch', ['jobId', 'round', 'shard'])
  return { jobId: id(m.jobId, 'shardFetch.jobId'), round: int(m.round, 'shardFetch.round'), shard: int(m.shard, 'shardFetch.shard', 0, 1e6) }
}

export function parseShardFetchResponse (v: unknown): ShardFetchResponse {
  const m = record(v, 'shard fetch response', ['ok', 'elements', 'reason'])
  if (m.ok === true) return { ok: true, elements: int(m.elements, 'elements', 0, MAX_ELEMENTS) }
  return { ok: false, reason: str(m.reason, 'reason', 1024) }
}

/** What an owner says on a shard stream: more credit, or its final answer. */
export function parseShardReply (v: unknown): ShardCredit | ShardAck {
  const m = record(v, 'shard reply', ['credit', 'accepted', 'reason'])
  if (m.credit !== undefined && m.accepted === undefined) return { credit: int(m.credit, 'shardReply.credit', 0, MAX_ELEMENTS) }
  if (typeof m.accepted !== 'boolean') throw new InvalidInputError('MESSAGE_INVALID', 'shardReply.accepted', 'expected a boolean')
  return { accepted: m.accepted, ...(m.reason !== undefined ? { reason: str(m.reason, 'shardReply.reason', 1024) } : {}) }
}


/**
 * Contributor side: the header, then the values as far as the owner's credit allows, then the owner's answer
 * (which may come early, as a refusal). The owner must keep talking: a frame that cannot leave, or no word from the
 * owner (credit, even unchanged, or its answer), within `idleMs` ends the transfer.
 */
export async function sendShard (lp: FramedStream, header: ShardHeader, values: Float32Array, opts: { signal: AbortSignal, idleMs: number, limiter?: RateLimiter }): Promise<ShardAck> {
  await writeJson(lp, header, opts.signal)
  const { controller, release } = childController(opts.signal)
  let credit = 0
  let heard = Date.now()
  let wake = (): void => {}
  const answer = (async (): Promise<ShardAck> => {
    for (;;) {
      const reply = parseShardReply(await readJson(lp, 'shard reply', controller.signal))
      heard = Date.now()
      if (!('credit' in reply)) return reply
      credit = Math.max(credit, reply.credit)
      wake()
    }
  })()
  answer.catch(() => {})
  const creditAbove = async (sent: number): Promise<number> => {
    while (credit <= sent) {
      const left = opts.idleMs - (Date.now() - heard)
      if (left <= 0) throw new DOMException(`no word from the owner within ${opts.idleMs} ms`, 'TimeoutError')
      await new Promise<void>(resolve => {
        const timer = setTimeout(done, left)
        controller.signal.addEventListener('abort', done, { once: true })
        function done (): void { clearTimeout(timer); controller.signal.removeEventListener('abort', done); resolve() }
        wake = done
      })
      controller.signal.throwIfAborted()
    }
    return credit
  }
  const sending = writeValues(lp, values, { signal: controller.signal, idleMs: opts.idleMs, creditAbove, limiter: opts.limiter })
  sending.catch(() => {})
  let timer: NodeJS.Timeout | undefined
  try {
    await Promise.race([sending, answer.then(() => {})])
    // All sent: the owner answers once it has checked the last frame.
    timer = setTimeout(() => { controller.abort(new DOMException(`no answer within ${opts.idleMs} ms`, 'TimeoutError')) }, opts.idleMs)
    return await answer
  } finally {
    clearTimeout(timer)
    controller.abort()
    release()
  }
}

/** Server side of a fetch: asks for shard `shard` and reads its values into `into` (exactly its length). */
export async function fetchShard (lp: FramedStream, req: ShardFetchRequest, into: Float32Array, opts: { signal?: AbortSignal, idleMs: number, onValues?: (values: Float32Array) => void }): Promise<void> {
  await writeJson(lp, req, opts.signal)
  const res = parseShardFetchResponse(await withTimeout(opts.signal ?? new AbortController().signal, opts.idleMs, async signal => await readJson(lp, 'shard fetch response', signal)))
  if (!res.ok) throw new InvalidInputError('SHARD_UNAVAILABLE', 'shard fetch', res.reason)
  if (res.elements !== into.length) throw new InvalidInputError('SHARD_INVALID', 'shard fetch.elements', `${res.elements}, expected ${into.length}`)
  await readValuesInto(lp, into, { ...opts, field: 'shard' })
}

/** Contributor side of a fetch: answers with the values, or says why not. */
export async function answerShardFetch (lp: FramedStream, values: Float32Array | string, signal?: AbortSignal): Promise<void> {
  if (typeof values === 'string') { await writeJson(lp, { ok: false, reason: values }, signal); return }
  await writeJson(lp, { ok: true, elements: values.length }, signal)
  await writeValues(lp, values, { signal: signal ?? new AbortController().signal })
}

/**
 * Shard data in 64 KiB frames: a receiver gives up on a frame that takes longer than its stall time, and a shard
 * shares its links with many others (an owner receives from every contributor at once).
 */
const SHARD_FRAME_BYTES = 64 * 1024

/**
 * Writes `values` in data frames and the empty end frame. With `creditAbove`, a frame goes out only within the
 * credit it returns (it resolves once the credit exceeds the values sent so far).
 */
async function writeValues (lp: FramedStream, values: Float32Array, opts: { signal: AbortSignal, idleMs?: number, creditAbove?: (sent: number) => Promise<number>, limiter?: RateLimiter }): Promise<void> {
  const bytes = bytesOf(values)
  const write = async (frame: Uint8Array): Promise<void> => {
    await opts.limiter?.take(frame.byteLength, opts.signal)
    if (opts.idleMs == null) await lp.write(frame, { signal: opts.signal })
    else await withTimeout(opts.signal, opts.idleMs, async signal => { await lp.write(frame, { signal }) })
  }
  for (let off = 0; off < bytes.byteLength;) {
    const limit = opts.creditAbove != null ? Math.min(bytes.byteLength, 4 * await opts.creditAbove(off / 4)) : bytes.byteLength
    const end = Math.min(off + SHARD_FRAME_BYTES, limit)
    await write(bytes.subarray(off, end))
    off = end
  }
  await write(new Uint8Array(0))
}

/**
 * Reads data frames into `into` until the empty end frame, calling `onValues` with each run of whole values as it
 * lands (so a reader can verify, reduce or forward while the rest streams). A frame may end mid-value; no more
 * than `into` holds is accepted, and fewer is an error unless `partial` (then the count read is returned). Every
 * frame must arrive within `idleMs` of the last, or of `owedSince()` when given: a reader that paces its sender
 * counts only the time the sender had credit and sent nothing.
 */
export async function readValuesInto (lp: FramedStream, into: Float32Array, opts: { signal?: AbortSignal, idleMs: number, field: string, partial?: boolean, onValues?: (values: Float32Array) => void, owedSince?: () => number }): Promise<number> {
  const target = bytesOf(into)
  let length = 0
  let done = 0
  for (;;) {
    const frame = await readFrame(lp, opts.signal ?? new AbortController().signal, opts.idleMs, opts.owedSince)
    if (frame.byteLength === 0) break
    if (length + frame.byteLength > target.byteLength) throw new InvalidInputError('SHARD_INVALID', opts.field, `exceeds ${target.byteLength} bytes`)
    for (const chunk of frame) { target.set(chunk, length); length += chunk.byteLength }
    const whole = Math.floor(length / 4)
    if (whole > done) { opts.onValues?.(into.subarray(done, whole)); done = whole }
  }
  if (length !== target.byteLength && opts.partial !== true) throw new InvalidInputError('SHARD_INVALID', opts.field, `has ${length} bytes, expected ${target.byteLength}`)
  return done
}

/** The next frame, within `idleMs` of when the read began or of `owedSince()` (whichever is later, re-read as it moves). */
async function readFrame (lp: FramedStream, parent: AbortSignal, idleMs: number, owedSince?: () => number): Promise<Awaited<ReturnType<FramedStream['read']>>> {
  if (owedSince == null) return await withTimeout(parent, idleMs, async signal => await lp.read({ signal }))
  const began = Date.now()
  const { controller, release } = childController(parent)
  let timer: NodeJS.Timeout | undefined
  const arm = (): void => {
    const left = idleMs - (Date.now() - Math.max(began, owedSince()))
    if (left <= 0) controller.abort(new DOMException(`nothing within ${idleMs} ms`, 'TimeoutError'))
    else timer = setTimeout(arm, left)
  }
  arm()
  try {
    return await lp.read({ signal: controller.signal })
  } finally {
    clearTimeout(timer)
    release()
  }
}
