import { stringify } from 'yaml'
import type { ClusterConfig, ClusterHost } from '../config/cluster.js'
import type { Config } from '../config/schema.js'
import { toRawConfig } from '../config/raw.js'

/** Ports inside the containers; the cluster section only chooses what the hosts publish. */
export const TRACKER_PORT = 6969
export const ADMIN_PORT = 8080
/** Where each client serves /metrics when `cluster.metrics` is on. */
export const CLIENT_METRICS_PORT = 9464
const STATE_DIR = '/var/lib/bt-ps'
/** Where docker mounts the job's pre-shared key (the secret `psk`) in every peer. */
const PSK_SECRET_PATH = '/run/secrets/psk'
/** Where the server finds its libp2p key (the secret `server_key`), whose peer id the clients pin. */
const SERVER_KEY_SECRET_PATH = '/run/secrets/server_key'
/** The images' unprivileged user: secrets are its alone (mode 0400), which bt-ps insists on for key files. */
const PEER_UID = '10001'

/** The server's identity, made when the stack is generated: its key file on the manager and its peer id. */
export interface ServerIdentity { keyFile: string, peerId: string }

const secret = (name: string): Record<string, unknown> => ({ source: name, target: name, uid: PEER_UID, gid: PEER_UID, mode: 0o400 })

type Service = Record<string, unknown>

export function imageName (cluster: ClusterConfig, image: 'tracker' | 'peer' | 'peer-gpu'): string {
  return `${cluster.registry === '' ? '' : cluster.registry + '/'}bt-ps-${image}:${cluster.tag}`
}

/** client-01 … client-65: zero-padded so `docker service ls` sorts them. */
export function clientNames (count: number): string[] {
  const width = Math.max(2, String(count).length)
  return Array.from({ length: count }, (_, i) => `client-${String(i + 1).padStart(width, '0')}`)
}

function env (entries: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(Object.entries(entries).map(([k, v]) => [k, String(v)]))
}

/** Every job field, so a service never depends on the image's defaults. */
function jobEnv (config: Config, cluster: ClusterConfig): Record<string, string> {
  const raw = toRawConfig(config)
  const job = Object.fromEntries(Object.entries(raw.job).map(([k, v]) => [`BTPS_JOB_${k.toUpperCase()}`, v]))
  return env({ ...job, BTPS_JOB_PSK_FILE: PSK_SECRET_PATH, BTPS_LOG_LEVEL: config.log.level, BTPS_TRACKER_URL: `udp://tracker:${TRACKER_PORT}`, BTPS_SERVER_P2P_PORT: cluster.p2pPort })
}

function gpuEnv (host: ClusterHost): Record<string, string> {
  // One GPU serves every peer on its host, so it is picked by device rather than reserved per task (swarm's
  // generic resources are exclusive); the nvidia runtime reads these. Growth keeps one process from taking it all.
  return host.gpu === '' ? {} : { NVIDIA_VISIBLE_DEVICES: host.gpu, NVIDIA_DRIVER_CAPABILITIES: 'compute,utility', TF_FORCE_GPU_ALLOW_GROWTH: 'true' }
}

function hostOf (cluster: ClusterConfig, name: string): ClusterHost {
  return cluster.hosts.find(h => h.name === name) ?? cluster.hosts[0]
}

function service (cluster: ClusterConfig, config: Config, role: 'tracker' | 'server' | 'client' | 'prometheus', host: ClusterHost, body: Service): Service {
  const labels = { 'io.bt-ps.job': config.job.id, 'io.bt-ps.role': role, 'io.bt-ps.host': host.name }
  const restart = cluster.restart
  const memory = role === 'prometheus' ? 0 : cluster.memoryMb[role]
  return {
    ...body,
    networks: [cluster.network],
    labels,
    // Nothing to write but /tmp (a tmpfs) and the server's state; no capability is needed to run a peer.
    read_only: true,
    cap_drop: ['ALL'],
    stop_grace_period: '30s',
    logging: { driver: cluster.logging.driver, options: cluster.logging.driver === 'json-file' ? { 'max-size': cluster.logging.maxSize, 'max-file': String(cluster.logging.maxFile) } : {} },
    deploy: {
      mode: 'replicated',
      replicas: 1,
      endpoint_mode: 'dnsrr',
      ...(host.name === '*' ? {} : { placement: { constraints: [`node.hostname == ${host.name}`] } }),
      restart_policy: { condition: restart.condition, delay: `${restart.delayS}s`, ...(restart.maxAttempts > 0 ? { max_attempts: restart.maxAttempts } : {}), window: '30s' },
      labels: { ...labels },
      ...(memory > 0 ? { resources: { limits: { memory: `${memory}M` } } } : {})
    }
  }
}

