/**
 * A sweep's cost before it runs: `estimateSweepCost(spec)` calibrates by training a few epochs of
 * one task per distinct compute shape locally (the real trainer, on the backend it reports), or
 * takes the seconds per epoch it is given, scales them to the deployed function and prices the
 * sweep with src/sweep/cost.ts.
 */
import { initBackend } from '../flooding/backend.js';
import type { TaskConfig } from '../flooding/config.js';
import { makeDataset } from '../flooding/make-dataset.js';
import type { BackendRequest } from '../flooding/names.js';
import { TrainingRun } from '../flooding/trainer.js';
import { planTasks } from '../planned-tasks.js';
import { checkModelFilesTrainOn, loadModelFiles } from '../sweep/model-files.js';
import { checkMemory, estimateSweep, localMemoryBudget } from '../sweep/resources.js';
import type { PlannedTask, SweepSpec } from '../sweep/spec.js';
import { availableMemory } from '../workflow/workers.js';
import type { TrainRuntime } from '../workflow-steps.js';
import {
  ASSUMED,
  type CostBreakdown,
  DEFAULT_REGION,
  DEPLOYED,
  evaluatedEpochs,
  flopTiming,
  LIST_PRICES,
  lambdaSecondsFactor,
  type PriceTable,
  plannedShape,
  priceSweep,
  regionPrices,
  type StoredCostEstimate,
  storedEstimate,
  type TaskTiming,
} from './model.js';

export interface CostEstimateOptions {
  /** Default us-east-1. */
  region?: string;
  /** The deployed train function's packaging (default container, as infra deploys). */
  runtime?: TrainRuntime;
  /** Default: the stack's default for the runtime (3,538 MB container, 1,769 MB zip). */
  trainMemoryMb?: number;
  /** Seconds per epoch on the deployed function, instead of a calibration. */
  secondsPerEpoch?: number;
  /** Default: LIST_PRICES. */
  prices?: PriceTable;
  /** The calibration's backend (default auto). */
  backend?: BackendRequest;
  maxTasks?: number;
  /**
   * The spec's planned tasks (`planTasks`), when the caller has them: a run then reads and hashes
   * its data files once, not again for each check.
   */
  plannedTasks?: readonly PlannedTask[];
  /** Epochs per Train call (local runs); default: as many as the function's timeout allows. */
  epochsPerCall?: number;
  repro?: boolean;
  /** Calibrate even a task estimated not to fit this machine's available memory. */
  ignoreMemoryLimit?: boolean;
}

export interface Calibration {
  backend: string;
  /** Tasks trained (one per distinct data set, model and batch size, at most MAX_CALIBRATED). */
  tasks: number;
  /** Epochs timed per task, at most (after one warm-up epoch). */
  epochs: number;
}

export interface SweepCostEstimate {
  breakdown: CostBreakdown;
  taskCount: number;
  region: string;
  runtime: TrainRuntime;
  trainMemoryMb: number;
  pricesReadOn: string;
  /** How the seconds per epoch were found. */
  timing: string;
  calibration?: Calibration;
  /** What the sweep record keeps. */
  stored: StoredCostEstimate;
}

/** Beyond this many distinct shapes, the others are scaled from the calibrated ones by their FLOPs. */
const MAX_CALIBRATED = 8;
const TIMED_EPOCHS = 3;
const MAX_TIMED_EPOCHS = 6;

export async function estimateSweepCost(spec: SweepSpec, options: CostEstimateOptions = {}): Promise<SweepCostEstimate> {
  const table = options.prices ?? LIST_PRICES;
  const region = options.region ?? DEFAULT_REGION;
  const prices = regionPrices(table, region);
  const runtime = options.runtime ?? 'container';
  const trainMemoryMb = options.trainMemoryMb ?? DEPLOYED.trainMemoryMb[runtime];
  const planned = options.plannedTasks ?? planTasks(spec, { maxTasks: options.maxTasks });
  await loadModelFiles(planned);
  const configs = planned.map((task) => task.config);
  let timing: (config: TaskConfig) => TaskTiming;
  let calibration: Calibration | undefined;
  let described: string;
  if (options.secondsPerEpoch !== undefined) {
    const given = { secondsPerEpoch: options.secondsPerEpoch, secondsPerCall: 0 };
    timing = () => given;
    described = `--seconds-per-epoch ${options.secondsPerEpoch}`;
  } else {
    // Calibration trains the tasks here, one at a time: one that cannot fit is refused, not run out of memory.
    if (!options.ignoreMemoryLimit) checkMemory(estimateSweep(planned), localMemoryBudget(availableMemory(), 1));
    const measured = await calibrate(configs, options.backend ?? 'auto');
    const factor = lambdaSecondsFactor(trainMemoryMb);
    timing = (config) => scaled(measured.timing(config), factor);
    calibration = measured.calibration;
    described = `calibrated on ${measured.calibration.backend} (${measured.calibration.tasks} task${measured.calibration.tasks === 1 ? '' : 's'}, ${measured.calibration.epochs} epochs each)`;
  }
  const groups = new Set(planned.map((task) => task.group)).size;
  const shape = plannedShape(configs, timing, {
    runtime,
    trainMemoryMb,
    concurrency: Math.min(spec.execution.maxConcurrency, DEPLOYED.maxConcurrency),
    epochsPerCall: options.epochsPerCall,
    repro: options.repro,
    figures: groups * ASSUMED.figuresPerGroup,
  });
  const breakdown = priceSweep(shape, prices);
  const settings = { region, runtime, trainMemoryMb, timing: described, pricesReadOn: table.readOn, prices };
  return { breakdown, taskCount: planned.length, ...settings, calibration, stored: storedEstimate(breakdown, settings) };
}

