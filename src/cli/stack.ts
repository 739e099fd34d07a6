import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { parse as parseYaml } from 'yaml'
import { parseClusterConfig } from '../config/cluster.js'
import type { ClusterConfig } from '../config/cluster.js'
import { loadConfig, readConfigFile } from '../config/load.js'
import { CLUSTER_SECTION } from '../config/parse.js'
import type { Config } from '../config/schema.js'
import { BtpsError, InvalidInputError } from '../errors.js'
import { loadOrCreatePeerKey } from '../net/peer-key.js'
import { loadPsk } from '../net/psk.js'
import { stackYaml } from '../stack/stack-file.js'
import { configFlags } from './args.js'
import type { ParsedArgs } from './args.js'

const SUBCOMMANDS = ['generate', 'deploy', 'secrets', 'rm', 'ps'] as const

async function jobAndCluster (args: ParsedArgs, file: string): Promise<{ config: Config, cluster: ClusterConfig }> {
  const { config: flags } = configFlags(args, {}, ['config', 'out', 'name', 'json'], 'stack')
  const raw = await readConfigFile(file)
  const config = await loadConfig({ file, env: process.env, flags })
  // --cluster.key VALUE overrides the file; values are YAML scalars, so ports stay numbers.
  const overrides = Object.fromEntries(Object.entries(flags[CLUSTER_SECTION] ?? {}).map(([k, v]) => [k, typeof v === 'string' ? parseYaml(v) as unknown : v]))
  const section = raw[CLUSTER_SECTION]
  const merged = Object.keys(overrides).length === 0 ? section : { ...(section ?? {}), ...overrides }
  return { config, cluster: parseClusterConfig(merged, config) }
}

/** The job's pre-shared key and the server's libp2p key, each made (mode 0600) if missing; the server's peer id. */
async function makeSecrets (pskFile: string, serverKeyFile: string): Promise<{ serverPeerId: string, created: string[] }> {
  const created: string[] = []
  if (!existsSync(pskFile)) created.push(`created the job's pre-shared key ${pskFile} (mode 0600); every peer gets it as the secret psk`)
  loadPsk(pskFile, { create: true })
  const keyIsNew = !existsSync(serverKeyFile)
  const serverPeerId = (await loadOrCreatePeerKey(serverKeyFile)).publicKey.toString()
  if (keyIsNew) created.push(`created the server's key ${serverKeyFile} (mode 0600): clients accept only the server with peer id ${serverPeerId}`)
  return { serverPeerId, created }
}

/** Runs the docker CLI with our stdio; resolves to its exit code. DOCKER names another binary. */
export async function docker (args: string[]): Promise<number> {
  return (await runDocker(args, false)).code
}

async function runDocker (args: string[], capture: boolean): Promise<{ code: number, out: string }> {
  const bin = process.env.DOCKER ?? 'docker'
  return await new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: capture ? ['ignore', 'pipe', 'inherit'] : 'inherit' })
    let out = ''
    child.stdout?.on('data', (b: Buffer) => { out += b.toString() })
    child.once('error', err => { reject(new BtpsError('DOCKER_MISSING', `cannot run ${bin}: ${err.message} (is the docker CLI installed and on PATH?)`)) })
    child.once('close', (code, signal) => { resolve({ code: code ?? (signal != null ? 128 : 1), out }) })
  })
}

/** `stack ps --json`: the stack's services and tasks as docker reports them (one object each). */
async function stackPsJson (name: string): Promise<number> {
  const lines = (out: string): unknown[] => out.split('\n').filter(l => l.trim() !== '').map(l => JSON.parse(l) as unknown)
  const services = await runDocker(['stack', 'services', name, '--format', '{{json .}}'], true)
  if (services.code !== 0) return services.code
  const tasks = await runDocker(['stack', 'ps', name, '--no-trunc', '--format', '{{json .}}'], true)
  if (tasks.code !== 0) return tasks.code
  console.log(JSON.stringify({ stack: name, services: lines(services.out), tasks: lines(tasks.out) }, null, 2))
  return 0
}

