import { parseArgs as parseArgv } from 'node:util'
import { InvalidInputError } from '../errors.js'
import type { RawConfig } from '../config/parse.js'

export interface ParsedArgs { positional: string[], flags: Map<string, string | true> }

/** The commands' own flags that take a value (config fields come from the tables below or as --section.key). */
const OWN_VALUE_FLAGS = ['config', 'log-dir', 'clients-per-process', 'start-rounds', 'server', 'token', 'token-file', 'rounds', 'format', 'runs', 'out', 'name', 'shell']

/**
 * `--name value`, `--name=value`, `-o FILE`, boolean flags, `--` ends the flags; `--section.key value` sets any config
 * field. Built on util.parseArgs (strict): a flag no command knows, a missing value or a value given to a boolean
 * flag is a usage error naming the flag.
 */
export function parseArgs (argv: readonly string[], command: string, booleans: readonly string[] = []): ParsedArgs {
  type Option = { type: 'string' | 'boolean', short?: string }
  const options: Record<string, Option> = {}
  for (const name of [...OWN_VALUE_FLAGS, ...Object.keys(JOB_FLAGS), ...Object.values(ROLE_FLAGS).flatMap(t => Object.keys(t))]) options[name] = { type: 'string' }
  // Any --section.key is taken here; the config's own check names an unknown field.
  for (const arg of argv) {
    if (arg === '--') break
    const dotted = /^--([A-Za-z0-9_-]+\.[A-Za-z0-9_.-]+)(=|$)/.exec(arg)
    if (dotted != null) options[dotted[1]] = { type: 'string' }
  }
  for (const name of booleans) options[name] = { type: 'boolean' }
  options.out = { type: 'string', short: 'o' }
  try {
    const { values, positionals } = parseArgv({ args: [...argv], options, allowPositionals: true, strict: true })
    return { positional: positionals, flags: new Map(Object.entries(values).map(([k, v]) => [k, v === true ? true : String(v)])) }
  } catch (err) {
    const code = (err as { code?: string }).code
    const message = err instanceof Error ? err.message : String(err)
    const name = /'(--?[^' ]+)/.exec(message)?.[1] ?? 'flags'
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') throw new InvalidInputError('USAGE', name, `unknown flag for bt-ps ${command} (see bt-ps ${command} --help)`)
    if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
      if (/does not take an argument/.test(message)) throw new InvalidInputError('USAGE', name, 'takes no value')
      throw new InvalidInputError('USAGE', name, `needs a value (one that starts with - is written ${name}=VALUE)`)
    }
    throw err
  }
}

/** Flag name → config field, per command; `--section.key` works everywhere. */
export const JOB_FLAGS: Record<string, string> = {
  job: 'job.id',
  model: 'job.model',
  'hidden-units': 'job.hidden_units',
  dataset: 'job.dataset',
  'data-path': 'job.data_path',
  selection: 'job.selection',
  replay: 'job.replay',
  'frozen-layers': 'job.frozen_layers',
  rounds: 'job.rounds',
  clients: 'job.clients',
  k: 'job.clients_per_round',
  'over-commitment': 'job.over_commitment',
  transfer: 'job.transfer',
  upload: 'job.upload',
  aggregation: 'job.aggregation',
  mu: 'job.mu',
  'local-epochs': 'job.local_epochs',
  'batch-size': 'job.batch_size',
  lr: 'job.learning_rate',
  'test-interval': 'job.test_interval',
  'round-timeout': 'job.round_timeout_s',
  partition: 'job.partition',
  alpha: 'job.alpha',
  seed: 'job.seed',
  'log-level': 'log.level'
}

/** Short flags of the role commands. */
export const ROLE_FLAGS: Record<string, Record<string, string>> = {
  tracker: { host: 'tracker.host', port: 'tracker.port', 'announce-interval': 'tracker.announce_interval_s' },
  server: { ...JOB_FLAGS, tracker: 'tracker.url', host: 'server.host', 'p2p-port': 'server.p2p_port', 'admin-host': 'server.admin_host', 'admin-port': 'server.admin_port', 'runs-dir': 'server.runs_dir', 'checkpoint-dir': 'server.checkpoint_dir', backend: 'server.backend' },
  client: { ...JOB_FLAGS, tracker: 'tracker.url', server: 'client.server', id: 'client.id', host: 'client.host', backend: 'client.backend' },
  clients: { ...JOB_FLAGS, tracker: 'tracker.url', server: 'client.server', count: 'client.count', 'id-prefix': 'client.id_prefix', host: 'client.host', backend: 'client.backend' }
}

/** Splits flags into config settings (known to `table`) and the rest; unknown flags are an error. */
export function configFlags (args: ParsedArgs, table: Record<string, string>, own: readonly string[], command: string): { config: RawConfig, rest: Map<string, string | true> } {
  const config: RawConfig = {}
  const rest = new Map<string, string | true>()
  for (const [name, value] of args.flags) {
    const path = table[name] ?? (name.includes('.') ? name : undefined)
    if (path != null) {
      const [section, key] = path.split('.', 2)
      if (value === true) throw new InvalidInputError('USAGE', `--${name}`, 'needs a value')
      config[section] ??= {}
      config[section][key] = value
    } else if (own.includes(name)) rest.set(name, value)
    else throw new InvalidInputError('USAGE', `--${name}`, `unknown flag for bt-ps ${command} (see bt-ps ${command} --help)`)
  }
  return { config, rest }
}
