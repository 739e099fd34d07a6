import { lpStream } from '@libp2p/utils'
import type { Stream } from '@libp2p/interface'
import { InvalidInputError } from '../errors.js'
import type { RateLimiter } from './rate-limiter.js'
import { MAX_FRAME_BYTES, STREAM_READ_BUFFER } from './node.js'

export { MAX_FRAME_BYTES }
/** Frames of bulk data on streams; control frames are JSON. */
export const DATA_FRAME_BYTES = 1 << 20
/** The largest JSON control frame read: a header that claims more is refused from its length prefix, unread. */
export const MAX_CONTROL_FRAME_BYTES = 64 * 1024

/** Each framed stream's reader options, whose frame limit `readJson` lowers for the one read it makes. */
const readLimits = new WeakMap<object, { maxDataLength: number }>()

export type FramedStream = ReturnType<typeof lpStream<Stream>>

/**
 * Unread bytes at which a stream is paused (more than any one frame, so a read can always complete), and resumed.
 * What was already granted still arrives after the pause: STREAM_READ_BUFFER leaves room for a whole window.
 */
const PAUSE_AT = MAX_FRAME_BYTES + (64 << 10)
const RESUME_AT = 1 << 20

/**
 * Length-prefixed frames over a libp2p stream: JSON control frames and bulk data ended by an empty frame.
 * The frame reader takes every message the stream dispatches, so on its own it gives yamux no backpressure: a
 * reader busy elsewhere (verifying, training) would buffer whatever the sender sends. The stream is paused (yamux
 * then stops granting window) once more than a frame waits unread, and resumed when the reader has caught up.
 */
export function framed (stream: Stream): FramedStream {
  const opts = { maxDataLength: MAX_FRAME_BYTES, maxBufferSize: STREAM_READ_BUFFER }
  const lp = lpStream(stream, opts)
  readLimits.set(lp, opts)
  let unread = 0
  stream.addEventListener('message', (evt) => {
    unread += evt.data.byteLength
    if (unread > PAUSE_AT && stream.readStatus === 'readable') stream.pause()
  })
  const read = lp.read.bind(lp)
  lp.read = async (options) => {
    const frame = await read(options)
    unread -= frame.byteLength + varintLength(frame.byteLength)
    if (unread < RESUME_AT && stream.readStatus === 'paused') stream.resume()
    return frame
  }
  return lp
}

const varintLength = (n: number): number => n < 128 ? 1 : n < 16384 ? 2 : n < 2097152 ? 3 : n < 268435456 ? 4 : 5

/** A control message's bytes: UTF-8 JSON, as a frame or a gossip message carries it. */
export const encodeMessage = (m: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(m))

export async function writeJson (lp: FramedStream, value: unknown, signal?: AbortSignal): Promise<void> {
  await lp.write(encodeMessage(value), { signal })
}

export async function readJson (lp: FramedStream, field: string, signal?: AbortSignal): Promise<unknown> {
  const limit = readLimits.get(lp)
  let frame
  try {
    if (limit != null) limit.maxDataLength = MAX_CONTROL_FRAME_BYTES
    frame = await lp.read({ signal })
  } catch (err) {
    if ((err as Error).name === 'InvalidDataLengthError') throw new InvalidInputError('MESSAGE_TOO_LARGE', field, `is a control frame over ${MAX_CONTROL_FRAME_BYTES} bytes`)
    throw err
  } finally {
    if (limit != null) limit.maxDataLength = MAX_FRAME_BYTES
  }
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(frame.subarray()))
  } catch {
    throw new InvalidInputError('MESSAGE_INVALID', field, 'is not a JSON frame')
  }
}

/**
 * Sends `bytes` in frames (through `limiter` when given) and an empty end frame; returns the bytes sent.
 * `onFrame` hears of each frame as it is handed to the stream: the reader may finish before the last write resolves.
 */
export async function writeBytes (lp: FramedStream, bytes: Uint8Array, signal?: AbortSignal, limiter?: RateLimiter, onFrame?: (bytes: number) => void): Promise<number> {
  const frame = limiter != null ? Math.min(DATA_FRAME_BYTES, 64 * 1024) : DATA_FRAME_BYTES
  for (let off = 0; off < bytes.byteLength; off += frame) {
    const chunk = bytes.subarray(off, Math.min(off + frame, bytes.byteLength))
    await limiter?.take(chunk.byteLength, signal)
    onFrame?.(chunk.byteLength)
    await lp.write(chunk, { signal })
  }
  await lp.write(new Uint8Array(0), { signal })
  return bytes.byteLength
}

/** Reads data frames into `into` (or a growing buffer) until the empty end frame; never beyond `maxBytes`. */
export async function readBytes (lp: FramedStream, maxBytes: number, field: string, signal?: AbortSignal, into?: Uint8Array, onFrame?: (bytes: number) => void): Promise<Uint8Array> {
  const target = into ?? new Uint8Array(maxBytes)
  let length = 0
  for (;;) {
    const frame = await lp.read({ signal })
    if (frame.byteLength === 0) break
    if (length + frame.byteLength > Math.min(maxBytes, target.byteLength)) throw new InvalidInputError('MESSAGE_TOO_LARGE', field, `exceeds ${maxBytes} bytes`)
    for (const chunk of frame) { target.set(chunk, length); length += chunk.byteLength }
    onFrame?.(frame.byteLength)
  }
  return target.subarray(0, length)
}
