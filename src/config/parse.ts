import { InvalidInputError } from '../errors.js'
import { SCHEMA, camel } from './schema.js'
import type { Config, FieldSpec } from './schema.js'
import { WEIGHTED_LAYERS } from '../model/architectures.js'
import { DATASET_IMAGES } from '../training/datasets.js'

/** The section `bt-ps stack` reads and the roles skip. */
export const CLUSTER_SECTION = 'cluster'

export type RawConfig = Record<string, Record<string, unknown>>

const fieldError = (field: string, message: string): InvalidInputError => new InvalidInputError('CONFIG_INVALID', field, message)

function parseField (field: string, spec: FieldSpec, value: unknown): number | string {
  const shown = JSON.stringify(value)
  switch (spec.type) {
    case 'int':
    case 'number': {
      const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value
      if (typeof n !== 'number' || !Number.isFinite(n)) throw fieldError(field, `expected a number, got ${shown}`)
      if (spec.type === 'int' && !Number.isInteger(n)) throw fieldError(field, `expected an integer, got ${shown}`)
      if (n < spec.min || n > spec.max) throw fieldError(field, `${n} is out of range [${spec.min}, ${spec.max}]`)
      return n
    }
    case 'enum':
      if (typeof value !== 'string' || !spec.values.includes(value)) throw fieldError(field, `expected one of ${spec.values.join(', ')}, got ${shown}`)
      return value
    case 'string':
      if (typeof value === 'number') value = String(value)
      if (typeof value !== 'string') throw fieldError(field, `expected a string, got ${shown}`)
      if (spec.pattern != null && !spec.pattern.test(value)) throw fieldError(field, `invalid value ${shown}`)
      return value
  }
}

/** Overlays layers of raw (snake_case) settings on the defaults and validates every field. */
export function parseConfig (...layers: RawConfig[]): Config {
  const out: Record<string, Record<string, unknown>> = {}
  for (const [section, fields] of Object.entries(SCHEMA)) {
    out[section] = {}
    for (const [key, spec] of Object.entries(fields)) out[section][camel(key)] = spec.default
  }
  for (const layer of layers) {
    if (layer == null || typeof layer !== 'object' || Array.isArray(layer)) throw fieldError('config', 'expected a mapping of sections')
    for (const [section, fields] of Object.entries(layer)) {
      if (section === CLUSTER_SECTION) continue // placement, not job settings: see cluster.ts
      const sectionSpec = (SCHEMA as Record<string, Record<string, FieldSpec>>)[section]
      if (sectionSpec == null) throw fieldError(section, `unknown section (expected one of ${[...Object.keys(SCHEMA), CLUSTER_SECTION].join(', ')})`)
      if (fields == null) continue
      if (typeof fields !== 'object' || Array.isArray(fields)) throw fieldError(section, 'expected a mapping')
      for (const [key, value] of Object.entries(fields)) {
        const spec = sectionSpec[key]
        if (spec == null) throw fieldError(`${section}.${key}`, 'unknown field')
        out[section][camel(key)] = parseField(`${section}.${key}`, spec, value)
      }
    }
  }
  if (out.job.clientsPerRound === 0) out.job.clientsPerRound = out.job.clients
  const config = out as Config
  const job = config.job
  if (job.clientsPerRound > job.clients) {
    throw fieldError('job.clients_per_round', `${job.clientsPerRound} is more than job.clients (${job.clients})`)
  }
  if (job.frozenLayers >= WEIGHTED_LAYERS[job.model]) {
    throw fieldError('job.frozen_layers', `${job.frozenLayers} would freeze every layer of the ${job.model} model (it has ${WEIGHTED_LAYERS[job.model]} with weights); at most ${WEIGHTED_LAYERS[job.model] - 1}`)
  }
  if (job.pieceKib !== 0 && (job.pieceKib < 64 || (job.pieceKib & (job.pieceKib - 1)) !== 0)) {
    throw fieldError('job.piece_kib', `${job.pieceKib} is not a power of two from 64 to 4096 (or 0 for automatic)`)
  }
  if (job.dataset === 'file' && job.dataPath === '') throw fieldError('job.data_path', 'is required with job.dataset: file (a directory of IDX, CIFAR-10 or LEAF files)')
  const images = job.dataset === 'file' ? Infinity : DATASET_IMAGES[job.dataset]
  if (job.trainSamples + job.testSamples > images) {
    throw fieldError('job.train_samples', `train_samples + test_samples must be at most ${images} (the images ${job.dataset} ships), got ${job.trainSamples + job.testSamples}`)
  }
  return config
}

/** Number of clients the server selects each round: ceil(K * over_commitment), at most job.clients. */
export function selectionSize (job: Config['job']): number {
  return Math.min(job.clients, Math.ceil(job.clientsPerRound * job.overCommitment))
}
