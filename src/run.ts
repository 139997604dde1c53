/**
 * Running a sweep from code: `runSweep(spec, options)` executes the sweep workflow locally in
 * process (the default) or on the deployed stack (`cloud`), reports progress through `onEvent`,
 * and returns the summary. Nothing here installs signal handlers or exits the process: stopping a
 * run is `options.signal`, and what to print is the caller's.
 */
import { dirname, resolve } from 'node:path';
import { DEFAULT_RESULTS_DIR } from './env.js';
import { FloodsweepError, MissingStateError, UsageError } from './errors.js';
import { stringifyKeepingNonFinite } from './flooding/json.js';
import type { BackendRequest } from './flooding/names.js';
import { loadSpecFile, readInputFile } from './input-files.js';
import { openStores, type StoreConfig, type Stores } from './store/open.js';
import { sweepKeys } from './store/ports.js';
import { readSummary } from './store/summary.js';
import type { SweepSummary } from './sweep/aggregate.js';
import type { TaskRecord } from './sweep/records.js';
import { parseBaseline, parseReproSpec } from './sweep/repro.js';
import { parseSpecText, type SweepSpec, validateSpec } from './sweep/spec.js';
import { type CloudTarget, downloadResults, followCloudExecution, startCloudExecution } from './workflow/cloud-executor.js';
import { runWorkflowLocally } from './workflow/local-executor.js';
import type { CompareOutput, ExecutionInput, ReproBlock } from './workflow/payloads.js';

export interface RunSweepOptions {
  /** Where results go when the sweep runs locally: a results directory (the default, ./floodsweep-results) or DynamoDB + S3. */
  stores?: StoreConfig;
  /** Run on the deployed stack instead of in process; its table and bucket are the stores. */
  cloud?: { target: CloudTarget /** Where summary, plots and report are copied when it ends. */; downloadDir?: string };
  /** Continue this sweep (same spec): only the missing work runs, from checkpoints. */
  sweepId?: string;
  /** Refuse sweeps above this many tasks (default 10,000). */
  maxTasks?: number;
  /** Local runs: the tfjs backend (default auto). */
  backend?: BackendRequest;
  /** Local runs: worker threads (default: the number of cores). */
  workers?: number;
  /** Local runs: epochs per Train call, i.e. how often tasks checkpoint. */
  epochsPerCall?: number;
  /** Makes the run a reproducibility run: Compare against this baseline after Aggregate. */
  repro?: ReproBlock;
  onEvent?: (event: SweepEvent) => void;
  /** Aborting stops a local run (resumable from its checkpoints) or stops following a cloud run. */
  signal?: AbortSignal;
}

/** What a resumed sweep found: tasks already done, tasks that continue from a checkpoint, tasks that start over. */
export interface ResumeFindings {
  done: number;
  fromCheckpoint: Array<{ taskId: string; epoch: number }>;
  fromScratch: number;
}

/** How far a sweep is, in tasks and epochs. */
export interface SweepProgress {
  sweepId: string;
  tasksTotal: number;
  succeeded: number;
  failed: number;
  /** Tasks training now. */
  running: number;
  /** Local runs: the tasks training now, at which epoch of how many. */
  active: Array<{ taskId: string; epoch: number; epochs: number }>;
  epochsDone: number;
  epochsTotal: number;
}

export type SweepEvent =
  | {
      type: 'started';
      sweepId: string;
      taskCount: number;
      /** The backend, or the execution for cloud runs. */
      where: string;
      /** A resumed local sweep: what it found. */
      resumed?: ResumeFindings;
    }
  | { type: 'progress'; progress: SweepProgress }
  /** A drifted reproducibility run's alert (an SNS message in the cloud). */
  | { type: 'alert'; subject: string; message: string };

export interface SweepRunResult {
  sweepId: string;
  summary: SweepSummary;
  /** report.html: a file path, or where it was downloaded to from the cloud. */
  reportLocation: string;
  /** Reproducibility runs: the verdict. */
  compare?: CompareOutput;
}

/** The local results directory a run uses when no stores are given. */
export const defaultStores = (): StoreConfig => ({ kind: 'local', rootDir: DEFAULT_RESULTS_DIR });

