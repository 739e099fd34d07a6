import { SCHEMA } from './schema.js'
import type { FieldSpec } from './schema.js'

type JsonSchema = Record<string, unknown>

function field (spec: FieldSpec): JsonSchema {
  const base = { description: spec.help, default: spec.default }
  if (spec.type === 'int') return { ...base, type: 'integer', minimum: spec.min, maximum: spec.max }
  if (spec.type === 'number') return { ...base, type: 'number', minimum: spec.min, maximum: spec.max }
  if (spec.type === 'enum') return { ...base, enum: [...spec.values] }
  return { ...base, type: 'string', ...(spec.pattern != null ? { pattern: spec.pattern.source } : {}) }
}

const yesNo = (description: string): JsonSchema => ({ description, enum: ['yes', 'no', true, false] })
const port = (description: string): JsonSchema => ({ description, type: 'integer', minimum: 1, maximum: 65535 })

/** The `cluster:` section as `bt-ps stack` reads it (src/config/cluster.ts checks the same, with messages). */
const CLUSTER: JsonSchema = {
  type: 'object',
  description: 'where the job\'s containers run: `bt-ps stack generate|deploy` turns it into a docker stack',
  additionalProperties: false,
  required: ['hosts'],
  properties: {
    stack: { type: 'string', description: 'stack name', default: 'btps' },
    registry: { type: 'string', description: 'image prefix, e.g. registry.lab:5000/ml (empty: local images)' },
    tag: { type: ['string', 'number'], description: 'image tag', default: 'latest' },
    network: { type: 'string', description: 'overlay network name', default: 'btps' },
    tracker_host: { type: 'string', description: 'host (one of hosts) that runs the tracker' },
    server_host: { type: 'string', description: 'host (one of hosts) that runs the server' },
    tracker_port: port('tracker port published on its host'),
    admin_port: port('admin API port published on the server\'s host (publish_admin: yes)'),
    p2p_port: port('the server\'s libp2p port'),
    state_dir: { type: 'string', description: 'absolute host directory for runs/ and checkpoints/ (empty: a named volume)' },
    tmpfs_mb: { type: 'integer', minimum: 16, description: 'size of each container\'s /tmp' },
    psk_file: { type: 'string', description: 'the job\'s pre-shared key on the manager (empty: <stack>.swarm.key beside the config)' },
    publish_admin: yesNo('publish the admin API on the server\'s host'),
    encrypt_network: yesNo('IPsec between hosts on the overlay network'),
    metrics: yesNo('a Prometheus service that scrapes every role; clients serve /metrics'),
    prometheus_image: { type: 'string', description: 'Prometheus image', default: 'prom/prometheus:v2.53.0' },
    prometheus_port: { type: 'integer', minimum: 0, maximum: 65535, description: 'Prometheus UI port on the server\'s host (0: not published)' },
    memory_mb: {
      type: 'object',
      additionalProperties: false,
      description: 'memory limit per container, MiB (0: none)',
      properties: Object.fromEntries(['tracker', 'server', 'client'].map(r => [r, { type: 'integer', minimum: 0 }]))
    },
    restart: {
      type: 'object',
      additionalProperties: false,
      properties: { condition: { enum: ['any', 'on-failure', 'none'] }, delay_s: { type: 'integer', minimum: 0 }, max_attempts: { type: 'integer', minimum: 0 } }
    },
    logging: {
      type: 'object',
      additionalProperties: false,
      properties: { driver: { type: 'string' }, max_size: { type: 'string', pattern: '^\\d{1,6}[kmg]$' }, max_file: { type: 'integer', minimum: 1, maximum: 100 } }
    },
    hosts: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name'],
        properties: {
          name: { type: 'string', description: 'the docker node\'s hostname, or * for any node' },
          clients: { type: 'integer', minimum: 0, maximum: 1000 },
          gpu: { type: ['string', 'integer'], description: 'NVIDIA device index or GPU-<uuid>; none runs on CPU' }
        }
      }
    }
  }
}

/** A JSON Schema (2020-12) of job files, for editors (yaml-language-server) and CI checks. */
export function jobFileSchema (): JsonSchema {
  const sections = Object.fromEntries(Object.entries(SCHEMA).map(([name, fields]) => [name, {
    type: 'object',
    additionalProperties: false,
    properties: Object.fromEntries(Object.entries(fields).map(([key, spec]) => [key, field(spec as FieldSpec)]))
  }]))
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: 'https://bt-ps.dev/schema/job.json',
    title: 'bt-ps job file',
    description: 'A job: `bt-ps up`, the roles and `bt-ps stack` read it (--config FILE, BTPS_CONFIG or ./bt-ps.yml)',
    type: 'object',
    additionalProperties: false,
    properties: { ...sections, cluster: CLUSTER }
  }
}
