import { InvalidInputError } from '../errors.js'

/** Bencoding (BEP 3): byte strings, integers, lists, dictionaries with byte-string keys in sorted order. */
export type BValue = number | Uint8Array | BValue[] | { [key: string]: BValue }

const MAX_DEPTH = 32
const te = new TextEncoder()
const td = new TextDecoder()
const D = 0x64; const L = 0x6c; const I = 0x69; const E = 0x65; const COLON = 0x3a

export function bencode (value: BValue | string): Uint8Array {
  const parts: Uint8Array[] = []
  const put = (v: BValue | string): void => {
    if (typeof v === 'string') v = te.encode(v)
    if (typeof v === 'number') {
      if (!Number.isSafeInteger(v)) throw new RangeError(`bencode: ${v} is not an integer`)
      parts.push(te.encode(`i${v}e`))
    } else if (v instanceof Uint8Array) {
      parts.push(te.encode(`${v.byteLength}:`), v)
    } else if (Array.isArray(v)) {
      parts.push(Uint8Array.of(L)); v.forEach(put); parts.push(Uint8Array.of(E))
    } else {
      parts.push(Uint8Array.of(D))
      // Keys sort as raw bytes; bt-ps keys are ASCII, where that equals UTF-16 order.
      for (const k of Object.keys(v).sort()) { put(k); put(v[k]) }
      parts.push(Uint8Array.of(E))
    }
  }
  put(value)
  return Buffer.concat(parts)
}

const bad = (field: string, message: string): never => { throw new InvalidInputError('BENCODE_INVALID', field, message) }

/** Decodes one value at the start of `buf`; returns it and where it ended (extension messages carry data after it). */
export function bdecodePrefix (buf: Uint8Array, field = 'bencode'): { value: BValue, end: number } {
  let pos = 0
  const int = (stop: number): number => {
    const end = buf.indexOf(stop, pos)
    if (end < 0 || end - pos > 20) bad(field, `unterminated number at byte ${pos}`)
    const text = Buffer.from(buf.buffer, buf.byteOffset + pos, end - pos).toString('latin1')
    if (!/^(0|-?[1-9][0-9]*)$/.test(text)) bad(field, `bad number ${JSON.stringify(text)} at byte ${pos}`)
    const n = Number(text)
    if (!Number.isSafeInteger(n)) bad(field, `number out of range at byte ${pos}`)
    pos = end + 1
    return n
  }
  const bytes = (): Uint8Array => {
    const n = int(COLON)
    if (n < 0 || pos + n > buf.byteLength) bad(field, `string of ${n} bytes runs past the end`)
    const out = new Uint8Array(buf.buffer, buf.byteOffset + pos, n)
    pos += n
    return out
  }
  const next = (depth: number): BValue => {
    if (depth > MAX_DEPTH) bad(field, `nested deeper than ${MAX_DEPTH}`)
    if (pos >= buf.byteLength) bad(field, 'ends early')
    const c = buf[pos]
    if (c === I) { pos++; return int(E) }
    if (c === L) {
      pos++
      const list: BValue[] = []
      while (pos < buf.byteLength && buf[pos] !== E) list.push(next(depth + 1))
      if (pos >= buf.byteLength) bad(field, 'unterminated list')
      pos++
      return list
    }
    if (c === D) {
      pos++
      const dict: Record<string, BValue> = Object.create(null) as Record<string, BValue>
      while (pos < buf.byteLength && buf[pos] !== E) {
        const key = td.decode(bytes())
        dict[key] = next(depth + 1)
      }
      if (pos >= buf.byteLength) bad(field, 'unterminated dictionary')
      pos++
      return dict
    }
    if (c >= 0x30 && c <= 0x39) return bytes()
    return bad(field, `unexpected byte 0x${c.toString(16)} at ${pos}`)
  }
  const value = next(0)
  return { value, end: pos }
}

/** Decodes a whole buffer holding exactly one value. */
export function bdecode (buf: Uint8Array, field = 'bencode'): BValue {
  const { value, end } = bdecodePrefix(buf, field)
  if (end !== buf.byteLength) bad(field, `${buf.byteLength - end} bytes after the value`)
  return value
}

export function isDict (v: BValue | undefined): v is Record<string, BValue> {
  return v != null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Uint8Array)
}
