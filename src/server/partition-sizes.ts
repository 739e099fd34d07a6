import type { Config } from '../config/schema.js'
import { loadMnist } from '../training/mnist.js'
import { partition } from '../training/partition.js'

/**
 * Each partition's sample count: a client's weight in the aggregate, in both upload modes. The server computes
 * it from the job (the same seeded split the clients make), never from what a client declares. Distribution-only
 * rounds weigh every client the same.
 */
export function partitionSizes (job: Config['job']): number[] {
  if (job.task !== 'train') return Array.from({ length: job.clients }, () => 1)
  const { train } = loadMnist({ trainSamples: job.trainSamples, testSamples: job.testSamples, seed: job.seed })
  return partition(train.y, { kind: job.partition, clients: job.clients, seed: job.seed, alpha: job.alpha }).map(p => p.length)
}