/** Runs a sweep spec (from `parseSpecText`, `loadSpecFile` or `validateSpec`) through the workflow. */
export async function runSweep(spec: SweepSpec, options: RunSweepOptions = {}): Promise<SweepRunResult> {
  const input: ExecutionInput = { spec, sweepId: options.sweepId, maxTasks: options.maxTasks, repro: options.repro };
  if (options.cloud) return runInCloud(input, options.cloud, options);
  return runLocally(input, options.stores ?? defaultStores(), options);
}

/** Finishes an interrupted sweep with the spec it was started with. */
export async function resumeSweep(sweepId: string, options: RunSweepOptions = {}): Promise<SweepRunResult> {
  const stores = openStores(options.cloud?.target.stores ?? options.stores ?? defaultStores());
  return runSweep(await readStoredSpec(stores, sweepId), { ...options, sweepId });
}

/**
 * A reproducibility run: the pinned sweep of a repro spec file, then Compare against its baseline.
 * The baseline file is stored as an artifact so that the workflow (also in the cloud) can read it.
 */
export async function runReproducibility(
  reproSpecPath: string,
  options: Omit<RunSweepOptions, 'repro' | 'sweepId'> = {},
): Promise<SweepRunResult & { compare: CompareOutput }> {
  const reproSpec = parseReproSpec(readInputFile(reproSpecPath, 'repro spec'), reproSpecPath);
  const near = (path: string) => resolve(dirname(reproSpecPath), path);
  const spec = typeof reproSpec.spec === 'string' ? loadSpecFile(near(reproSpec.spec)) : validateSpec(reproSpec.spec);
  const stores = openStores(options.cloud?.target.stores ?? options.stores ?? defaultStores());
  let baseline: ReproBlock['baseline'];
  if ('file' in reproSpec.baseline) {
    const baselineFile = near(reproSpec.baseline.file);
    const snapshot = parseBaseline(readInputFile(baselineFile, 'baseline'), baselineFile);
    const key = `repro/${reproSpec.name}/baseline.json`;
    await stores.artifacts.put(key, stringifyKeepingNonFinite(snapshot), 'application/json');
    baseline = { key };
  } else {
    if (!(await stores.metrics.getSweep(reproSpec.baseline.sweepId))) {
      throw new UsageError(`baseline.sweepId: sweep "${reproSpec.baseline.sweepId}" not found`);
    }
    baseline = { sweepId: reproSpec.baseline.sweepId };
  }
  const result = await runSweep(spec, { ...options, repro: { name: reproSpec.name, baseline, tolerances: reproSpec.tolerances } });
  if (!result.compare) throw new FloodsweepError('internal', 'the reproducibility run ended without a comparison');
  return { ...result, compare: result.compare };
}

/** The spec a sweep was planned with; an unknown sweep id is bad input. */
export async function readStoredSpec(stores: Stores, sweepId: string): Promise<SweepSpec> {
  const sweep = await stores.metrics.getSweep(sweepId);
  if (!sweep) throw new UsageError(`sweep "${sweepId}" not found in ${stores.artifacts.locate('')}`);
  const bytes = await stores.artifacts.get(sweep.specKey);
  if (!bytes) throw new MissingStateError(`${stores.artifacts.locate(sweep.specKey)} is missing`);
  return parseSpecText(bytes.toString('utf8'), sweep.specKey);
}

/** A finished sweep's summary; a sweep that was never aggregated is bad input for a reading command. */
export async function requireSummary(stores: Stores, sweepId: string): Promise<SweepSummary> {
  const summary = await readSummary(stores, sweepId);
  if (!summary) throw new UsageError(`sweep "${sweepId}" has no summary (not found, or not aggregated yet)`);
  return summary;
}

function resumeFindings(tasks: readonly TaskRecord[]): ResumeFindings {
  const unfinished = tasks.filter((task) => task.status !== 'SUCCEEDED' && task.status !== 'PRUNED');
  const fromCheckpoint = unfinished.filter((task) => task.epochsDone > 0).map((task) => ({ taskId: task.taskId, epoch: task.epochsDone }));
  return { done: tasks.length - unfinished.length, fromCheckpoint, fromScratch: unfinished.length - fromCheckpoint.length };
}

