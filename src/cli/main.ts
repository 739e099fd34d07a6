import { BtpsError, InvalidInputError, errorMessage } from '../errors.js'
import { createLogger } from '../logger.js'
import { defaultConfigFile, loadConfig } from '../config/load.js'
import type { Config } from '../config/schema.js'
import { JOB_FLAGS, ROLE_FLAGS, configFlags, parseArgs } from './args.js'
import type { ParsedArgs } from './args.js'
import { HELP, commandHelp } from './help.js'
import { roundCommand, statusCommand, stopCommand } from './round.js'
import { upCommand } from './up.js'
import { logsCommand } from './logs.js'
import { stackCommand } from './stack.js'
import { useHealthFile } from './lifecycle.js'
import { VERSION } from './version.js'
import { completionScript } from './completion.js'
import { jobFileSchema } from '../config/json-schema.js'

async function roleConfig (args: ParsedArgs, command: string, own: string[] = []): Promise<{ config: Config, rest: Map<string, string | true> }> {
  const { config: flags, rest } = configFlags(args, ROLE_FLAGS[command] ?? JOB_FLAGS, ['config', ...own], command)
  const given = rest.get('config')
  const file = typeof given === 'string' ? given : defaultConfigFile(process.env, process.cwd())
  const config = await loadConfig({ file, env: process.env, flags })
  if (file != null) rest.set('config', file)
  return { config, rest }
}

async function runRole (command: 'tracker' | 'server' | 'client' | 'clients', args: ParsedArgs): Promise<number> {
  const { config, rest } = await roleConfig(args, command, command === 'server' ? ['start-rounds'] : [])
  const log = createLogger({ level: config.log.level, base: { role: command } })
  useHealthFile(config.log.healthFile)
  // A long-running peer outlives a bad remote or a library's stray rejection: log it, keep serving.
  process.on('unhandledRejection', (reason) => { log.error('unhandled rejection', { reason: errorMessage(reason) }) })
  // Loaded on demand: `bt-ps round` and `status` need neither libp2p nor tfjs.
  if (command === 'tracker') await (await import('../roles/tracker.js')).runTracker(config, log)
  else if (command === 'server') {
    const start = rest.get('start-rounds')
    const autoRounds = typeof start === 'string' ? Number(start) : undefined
    if (autoRounds !== undefined && !(Number.isInteger(autoRounds) && autoRounds >= 0)) throw new InvalidInputError('USAGE', '--start-rounds', `expected a whole number, got ${JSON.stringify(start)}`)
    await (await import('../roles/server.js')).runServer(config, log, { autoRounds })
  } else await (await import('../roles/client.js')).runClient(config, log)
  return 0
}

/** The `bt-ps` command line. Exit codes: 0 done, 1 failed, 2 bad flags or config, 130 interrupted. */
export async function main (argv: string[]): Promise<number> {
  const [command, ...rest] = argv
  try {
    if (command == null || command === '--help' || command === 'help' || command === '-h') {
      // `bt-ps help round` is `bt-ps round --help`.
      process.stdout.write(command === 'help' && rest[0] != null ? commandHelp(rest[0]) : HELP)
      return command == null ? 2 : 0
    }
    if (command === '--version' || command === '-V' || command === 'version') { process.stdout.write(`bt-ps ${VERSION}\n`); return 0 }
    // -h and --help anywhere after the command (also after a subcommand: `bt-ps stack generate -h`).
    if (rest.includes('-h') || rest.includes('--help')) { process.stdout.write(commandHelp(command)); return 0 }
    const args = parseArgs(rest, command, ['wait', 'json', 'no-wait', 'now'])
    switch (command) {
      case 'tracker':
      case 'server':
      case 'client':
      case 'clients':
        return await runRole(command, args)
      case 'round':
        return await roundCommand(args)
      case 'stop':
        return await stopCommand(args)
      case 'status':
        return await statusCommand(args)
      case 'up': {
        const { config, rest: own } = await roleConfig(args, 'up', ['log-dir', 'clients-per-process'])
        const perProcess = own.get('clients-per-process')
        const clientsPerProcess = typeof perProcess === 'string' ? Number(perProcess) : undefined
        if (clientsPerProcess !== undefined && !(Number.isInteger(clientsPerProcess) && clientsPerProcess >= 1 && clientsPerProcess <= 10000)) throw new InvalidInputError('USAGE', '--clients-per-process', `expected a whole number from 1 to 10000, got ${JSON.stringify(perProcess)}`)
        return await upCommand(config, { file: own.get('config') as string | undefined, logDir: own.get('log-dir') as string | undefined, clientsPerProcess, flags: args })
      }
      case 'logs':
        return await logsCommand(args)
      case 'stack':
        return await stackCommand(args)
      case 'completion':
        if (args.flags.size > 0 || args.positional.length > 1) throw new InvalidInputError('USAGE', 'completion', 'takes only the shell: bt-ps completion bash|zsh')
        process.stdout.write(completionScript(args.positional[0]))
        return 0
      case 'config':
        if (args.positional[0] !== 'schema' || args.flags.size > 0 || args.positional.length > 1) throw new InvalidInputError('USAGE', 'config', `expected "config schema", got ${JSON.stringify(args.positional.join(' '))}`)
        process.stdout.write(JSON.stringify(jobFileSchema(), null, 2) + '\n')
        return 0
      default:
        throw new InvalidInputError('USAGE', 'command', `unknown command ${JSON.stringify(command)} (expected tracker, server, client, clients, up, round, stop, status, logs, stack, config, completion)`)
    }
  } catch (err) {
    if (err instanceof InvalidInputError) {
      process.stderr.write(`bt-ps ${command ?? ''}: invalid ${err.message}\n`)
      return 2
    }
    process.stderr.write(`bt-ps ${command ?? ''}: ${errorMessage(err)}${err instanceof BtpsError ? '' : '\n' + String((err as Error)?.stack ?? '')}\n`)
    return 1
  }
}