function flag (args: ParsedArgs, name: string): string | undefined {
  const v = args.flags.get(name)
  if (v === true) throw new InvalidInputError('USAGE', `--${name}`, 'needs a value')
  return v
}

/** `bt-ps stack generate|deploy|rm|ps`: the job as a docker swarm stack. */
export async function stackCommand (args: ParsedArgs): Promise<number> {
  const sub = args.positional[0]
  if (!SUBCOMMANDS.includes(sub as typeof SUBCOMMANDS[number])) throw new InvalidInputError('USAGE', 'stack', `expected one of ${SUBCOMMANDS.join(', ')}, got ${JSON.stringify(sub ?? '')}`)
  const file = flag(args, 'config')
  if (sub === 'rm' || sub === 'ps') {
    const name = flag(args, 'name') ?? (file != null ? (await jobAndCluster(args, file)).cluster.stack : 'btps')
    if (sub === 'rm') return await docker(['stack', 'rm', name])
    if (args.flags.get('json') === true) return await stackPsJson(name)
    const code = await docker(['stack', 'services', name])
    return code !== 0 ? code : await docker(['stack', 'ps', name, '--format', 'table {{.Name}}\t{{.Node}}\t{{.DesiredState}}\t{{.CurrentState}}\t{{.Error}}'])
  }
  if (file == null) throw new InvalidInputError('USAGE', '--config', `bt-ps stack ${sub} needs the job's config file`)
  const { config, cluster } = await jobAndCluster(args, file)
  // The job is private: its key is made once on the manager and handed to the peers as a docker secret; so is the
  // server's identity, whose peer id every client pins. `secrets` and `deploy` make them; `generate` only reads them.
  const pskFile = resolve(cluster.pskFile !== '' ? cluster.pskFile : join(dirname(file), `${cluster.stack}.swarm.key`))
  const serverKeyFile = join(dirname(pskFile), `${cluster.stack}.server.key`)
  if (sub === 'generate') {
    const missing = [pskFile, serverKeyFile].filter(f => !existsSync(f))
    if (missing.length > 0) throw new InvalidInputError('USAGE', 'stack generate', `${missing.join(' and ')} missing: \`bt-ps stack secrets --config ${file}\` makes the job's keys (\`stack deploy\` makes them too)`)
  }
  const { serverPeerId, created } = await makeSecrets(pskFile, serverKeyFile)
  for (const line of created) process.stderr.write(line + '\n')
  if (sub === 'secrets') {
    process.stdout.write(`job key     ${pskFile}\nserver key  ${serverKeyFile}\nserver peer ${serverPeerId}\n`)
    return 0
  }
  const yaml = stackYaml(config, cluster, file, pskFile, { keyFile: serverKeyFile, peerId: serverPeerId })
  const hosts = cluster.hosts.length
  const summary = `stack ${cluster.stack}: tracker, server and ${config.job.clients} clients on ${hosts} host${hosts === 1 ? '' : 's'}`
  if (sub === 'generate') {
    const out = flag(args, 'out')
    if (out == null || out === '-') process.stdout.write(yaml)
    else {
      writeFileSync(out, yaml)
      process.stderr.write(`${summary} → ${out}\n`)
    }
    return 0
  }
  const dir = mkdtempSync(join(tmpdir(), 'btps-stack-'))
  try {
    const stackFile = join(dir, `${cluster.stack}.yml`)
    writeFileSync(stackFile, yaml)
    process.stderr.write(`deploying ${summary}\n`)
    const name = flag(args, 'name') ?? cluster.stack
    return await docker(['stack', 'deploy', '--prune', ...(cluster.registry !== '' ? ['--with-registry-auth'] : []), '-c', stackFile, name])
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
