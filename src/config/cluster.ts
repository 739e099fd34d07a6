import { InvalidInputError } from '../errors.js'
import { int, list, oneOf, record, str } from '../net/validate.js'
import type { Config } from './schema.js'

/**
 * The `cluster:` section of a job file: where the job's containers run. `bt-ps up` ignores it and `bt-ps stack
 * generate` turns it, with the job, into a docker stack, so one file moves a job from one machine to a cluster.
 */
export interface ClusterHost {
  /** the docker node's hostname (`docker node ls`), or '*' for any node (one-machine swarms) */
  name: string
  clients: number
  /** NVIDIA device index or UUID the host's peers use; '' runs them on CPU */
  gpu: string
}

export interface ClusterConfig {
  stack: string
  /** image prefix, e.g. registry.lab:5000/ml; '' uses local images */
  registry: string
  tag: string
  network: string
  trackerHost: string
  serverHost: string
  trackerPort: number
  adminPort: number
  p2pPort: number
  /** host directory (on the server's host) for runs/ and checkpoints/; '' keeps them in a named volume */
  stateDir: string
  tmpfsMb: number
  /** on the manager: the job's pre-shared key, handed to every container as a docker secret ('' : <stack>.swarm.key beside the config) */
  pskFile: string
  /** publish the admin API on the server's host (otherwise it is reached from inside the server's container) */
  publishAdmin: boolean
  /** IPsec between hosts on the job's overlay network */
  encryptNetwork: boolean
  /** a Prometheus service that scrapes every role, and clients that serve metrics */
  metrics: boolean
  prometheusImage: string
  /** where the Prometheus UI is published, on the server's host (0: not published) */
  prometheusPort: number
  /** memory limit per container, MiB (0: none) */
  memoryMb: { tracker: number, server: number, client: number }
  restart: { condition: 'any' | 'on-failure' | 'none', delayS: number, maxAttempts: number }
  logging: { driver: string, maxSize: string, maxFile: number }
  hosts: ClusterHost[]
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/
const HOSTNAME = /^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$/
const REGISTRY = /^[a-z0-9][a-z0-9.:_/-]{0,200}$/
const SIZE = /^\d{1,6}[kmg]$/

function matching (v: unknown, field: string, pattern: RegExp, what: string): string {
  const s = str(v, field, 253)
  if (!pattern.test(s)) throw new InvalidInputError('CONFIG_INVALID', field, `expected ${what}, got ${JSON.stringify(s)}`)
  return s
}

function parseHost (v: unknown, field: string): ClusterHost {
  const h = record(v, field, ['name', 'clients', 'gpu'])
  const name = h.name === '*' ? '*' : matching(h.name, `${field}.name`, HOSTNAME, 'the node\'s hostname or *')
  const gpu = h.gpu == null || h.gpu === 'none' ? '' : matching(typeof h.gpu === 'number' ? String(h.gpu) : h.gpu, `${field}.gpu`, /^(\d{1,2}|GPU-[0-9a-fA-F-]{8,64})$/, 'a GPU index, a GPU-<uuid> or none')
  return { name, clients: h.clients === undefined ? 0 : int(h.clients, `${field}.clients`, 0, 1000), gpu }
}

/** Validates `raw` (the file's `cluster:` mapping) against the job; every error names the field. */
export function parseClusterConfig (raw: unknown, config: Config): ClusterConfig {
  try {
    return parseCluster(raw, config)
  } catch (err) {
    // The readers are shared with network messages; in a file the same mistake is a config error.
    if (err instanceof InvalidInputError && err.code !== 'CONFIG_INVALID') throw new InvalidInputError('CONFIG_INVALID', err.field, err.message.slice(err.field.length + 2))
    throw err
  }
}

function parseCluster (raw: unknown, config: Config): ClusterConfig {
  if (raw == null) throw new InvalidInputError('CONFIG_INVALID', 'cluster', 'missing: the config needs a cluster section (hosts, clients per host) to make a stack')
  const c = record(raw, 'cluster', ['stack', 'registry', 'tag', 'network', 'tracker_host', 'server_host', 'tracker_port', 'admin_port', 'p2p_port', 'state_dir', 'tmpfs_mb', 'psk_file', 'publish_admin', 'encrypt_network', 'metrics', 'prometheus_image', 'prometheus_port', 'memory_mb', 'restart', 'logging', 'hosts'])
  const hosts = list(c.hosts, 'cluster.hosts', 1000, parseHost)
  if (hosts.length === 0) throw new InvalidInputError('CONFIG_INVALID', 'cluster.hosts', 'needs at least one host')
  const names = hosts.map(h => h.name)
  const dup = names.find((n, i) => names.indexOf(n) !== i)
  if (dup != null) throw new InvalidInputError('CONFIG_INVALID', 'cluster.hosts', `host ${dup} is listed twice`)
  if (names.includes('*') && hosts.length > 1) throw new InvalidInputError('CONFIG_INVALID', 'cluster.hosts', '* (any node) works only as the single host')
  const clients = hosts.reduce((n, h) => n + h.clients, 0)
  if (clients !== config.job.clients) throw new InvalidInputError('CONFIG_INVALID', 'cluster.hosts', `the hosts run ${clients} clients but job.clients is ${config.job.clients}`)
  const onHost = (v: unknown, field: string): string => {
    if (v === undefined) return hosts[0].name
    const name = v === '*' ? '*' : matching(v, field, HOSTNAME, 'a hostname')
    if (!names.includes(name)) throw new InvalidInputError('CONFIG_INVALID', field, `${name} is not one of cluster.hosts (${names.join(', ')})`)
    return name
  }
  const restart = record(c.restart ?? {}, 'cluster.restart', ['condition', 'delay_s', 'max_attempts'])
  const logging = record(c.logging ?? {}, 'cluster.logging', ['driver', 'max_size', 'max_file'])
  const memory = record(c.memory_mb ?? {}, 'cluster.memory_mb', ['tracker', 'server', 'client'])
  const mib = (v: unknown, field: string, fallback: number): number => v === undefined ? fallback : int(v, field, 0, 1 << 24)
  const yesNo = (v: unknown, field: string, fallback: boolean): boolean => v === undefined ? fallback : oneOf(v === true ? 'yes' : v === false ? 'no' : v, field, ['yes', 'no'] as const) === 'yes'
  const port = (v: unknown, field: string, fallback: number): number => v === undefined ? fallback : int(v, field, 1, 65535)
  const out: ClusterConfig = {
    stack: c.stack === undefined ? 'btps' : matching(c.stack, 'cluster.stack', NAME, 'a stack name (letters, digits, . _ -)'),
    registry: c.registry === undefined || c.registry === '' ? '' : matching(c.registry, 'cluster.registry', REGISTRY, 'a registry prefix such as registry.lab:5000/ml').replace(/\/$/, ''),
    tag: c.tag === undefined ? 'latest' : matching(typeof c.tag === 'number' ? String(c.tag) : c.tag, 'cluster.tag', /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/, 'an image tag'),
    network: c.network === undefined ? 'btps' : matching(c.network, 'cluster.network', NAME, 'a network name'),
    trackerHost: onHost(c.tracker_host, 'cluster.tracker_host'),
    serverHost: onHost(c.server_host, 'cluster.server_host'),
    trackerPort: port(c.tracker_port, 'cluster.tracker_port', 6969),
    adminPort: port(c.admin_port, 'cluster.admin_port', 8080),
    p2pPort: port(c.p2p_port, 'cluster.p2p_port', 7000),
    stateDir: c.state_dir === undefined || c.state_dir === '' ? '' : matching(c.state_dir, 'cluster.state_dir', /^\/[^\s:]*$/, 'an absolute path'),
    tmpfsMb: c.tmpfs_mb === undefined ? 256 : int(c.tmpfs_mb, 'cluster.tmpfs_mb', 16, 1 << 20),
    pskFile: c.psk_file === undefined || c.psk_file === '' ? '' : matching(c.psk_file, 'cluster.psk_file', /^[^\s:]+$/, 'a file path'),
    publishAdmin: yesNo(c.publish_admin, 'cluster.publish_admin', false),
    encryptNetwork: yesNo(c.encrypt_network, 'cluster.encrypt_network', true),
    metrics: yesNo(c.metrics, 'cluster.metrics', false),
    prometheusImage: c.prometheus_image === undefined ? 'prom/prometheus:v2.53.0' : matching(c.prometheus_image, 'cluster.prometheus_image', /^[a-z0-9][a-z0-9.:_/@-]{0,250}$/, 'an image reference'),
    prometheusPort: c.prometheus_port === undefined ? 9090 : int(c.prometheus_port, 'cluster.prometheus_port', 0, 65535),
    memoryMb: { tracker: mib(memory.tracker, 'cluster.memory_mb.tracker', 512), server: mib(memory.server, 'cluster.memory_mb.server', 0), client: mib(memory.client, 'cluster.memory_mb.client', 0) },
    restart: {
      condition: restart.condition === undefined ? 'any' : oneOf(restart.condition, 'cluster.restart.condition', ['any', 'on-failure', 'none'] as const),
      delayS: restart.delay_s === undefined ? 5 : int(restart.delay_s, 'cluster.restart.delay_s', 0, 3600),
      maxAttempts: restart.max_attempts === undefined ? 0 : int(restart.max_attempts, 'cluster.restart.max_attempts', 0, 1000)
    },
    logging: {
      driver: logging.driver === undefined ? 'json-file' : matching(logging.driver, 'cluster.logging.driver', NAME, 'a logging driver name'),
      maxSize: logging.max_size === undefined ? '10m' : matching(logging.max_size, 'cluster.logging.max_size', SIZE, 'a size such as 10m'),
      maxFile: logging.max_file === undefined ? 3 : int(logging.max_file, 'cluster.logging.max_file', 1, 100)
    },
    hosts
  }
  const ports = [out.trackerPort, out.adminPort]
  if (out.trackerHost === out.serverHost && ports[0] === ports[1]) throw new InvalidInputError('CONFIG_INVALID', 'cluster.admin_port', `${out.adminPort} is also the tracker's port on ${out.serverHost}`)
  return out
}
