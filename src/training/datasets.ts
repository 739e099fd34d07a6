import type { DATASETS } from '../config/schema.js'
import { readFashionMnist } from './fashion-mnist.js'
import { readMnistDigits, splitClasses } from './mnist.js'
import type { Dataset } from './mnist.js'

export type DatasetName = typeof DATASETS[number]

/** Images each built-in dataset ships (train and test samples are drawn from these). */
export const DATASET_IMAGES: Record<DatasetName, number> = { mnist: 10_000, 'fashion-mnist': 70_000 }

/** The job's train and test sets: a seeded, disjoint draw from the dataset's images. */
export function loadDataset (name: DatasetName, opts: { trainSamples: number, testSamples: number, seed: number }): { train: Dataset, test: Dataset } {
  if (name === 'fashion-mnist') return splitClasses(readFashionMnist(), opts, 'Fashion-MNIST')
  return splitClasses(readMnistDigits(), opts, 'MNIST')
}