async function runLocally(input: ExecutionInput, storeConfig: StoreConfig, options: RunSweepOptions): Promise<SweepRunResult> {
  const emit = options.onEvent ?? (() => undefined);
  const progress: SweepProgress = {
    sweepId: input.sweepId ?? '',
    tasksTotal: 0,
    succeeded: 0,
    failed: 0,
    running: 0,
    active: [],
    epochsDone: 0,
    epochsTotal: 0,
  };
  const epochsDone = new Map<string, number>();
  const running = new Map<string, { epoch: number; epochs: number }>();
  const report = () => {
    progress.active = [...running].map(([taskId, p]) => ({ taskId, ...p }));
    progress.running = running.size;
    progress.epochsDone = [...epochsDone.values()].reduce((a, b) => a + b, 0);
    emit({ type: 'progress', progress: structuredClone(progress) });
  };
  const execution = runWorkflowLocally(input, {
    stores: storeConfig,
    backend: options.backend ?? 'auto',
    workers: options.workers,
    epochsPerCall: options.epochsPerCall,
    onPlanned: async (plan, backend) => {
      Object.assign(progress, { sweepId: plan.sweepId, tasksTotal: plan.taskCount, epochsTotal: plan.epochCount });
      const resumed = input.sweepId ? resumeFindings(await openStores(storeConfig).metrics.listTasks(plan.sweepId)) : undefined;
      emit({ type: 'started', sweepId: plan.sweepId, taskCount: plan.taskCount, where: backend, resumed });
    },
    onEpoch: (taskId, epoch, epochs) => {
      running.set(taskId, { epoch, epochs });
      epochsDone.set(taskId, epoch);
      report();
    },
    onTaskEnd: (taskId, outcome) => {
      running.delete(taskId);
      progress[outcome] += 1;
      report();
    },
    onAlert: (subject, message) => emit({ type: 'alert', subject, message }),
  });
  const abort = () => execution.abort();
  options.signal?.addEventListener('abort', abort, { once: true });
  try {
    const { aggregate, compare } = await execution.result;
    const stores = openStores(storeConfig);
    const summary = await requireSummary(stores, aggregate.sweepId);
    return { sweepId: aggregate.sweepId, summary, reportLocation: stores.artifacts.locate(aggregate.reportKey), compare };
  } finally {
    options.signal?.removeEventListener('abort', abort);
  }
}

async function runInCloud(
  input: ExecutionInput,
  cloud: NonNullable<RunSweepOptions['cloud']>,
  options: RunSweepOptions,
): Promise<SweepRunResult> {
  const emit = options.onEvent ?? (() => undefined);
  const { sweepId, executionArn } = await startCloudExecution(input, cloud.target);
  emit({ type: 'started', sweepId, taskCount: 0, where: executionArn });
  const { compare } = await followExecution(sweepId, executionArn, cloud.target, options);
  const stores = openStores(cloud.target.stores);
  const summary = await requireSummary(stores, sweepId);
  const reportLocation = cloud.downloadDir
    ? await downloadResults(stores, sweepId, cloud.downloadDir)
    : stores.artifacts.locate(sweepKeys(sweepId).report);
  return { sweepId, summary, reportLocation, compare };
}

/** Follows a cloud execution with progress events; aborting stops following, not the execution. */
export async function followExecution(
  sweepId: string,
  executionArn: string,
  target: CloudTarget,
  options: Pick<RunSweepOptions, 'onEvent' | 'signal'> = {},
): Promise<{ compare?: CompareOutput }> {
  const emit = options.onEvent ?? (() => undefined);
  try {
    return await followCloudExecution(executionArn, target, {
      signal: options.signal,
      onProgress: ({ tasksTotal, succeeded, failed, running }) =>
        emit({
          type: 'progress',
          // The Map Run counts child executions, not epochs: progress and ETA are in tasks.
          progress: {
            sweepId,
            tasksTotal,
            succeeded,
            failed,
            running,
            active: [],
            epochsDone: succeeded + failed,
            epochsTotal: tasksTotal,
          },
        }),
    });
  } catch (error) {
    if (options.signal?.aborted)
      throw new FloodsweepError('internal', `stopped following ${executionArn}; the execution keeps running`, { cause: error });
    throw error;
  }
}
