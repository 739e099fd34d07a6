import { InvalidInputError } from '../errors.js'

/** Small typed readers for outside JSON: each throws MESSAGE_INVALID naming the field. */
const fail = (field: string, message: string): never => { throw new InvalidInputError('MESSAGE_INVALID', field, message) }
const show = (v: unknown): string => { const s = JSON.stringify(v) ?? String(v); return s.length > 60 ? s.slice(0, 57) + '...' : s }

export function record (v: unknown, field: string, allowed?: readonly string[]): Record<string, unknown> {
  if (v == null || typeof v !== 'object' || Array.isArray(v)) return fail(field, `expected an object, got ${show(v)}`)
  if (allowed != null) {
    const unknown = Object.keys(v).filter(k => !allowed.includes(k))
    if (unknown.length > 0) fail(`${field}.${unknown[0]}`, 'unknown field')
  }
  return v as Record<string, unknown>
}

export function str (v: unknown, field: string, max = 256): string {
  if (typeof v !== 'string' || v.length > max) return fail(field, `expected a string of at most ${max} characters, got ${show(v)}`)
  return v
}

export function id (v: unknown, field: string): string {
  const s = str(v, field, 64)
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(s)) fail(field, `invalid id ${show(s)}`)
  return s
}

export function num (v: unknown, field: string, min = -Infinity, max = Infinity): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) return fail(field, `expected a number in [${min}, ${max}], got ${show(v)}`)
  return v
}

export function int (v: unknown, field: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const n = num(v, field, min, max)
  if (!Number.isInteger(n)) fail(field, `expected an integer, got ${show(v)}`)
  return n
}

export function oneOf<T extends string> (v: unknown, field: string, values: readonly T[]): T {
  if (typeof v !== 'string' || !values.includes(v as T)) return fail(field, `expected one of ${values.join(', ')}, got ${show(v)}`)
  return v as T
}

export function list<T> (v: unknown, field: string, max: number, item: (x: unknown, field: string) => T): T[] {
  if (!Array.isArray(v) || v.length > max) return fail(field, `expected a list of at most ${max} items`)
  return v.map((x, i) => item(x, `${field}[${i}]`))
}

export function hex (v: unknown, field: string, length: number): string {
  const s = str(v, field, length)
  if (s.length !== length || !/^[0-9a-f]+$/.test(s)) fail(field, `expected ${length} lowercase hex digits`)
  return s
}

export function json (bytes: Uint8Array, field: string): unknown {
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes))
  } catch {
    return fail(field, 'is not UTF-8 JSON')
  }
}
