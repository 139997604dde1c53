import type { TaskConfig } from './config.js';

/** Loss and accuracy of one split, on its (possibly noisy) labels and on its clean labels. */
export interface SplitMetrics {
  loss: number;
  /** Fraction 0..1. */
  acc: number;
  cleanLoss: number;
  cleanAcc: number;
}

export const SPLITS = ['train', 'val', 'test'] as const;
export type SplitName = (typeof SPLITS)[number];

/**
 * One evaluated epoch. Epoch 0 is the model before training. Training statistics
 * (`floodedFraction`, `objective`, `seconds`) cover the epochs since the previous row.
 */
export interface EpochMetrics {
  epoch: number;
  train: SplitMetrics;
  val: SplitMetrics;
  test: SplitMetrics;
  /** Fraction of mini-batches whose mean loss was below the flood level (gradient ascent steps). */
  floodedFraction: number;
  /** Mean of the flooded training objective |L - b| + b over those mini-batches. */
  objective: number;
  lr: number;
  seconds: number;
}

export interface TaskResult {
  /** What backendDescription() says: the backend, and for tfjs-node its libtensorflow version. */
  backend: string;
  config: TaskConfig;
  /** The last epoch's metrics. */
  final: { train: SplitMetrics; val: SplitMetrics; test: SplitMetrics };
  epochs: EpochMetrics[];
}
