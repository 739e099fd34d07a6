import { lpStream } from '@libp2p/utils'
import type { Stream } from '@libp2p/interface'
import { InvalidInputError } from '../errors.js'
import { DATA_FRAME_BYTES, MAX_FRAME_BYTES } from './protocols.js'
import type { RateLimiter } from './rate-limiter.js'

export type FramedStream = ReturnType<typeof lpStream<Stream>>

/** Length-prefixed frames over a libp2p stream: JSON control frames and bulk data ended by an empty frame. */
export function framed (stream: Stream): FramedStream {
  return lpStream(stream, { maxDataLength: MAX_FRAME_BYTES })
}

export async function writeJson (lp: FramedStream, value: unknown, signal?: AbortSignal): Promise<void> {
  await lp.write(new TextEncoder().encode(JSON.stringify(value)), { signal })
}

export async function readJson (lp: FramedStream, field: string, signal?: AbortSignal): Promise<unknown> {
  const frame = await lp.read({ signal })
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
export async function readBytes (lp: FramedStream, maxBytes: number, field: string, signal?: AbortSignal, into?: Uint8Array): Promise<Uint8Array> {
  const target = into ?? new Uint8Array(maxBytes)
  let length = 0
  for (;;) {
    const frame = await lp.read({ signal })
    if (frame.byteLength === 0) break
    if (length + frame.byteLength > Math.min(maxBytes, target.byteLength)) throw new InvalidInputError('MESSAGE_TOO_LARGE', field, `exceeds ${maxBytes} bytes`)
    for (const chunk of frame) { target.set(chunk, length); length += chunk.byteLength }
  }
  return target.subarray(0, length)
}