const scratch = (cluster: ClusterConfig): Record<string, unknown> => ({ type: 'tmpfs', target: '/tmp', tmpfs: { size: cluster.tmpfsMb * 1024 * 1024 } })
// dnsrr services cannot use the routing mesh, so ports are published on the host that runs the task.
const published = (target: number, port: number, protocol = 'tcp'): Record<string, unknown> => ({ target, published: port, protocol, mode: 'host' })

/**
 * The docker stack (compose v3.8) for the job: tracker, server and one service per client, each pinned to its host.
 * `pskFile`: the manager's copy of the job's pre-shared key, which becomes the secret every peer reads. `server`:
 * the server's key (a secret for the server alone) and its peer id, which every client pins, so whoever else
 * answers at server:7000 on the network is not taken for the server.
 */
export function stackFile (config: Config, cluster: ClusterConfig, pskFile: string, server: ServerIdentity): Record<string, unknown> {
  const services: Record<string, Service> = {}
  const common = jobEnv(config, cluster)
  const trackerHost = hostOf(cluster, cluster.trackerHost)
  services.tracker = service(cluster, config, 'tracker', trackerHost, {
    image: imageName(cluster, 'tracker'),
    command: ['tracker'],
    hostname: 'tracker',
    // With the job's key the tracker serves only torrents the server registers.
    secrets: [secret('psk')],
    environment: env({ BTPS_TRACKER_PORT: TRACKER_PORT, BTPS_TRACKER_ANNOUNCE_INTERVAL_S: config.tracker.announceIntervalS, BTPS_JOB_PSK_FILE: PSK_SECRET_PATH, BTPS_LOG_LEVEL: config.log.level }),
    ports: [published(TRACKER_PORT, cluster.trackerPort), published(TRACKER_PORT, cluster.trackerPort, 'udp')],
    volumes: [scratch(cluster)]
  })
  const serverHost = hostOf(cluster, cluster.serverHost)
  services.server = service(cluster, config, 'server', serverHost, {
    image: imageName(cluster, serverHost.gpu === '' ? 'peer' : 'peer-gpu'),
    command: ['server'],
    hostname: 'server',
    secrets: [secret('psk'), secret('server_key')],
    // With metrics on, Prometheus scrapes /metrics without the admin token (counts and durations only; the API keeps it).
    environment: env({ ...common, BTPS_SERVER_ADMIN_PORT: ADMIN_PORT, BTPS_SERVER_BACKEND: config.server.backend, BTPS_SERVER_UPLOAD_LIMIT_MBIT: config.server.uploadLimitMbit, BTPS_SERVER_KEY_FILE: SERVER_KEY_SECRET_PATH, ...(cluster.metrics ? { BTPS_SERVER_METRICS_PUBLIC: 'yes' } : {}), ...gpuEnv(serverHost) }),
    // The admin API is published only when asked; otherwise it is reached from inside the server's container.
    ...(cluster.publishAdmin ? { ports: [published(ADMIN_PORT, cluster.adminPort)] } : {}),
    volumes: [
      cluster.stateDir === '' ? { type: 'volume', source: 'state', target: STATE_DIR } : { type: 'bind', source: cluster.stateDir, target: STATE_DIR },
      scratch(cluster)
    ]
  })
  const names = clientNames(config.job.clients)
  let next = 0
  for (const host of cluster.hosts) {
    for (let i = 0; i < host.clients; i++) {
      const name = names[next++]
      services[name] = service(cluster, config, 'client', host, {
        image: imageName(cluster, host.gpu === '' ? 'peer' : 'peer-gpu'),
        command: ['client'],
        hostname: name,
        secrets: [secret('psk')],
        environment: env({ ...common, BTPS_CLIENT_ID: name, BTPS_CLIENT_SERVER: `/dns4/server/tcp/${cluster.p2pPort}/p2p/${server.peerId}`, BTPS_CLIENT_BACKEND: config.client.backend, BTPS_CLIENT_HEARTBEAT_S: config.client.heartbeatS, ...(cluster.metrics ? { BTPS_CLIENT_METRICS_PORT: CLIENT_METRICS_PORT } : {}), ...gpuEnv(host) }),
        volumes: [scratch(cluster)]
      })
    }
  }
  if (cluster.metrics) services.prometheus = prometheusService(cluster, config, serverHost, names)
  return {
    version: '3.8',
    services,
    // Not attachable: only the stack's own services join it, not a `docker run --network` container.
    networks: { [cluster.network]: { driver: 'overlay', attachable: false, ...(cluster.encryptNetwork ? { driver_opts: { encrypted: 'true' } } : {}), labels: { 'io.bt-ps.job': config.job.id } } },
    secrets: {
      psk: { file: pskFile, labels: { 'io.bt-ps.job': config.job.id } },
      server_key: { file: server.keyFile, labels: { 'io.bt-ps.job': config.job.id } }
    },
    ...(cluster.stateDir === '' || cluster.metrics ? { volumes: { ...(cluster.stateDir === '' ? { state: { labels: { 'io.bt-ps.job': config.job.id } } } : {}), ...(cluster.metrics ? { prometheus: { labels: { 'io.bt-ps.job': config.job.id } } } : {}) } } : {})
  }
}

