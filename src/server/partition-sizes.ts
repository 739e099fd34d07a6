import type { Config } from '../config/schema.js'
import { partition } from '../training/partition.js'
import type { Dataset } from '../training/mnist.js'

/**
 * Each partition's sample count: a client's weight in the aggregate, in both upload modes. The server computes
 * it from the job's training labels (the same seeded split the clients make), never from what a client declares.
 * Distribution-only rounds (no labels) weigh every client the same.
 */
export function partitionSizes (job: Config['job'], train?: Pick<Dataset, 'y' | 'groups'>): number[] {
  if (train == null) return Array.from({ length: job.clients }, () => 1)
  return partition(train.y, { kind: job.partition, clients: job.clients, seed: job.seed, alpha: job.alpha, groups: train.groups }).map(p => p.length)
}
