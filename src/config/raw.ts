import { SCHEMA, camel } from './schema.js'
import type { Config } from './schema.js'

/** The resolved config back in file form (snake_case), so every child reads exactly what `up` validated. */
export function toRawConfig (config: Config): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {}
  for (const [section, fields] of Object.entries(SCHEMA)) {
    out[section] = {}
    for (const key of Object.keys(fields)) out[section][key] = (config as unknown as Record<string, Record<string, unknown>>)[section][camel(key)]
  }
  return out
}