/** Prometheus's scrape configuration for the stack: every role by its service name on the overlay network. */
export function prometheusConfig (clients: string[]): string {
  const job = (name: string, targets: string[]): string => `  - job_name: ${name}\n    static_configs: [{ targets: [${targets.map(t => `'${t}'`).join(', ')}] }]\n`
  return 'global: { scrape_interval: 5s }\nscrape_configs:\n' +
    job('bt-ps-tracker', [`tracker:${TRACKER_PORT}`]) +
    job('bt-ps-server', [`server:${ADMIN_PORT}`]) +
    job('bt-ps-clients', clients.map(c => `${c}:${CLIENT_METRICS_PORT}`))
}

/**
 * `cluster.metrics: yes`: Prometheus beside the server, its configuration carried in the service itself (the stack
 * file stays the one file to deploy), its data in a volume, its UI on the server's host.
 */
function prometheusService (cluster: ClusterConfig, config: Config, host: ClusterHost, clients: string[]): Service {
  return service(cluster, config, 'prometheus', host, {
    image: cluster.prometheusImage,
    hostname: 'prometheus',
    environment: { PROMETHEUS_YML: prometheusConfig(clients) },
    // $$ is a literal $ to docker stack; the image has a shell.
    entrypoint: ['/bin/sh', '-c', 'printf "%s" "$$PROMETHEUS_YML" > /tmp/prometheus.yml && exec /bin/prometheus --config.file=/tmp/prometheus.yml --storage.tsdb.path=/prometheus'],
    ...(cluster.prometheusPort > 0 ? { ports: [published(9090, cluster.prometheusPort)] } : {}),
    volumes: [{ type: 'volume', source: 'prometheus', target: '/prometheus' }, scratch(cluster)]
  })
}

export function stackYaml (config: Config, cluster: ClusterConfig, source: string, pskFile: string, server: ServerIdentity): string {
  const header = `# docker stack for job ${config.job.id}: generated by \`bt-ps stack generate\` from ${source}; edit that file, not this one.\n`
  // YAML 1.1, as docker reads it: strings such as "no" and "yes" (job.synthetic_update) are quoted, not booleans.
  return header + stringify(stackFile(config, cluster, pskFile, server), { lineWidth: 0, version: '1.1' })
}
