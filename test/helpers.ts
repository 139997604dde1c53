/** Shared helpers for the training-engine tests (trainer.test.ts, backend.test.ts). */
import { tf } from '../src/flooding/backend.js';
import { resolveTaskConfig, type TaskConfig } from '../src/flooding/config.js';
import type { EpochMetrics, TaskResult } from '../src/flooding/metrics.js';
import type { TrainingRun } from '../src/flooding/trainer.js';

export interface SmallConfigOverrides {
  dataset?: Record<string, unknown>;
  model?: Record<string, unknown>;
  optimizer?: Record<string, unknown>;
  training?: Record<string, unknown>;
  floodLevel?: number;
  seed?: number;
}

/**
 * A task small enough for unit tests: 64/32/256 samples of sinusoid2d, a 2x32 MLP with batch norm,
 * SGD with momentum, batches of 16 (4 steps per epoch), 4 epochs, evaluated every epoch.
 * `dataset` and `training` are merged into the defaults; `model` and `optimizer` replace them.
 */
export function smallConfig(overrides: SmallConfigOverrides = {}): TaskConfig {
  return resolveTaskConfig({
    dataset: { name: 'sinusoid2d', nTrain: 64, nVal: 32, nTest: 256, ...overrides.dataset },
    model: overrides.model ?? { kind: 'mlp', depth: 2, width: 32 },
    optimizer: overrides.optimizer ?? { name: 'sgd', lr: 0.05, momentum: 0.9 },
    training: { epochs: 4, batchSize: 16, evalEvery: 1, ...overrides.training },
    floodLevel: overrides.floodLevel ?? 0,
    seed: overrides.seed ?? 1,
  });
}

/** An epoch row without its wall-clock `seconds`, the one field that may differ between equal runs. */
export type TimelessRow = Omit<EpochMetrics, 'seconds'>;

export function withoutSeconds(rows: readonly EpochMetrics[]): TimelessRow[] {
  return rows.map(({ seconds: _seconds, ...rest }) => rest);
}

export function timelessResult(result: TaskResult): Omit<TaskResult, 'epochs'> & { epochs: TimelessRow[] } {
  return { ...result, epochs: withoutSeconds(result.epochs) };
}

/** Trains the run to its last epoch and returns its rows. */
export function trainToEnd(run: TrainingRun): EpochMetrics[] {
  while (!run.finished) run.trainEpoch();
  return run.rows;
}

/**
 * Live tensors as tfjs counts them, and data buffers as the backend holds them: a kernel that forgets to free an
 * intermediate shows only in the latter.
 */
export function liveTensors(): { numTensors: number; backendDataIds: number } {
  return { numTensors: tf.memory().numTensors, backendDataIds: tf.engine().backend.numDataIds() };
}
