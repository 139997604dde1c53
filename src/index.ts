/**
 * floodsweep as a library: run sweeps and reproducibility runs from code, with the same workflow
 * and stores as the `floodsweep` command.
 *
 *   import { loadSpecFile, runSweep } from 'floodsweep';
 *   const { summary } = await runSweep(loadSpecFile('examples/tiny.json'), { stores: { kind: 'local', rootDir: './results' } });
 */

export { type CostEstimateOptions, estimateSweepCost, type SweepCostEstimate } from './cost/estimate.js';
export {
  type CostBreakdown,
  type IncurredCost,
  incurredCost,
  LIST_PRICES,
  type PriceTable,
  parsePriceTable,
  type StoredCostEstimate,
} from './cost/model.js';
export { DEFAULT_MAX_TASKS, DEFAULT_RESULTS_DIR, ENV_NAMES, readEnvironment } from './env.js';
export { type ErrorKind, exitCodeOf, FloodsweepError, UsageError } from './errors.js';
export { initBackend } from './flooding/backend.js';
export { resolveTaskConfig, type TaskConfig } from './flooding/config.js';
export type { EpochMetrics, TaskResult } from './flooding/metrics.js';
export { runTask, TrainingRun } from './flooding/trainer.js';
export { loadSpecFile } from './input-files.js';
export { planTasks as expandSpec } from './planned-tasks.js';
export {
  defaultStores,
  type RunSweepOptions,
  readStoredSpec,
  requireSummary,
  resumeSweep,
  runReproducibility,
  runSweep,
  type SweepEvent,
  type SweepProgress,
  type SweepRunResult,
} from './run.js';
export { observeSweep, SweepLeasedError } from './store/lease.js';
export { openStores, type StoreConfig, type Stores } from './store/open.js';
export type { ArtifactStore, MetricsStore } from './store/ports.js';
export type { GroupSummary, LevelSummary, SweepSummary } from './sweep/aggregate.js';
export type { SweepLease, SweepRecord, SweepStatus, TaskRecord } from './sweep/records.js';
export { type Comparison, compareSnapshots, parseBaseline, type SweepSnapshot } from './sweep/repro.js';
export { type PlannedTask, parseSpecText, type SweepSpec, validateSpec } from './sweep/spec.js';
export { type CloudTarget, resolveCloudTarget } from './workflow/cloud-executor.js';
export { compareAndRecord, loadSnapshot } from './workflow/compare.js';
export { WorkflowAbortedError } from './workflow/local-executor.js';
export type { CompareOutput, ReproBlock } from './workflow/payloads.js';
