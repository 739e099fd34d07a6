import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { parse as parseYaml } from 'yaml'
import { InvalidInputError, errorMessage } from '../errors.js'
import { SCHEMA } from './schema.js'
import type { Config } from './schema.js'
import { parseConfig } from './parse.js'
import type { RawConfig } from './parse.js'

/** Reads a YAML (or JSON) config file into raw settings; the file may hold only some sections. */
export async function readConfigFile (path: string): Promise<RawConfig> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    throw new InvalidInputError('CONFIG_INVALID', '--config', `cannot read ${path}: ${errorMessage(err)}`)
  }
  let doc: unknown
  try {
    doc = parseYaml(text, { logLevel: 'error' })
  } catch (err) {
    throw new InvalidInputError('CONFIG_INVALID', path, `not valid YAML: ${errorMessage(err)}`)
  }
  if (doc == null) return {}
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new InvalidInputError('CONFIG_INVALID', path, 'expected a mapping of sections')
  return doc as RawConfig
}

/** BTPS_<SECTION>_<KEY>=value, e.g. BTPS_JOB_ROUNDS=5 or BTPS_CLIENT_SERVER=/dns4/server/tcp/7000. */
export function configFromEnv (env: NodeJS.ProcessEnv): RawConfig {
  const out: RawConfig = {}
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith('BTPS_') || value === undefined) continue
    const rest = name.slice(5).toLowerCase()
    const section = Object.keys(SCHEMA).find(s => rest.startsWith(s + '_'))
    if (section == null) continue
    const key = rest.slice(section.length + 1)
    if (!(key in (SCHEMA as Record<string, object>)[section])) {
      throw new InvalidInputError('CONFIG_INVALID', name, `unknown setting (${section}.${key})`)
    }
    out[section] ??= {}
    out[section][key] = value
  }
  return out
}

/** The config file when no --config is given: BTPS_CONFIG, then ./bt-ps.yml if there is one. */
export function defaultConfigFile (env: NodeJS.ProcessEnv, cwd: string): string | undefined {
  if (env.BTPS_CONFIG != null && env.BTPS_CONFIG !== '') return env.BTPS_CONFIG
  const local = join(cwd, 'bt-ps.yml')
  return existsSync(local) ? local : undefined
}

/** defaults < config file < BTPS_* env < command-line flags */
export async function loadConfig (opts: { file?: string, env?: NodeJS.ProcessEnv, flags?: RawConfig }): Promise<Config> {
  const file = opts.file != null ? await readConfigFile(opts.file) : {}
  return parseConfig(file, configFromEnv(opts.env ?? {}), opts.flags ?? {})
}