const scaled = (timing: TaskTiming, factor: number): TaskTiming => ({
  secondsPerEpoch: timing.secondsPerEpoch * factor,
  secondsPerCall: timing.secondsPerCall * factor,
});

/** What decides an epoch's time: data set, model, batch size and how often it evaluates (not lr, level or seed). */
function computeShape(config: TaskConfig): string {
  return JSON.stringify([config.dataset, config.model, config.training.batchSize, config.training.evalEvery, config.training.epochs]);
}

/**
 * Seconds per epoch and per call on one local core, measured: a fresh run (data set, model,
 * epoch 0's evaluation), one warm-up epoch (kernel compilation), then TIMED_EPOCHS epochs.
 */
async function calibrate(
  configs: TaskConfig[],
  backendRequest: BackendRequest,
): Promise<{ timing: (config: TaskConfig) => TaskTiming; calibration: Calibration }> {
  const backend = await initBackend(backendRequest);
  await checkModelFilesTrainOn(
    configs.map((config) => ({ config })),
    backend,
  );
  const shapes = new Map<string, TaskConfig>();
  for (const config of configs) if (!shapes.has(computeShape(config))) shapes.set(computeShape(config), config);
  const measured = new Map<string, TaskTiming>();
  let epochs = 0;
  for (const [shape, config] of [...shapes].slice(0, MAX_CALIBRATED)) {
    const result = timeTask(config);
    measured.set(shape, result.timing);
    epochs = Math.max(epochs, result.epochs);
  }
  // Shapes past the limit: their FLOP timing, corrected by how far the calibrated ones were from theirs.
  const ratios = [...measured].flatMap(([shape, t]) => {
    const cheap = flopTiming(shapes.get(shape)!);
    return cheap ? [t.secondsPerEpoch / cheap.secondsPerEpoch] : [];
  });
  const correction = ratios.length > 0 ? ratios.reduce((a, b) => a + b, 0) / ratios.length : 1;
  const fallback = [...measured.values()][0];
  const timing = (config: TaskConfig): TaskTiming => {
    const known = measured.get(computeShape(config));
    if (known) return known;
    const cheap = flopTiming(config);
    return cheap ? { secondsPerEpoch: cheap.secondsPerEpoch * correction, secondsPerCall: cheap.secondsPerCall } : fallback;
  };
  return { timing, calibration: { backend, tasks: measured.size, epochs } };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

function timeTask(config: TaskConfig): { timing: TaskTiming; epochs: number } {
  const clock = () => performance.now() / 1000;
  const dataStarted = clock();
  const dataset = makeDataset(config.dataset, config.seed);
  const dataSeconds = clock() - dataStarted;
  const run = TrainingRun.start(config, dataset);
  // Model build and epoch 0's evaluation.
  const evaluationSeconds = clock() - dataStarted - dataSeconds;
  try {
    const warmUp = clock();
    run.trainEpoch();
    const first = clock() - warmUp;
    const plain: number[] = [];
    const evaluated: number[] = [];
    // Enough epochs to time an evaluation after the warm-up where evaluations come often.
    const toTime = Math.min(MAX_TIMED_EPOCHS, Math.max(TIMED_EPOCHS, config.training.evalEvery));
    for (let i = 0; i < toTime && !run.finished; i++) {
      const started = clock();
      const row = run.trainEpoch();
      (row ? evaluated : plain).push(clock() - started);
    }
    const timed = plain.length + evaluated.length;
    // An epoch without evaluation, and an evaluation by itself; medians, as other work shares the cores.
    const train = plain.length > 0 ? median(plain) : evaluated.length > 0 ? median(evaluated) - evaluationSeconds : first;
    const evaluation = plain.length > 0 && evaluated.length > 0 ? median(evaluated) - median(plain) : evaluationSeconds;
    const checkpointStarted = clock();
    run.checkpoint();
    const checkpointSeconds = clock() - checkpointStarted;
    const { epochs } = config.training;
    return {
      timing: {
        secondsPerEpoch: Math.max(train, 0) + (Math.max(evaluation, 0) * evaluatedEpochs(config)) / epochs,
        secondsPerCall: dataSeconds + checkpointSeconds,
      },
      epochs: timed === 0 ? 1 : timed,
    };
  } finally {
    run.dispose();
  }
}
