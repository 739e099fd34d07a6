import type { JobConfig } from '../config/schema.js'
import { readFashionMnist } from './fashion-mnist.js'
import { loadFileDataset } from './file-dataset.js'
import { readMnistDigits, splitClasses } from './mnist.js'
import type { Dataset } from './mnist.js'

export type DatasetName = JobConfig['dataset']

/** Images each built-in dataset ships (train and test samples are drawn from these). */
export const DATASET_IMAGES: Record<Exclude<DatasetName, 'file'>, number> = { mnist: 10_000, 'fashion-mnist': 70_000 }

/** The job's train and test sets: a seeded, disjoint draw from a built-in dataset, or the user's files. */
export function loadDataset (job: Pick<JobConfig, 'dataset' | 'dataPath' | 'trainSamples' | 'testSamples' | 'seed'>): { train: Dataset, test: Dataset } {
  const opts = { trainSamples: job.trainSamples, testSamples: job.testSamples, seed: job.seed }
  if (job.dataset === 'file') return loadFileDataset(job.dataPath, opts)
  if (job.dataset === 'fashion-mnist') return splitClasses(readFashionMnist(), opts, 'Fashion-MNIST')
  return splitClasses(readMnistDigits(), opts, 'MNIST')
}
