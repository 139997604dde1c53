/**
 * floodsweep as a library: run sweeps and reproducibility runs from code, with the same workflow
 * and stores as the `floodsweep` command.
 *
 *   import { loadSpecFile, runSweep } from 'floodsweep';
 *   const { summary } = await runSweep(loadSpecFile('examples/tiny.json'), { stores: { kind: 'local', rootDir: './results' } });
 */
export {
  defaultStores,
  readStoredSpec,
  requireSummary,
  resumeSweep,
  runReproducibility,
  runSweep,
  type RunSweepOptions,
  type SweepEvent,
  type SweepProgress,
  type SweepRunResult,
} from './run.js';
export { loadSpecFile } from './input-files.js';
export { type ErrorKind, exitCodeOf, FloodsweepError, UsageError } from './errors.js';
export { DEFAULT_MAX_TASKS, DEFAULT_RESULTS_DIR, ENV_NAMES, readEnvironment } from './env.js';
export { parseSpecText, validateSpec, expandSpec, type PlannedTask, type SweepSpec } from './sweep/spec.js';
export type { GroupSummary, LevelSummary, SweepSummary } from './sweep/aggregate.js';
export { compareSnapshots, parseBaseline, type Comparison, type SweepSnapshot } from './sweep/repro.js';
export type { SweepRecord, TaskRecord } from './sweep/records.js';
export { openStores, type StoreConfig, type Stores } from './store/open.js';
export type { ArtifactStore, MetricsStore } from './store/ports.js';
export { resolveCloudTarget, type CloudTarget } from './workflow/cloud-executor.js';
export { compareAndRecord, loadSnapshot } from './workflow/compare.js';
export type { CompareOutput, ReproBlock } from './workflow/payloads.js';
export { resolveTaskConfig, type TaskConfig } from './flooding/config.js';
export type { EpochMetrics, TaskResult } from './flooding/metrics.js';
export { initBackend } from './flooding/backend.js';
export { runTask, TrainingRun } from './flooding/trainer.js';
