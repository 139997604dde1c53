import { arrayDataset, isArrayDataset } from './array-datasets.js';
import type { DatasetConfig } from './config.js';
import { builtInDataset, type Dataset } from './datasets.js';
import { Rng } from './rng.js';

/**
 * Builds the dataset of `config`. All randomness comes from the seed's 'data' stream, consumed
 * split by split in the order train, val, test, so the size of a later split never changes an
 * earlier one.
 */
export function makeDataset(config: DatasetConfig, seed: number): Dataset {
  const rng = Rng.stream(seed, 'data');
  return isArrayDataset(config) ? arrayDataset(config, rng) : builtInDataset(config, rng);
}
