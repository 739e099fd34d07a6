import { InvalidInputError } from '../errors.js'
import type { RawConfig } from '../config/parse.js'

export interface ParsedArgs { positional: string[], flags: Map<string, string | true> }

/** `--name value`, `--name=value`, bare boolean flags; `--section.key value` sets any config field. */
export function parseArgs (argv: readonly string[], booleans: readonly string[] = []): ParsedArgs {
  const positional: string[] = []
  const flags = new Map<string, string | true>()
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    if (!arg.startsWith('--') || arg === '--') { positional.push(arg); continue }
    const eq = arg.indexOf('=')
    const name = eq > 0 ? arg.slice(2, eq) : arg.slice(2)
    if (eq > 0) flags.set(name, arg.slice(eq + 1))
    else if (booleans.includes(name)) flags.set(name, true)
    else {
      const value = argv[i + 1]
      if (value === undefined || (value.startsWith('--') && value.length > 2)) throw new InvalidInputError('USAGE', `--${name}`, 'needs a value')
      flags.set(name, value)
      i++
    }
  }
  return { positional, flags }
}

/** Flag name → config field, per command; `--section.key` works everywhere. */
export const JOB_FLAGS: Record<string, string> = {
  job: 'job.id',
  model: 'job.model',
  'hidden-units': 'job.hidden_units',
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
