/**
 * Running a sweep from code: `runSweep(spec, options)` executes the sweep workflow locally in
 * process (the default) or on the deployed stack (`cloud`), reports progress through `onEvent`,
 * and returns the summary. Nothing here installs signal handlers or exits the process: stopping a
 * run is `options.signal`, and what to print is the caller's.
 */
import { dirname, resolve } from 'node:path';
import type { StoredCostEstimate } from './cost/model.js';
import { DEFAULT_LEASE_SECONDS, DEFAULT_RESULTS_DIR } from './env.js';
import { FloodsweepError, UsageError } from './errors.js';
import { stringifyKeepingNonFinite } from './flooding/json.js';
import type { BackendRequest } from './flooding/names.js';
import { loadSpecFile, readInputFile } from './input-files.js';
import { pinFileHashes, planTasks } from './planned-tasks.js';
import { type HeldLease, holdLease, refuseIfLeased } from './store/lease.js';
import { openStores, type StoreConfig, type Stores } from './store/open.js';
import { sweepKeys } from './store/ports.js';
import { readSummary, readSweepSpec } from './store/summary.js';
import type { SweepSummary } from './sweep/aggregate.js';
import { loadModelFiles } from './sweep/model-files.js';
import { isDamaged, type TaskRecord } from './sweep/records.js';
import { parseBaseline, parseReproSpec, type SweepSnapshot } from './sweep/repro.js';
import { checkMemory, estimateSweep } from './sweep/resources.js';
import { checkSameSpec, type PlannedTask, resolveDataPaths, type SweepSpec, validateSpec } from './sweep/spec.js';
import {
  accountConcurrency,
  type CloudTarget,
  concurrencyFor,
  downloadResults,
  followCloudExecution,
  startCloudExecution,
} from './workflow/cloud-executor.js';
import { sweepIdOf } from './workflow/execution-names.js';
import { runWorkflowLocally, WorkflowAbortedError } from './workflow/local-executor.js';
import type { CompareOutput, ExecutionInput, ReproBlock } from './workflow/payloads.js';
import { refuseChangedData } from './workflow/plan.js';
import { uploadTaskFiles } from './workflow/task-files.js';
import { CLI_BASELINE_PREFIX } from './workflow-steps.js';

export interface RunSweepOptions {
  /**
   * The spec's planned tasks (`planTasks`), when the caller has them: a run then reads and hashes
   * its data files once, not again for each check.
   */
  plannedTasks?: readonly PlannedTask[];
  /** Where results go when the sweep runs locally: a results directory (the default, ./floodsweep-results) or DynamoDB + S3. */
  stores?: StoreConfig;
  /** Run on the deployed stack instead of in process; its table and bucket are the stores. */
  cloud?: { target: CloudTarget /** Where summary, plots and report are copied when it ends. */; downloadDir?: string };
  /**
   * Continue this existing sweep: only the missing work runs, from checkpoints. The spec must be
   * the one it was started with (after defaults); any other is refused naming the first difference.
   */
  sweepId?: string;
  /** With `sweepId`: retrain these tasks from scratch (their checkpoints and epoch rows dropped); an unknown id is bad input. */
  restartTasks?: string[];
  /** With `sweepId`: retrain every FAILED task from scratch, as `restartTasks`. */
  restartFailed?: boolean;
  /** Refuse sweeps above this many tasks (default 10,000). */
  maxTasks?: number;
  /** Local runs: the tfjs backend (default auto). */
  backend?: BackendRequest;
  /** Local runs: worker processes (default: the number of cores); at most the tasks, and the cores unless `oversubscribe`. */
  workers?: number;
  /** Local runs: allow more workers than cores. */
  oversubscribe?: boolean;
  /** Run tasks estimated to need more memory than they get (locally: their share of the available memory; in the cloud: the train function's). */
  ignoreMemoryLimit?: boolean;
  /** Local runs: epochs per Train call, i.e. how often tasks checkpoint. */
  epochsPerCall?: number;
  /** Local runs: the workers' stderr passes through unfiltered (TensorFlow's load-time lines included). */
  debug?: boolean;
  /** Makes the run a reproducibility run: Compare against this baseline after Aggregate. */
  repro?: ReproBlock;
  /** The estimate the sweep starts with (estimateSweepCost(...).stored), kept in its sweep record. */
  costEstimate?: StoredCostEstimate;
  onEvent?: (event: SweepEvent) => void;
  /**
   * Aborting stops a local run, marks its sweep INTERRUPTED (resumable from its checkpoints) and
   * rejects with WorkflowAbortedError; for a cloud run it stops only the following.
   */
  signal?: AbortSignal;
  /**
   * Local runs: seconds the run's lease on its sweep lasts unless renewed (default 30, renewed every
   * third of it). A run whose process dies shows as INTERRUPTED, and can be resumed, once it expires.
   */
  leaseSeconds?: number;
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
      /** Local runs: the worker processes training the tasks. */
      workers?: number;
      /** A resumed local sweep: what it found. */
      resumed?: ResumeFindings;
    }
  | { type: 'progress'; progress: SweepProgress }
  /** A drifted reproducibility run's alert (an SNS message in the cloud). */
  | { type: 'alert'; subject: string; message: string }
  /** Something the run changed on its own, e.g. a cloud sweep's maxConcurrency lowered to the account's Lambda concurrency. */
  | { type: 'notice'; message: string };

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
export async function runSweep(given: SweepSpec, options: RunSweepOptions = {}): Promise<SweepRunResult> {
  const { restartTasks, restartFailed } = options;
  const restarting = (restartTasks?.length ?? 0) > 0 || restartFailed === true;
  if (restarting && options.sweepId === undefined) {
    throw new UsageError('restarting tasks needs the sweep to resume (--resume ID, or the sweepId option)');
  }
  // Model files are built (and refused if they do not fit the data) before anything else.
  const planned = options.plannedTasks ?? planTasks(validateSpec(given), { maxTasks: options.maxTasks });
  await loadModelFiles(planned);
  // Plan in the cloud runs where the files are not: the spec it gets pins their hashes.
  const spec = options.cloud ? pinFileHashes(given, planned) : given;
  const input: ExecutionInput = {
    spec,
    sweepId: options.sweepId,
    maxTasks: options.maxTasks,
    repro: options.repro,
    restart: restarting ? { taskIds: restartTasks, failed: restartFailed } : undefined,
    costEstimate: options.costEstimate,
  };
  const storeConfig = options.cloud?.target.stores ?? options.stores ?? defaultStores();
  // A sweep id of no stored sweep names a new sweep; one that exists must be given its own spec.
  const stored = options.sweepId ? await findStoredSpec(openStores(storeConfig), options.sweepId) : undefined;
  if (stored) {
    // Refused here before anything runs (not even the lease is taken); Plan checks both again.
    checkSameSpec(options.sweepId!, stored, validateSpec(spec));
    // Damaged task records are planned again; the others say which data files the sweep was planned with.
    const tasks = (await openStores(storeConfig).metrics.scanTasks(options.sweepId!)).filter(
      (task): task is TaskRecord => !isDamaged(task),
    );
    refuseChangedData(options.sweepId!, tasks, planned);
  }
  // Train may run where the files are not (a Lambda): the bucket holds them, by content hash.
  if (storeConfig.kind === 'aws') await uploadTaskFiles(openStores(storeConfig).artifacts, planned);
  if (options.cloud) return runInCloud(input, options.cloud, planned, options);
  return runLocally(input, storeConfig, { ...options, plannedTasks: planned });
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
  const spec =
    typeof reproSpec.spec === 'string'
      ? loadSpecFile(near(reproSpec.spec))
      : resolveDataPaths(validateSpec(reproSpec.spec), dirname(reproSpecPath));
  const stores = openStores(options.cloud?.target.stores ?? options.stores ?? defaultStores());
  let baseline: ReproBlock['baseline'];
  if ('file' in reproSpec.baseline) {
    const baselineFile = near(reproSpec.baseline.file);
    const snapshot = parseBaseline(readInputFile(baselineFile, 'baseline'), baselineFile);
    baseline = { key: await storeBaseline(stores, reproSpec.name, snapshot) };
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

/**
 * Stores a reproducibility run's baseline file where the workflow's Compare step may read it (its
 * role reads `baselines/*`); returns its key. Under `cli/`, so that it never overwrites a baseline
 * a schedule names (`baselines/<schedule>.json`).
 */
export async function storeBaseline(stores: Stores, reproName: string, snapshot: SweepSnapshot): Promise<string> {
  const key = `${CLI_BASELINE_PREFIX}${reproName}.json`;
  await stores.artifacts.put(key, stringifyKeepingNonFinite(snapshot), 'application/json');
  return key;
}

/** The spec a sweep was planned with; an unknown sweep id is bad input. */
export async function readStoredSpec(stores: Stores, sweepId: string): Promise<SweepSpec> {
  const spec = await findStoredSpec(stores, sweepId);
  if (!spec) throw new UsageError(`sweep "${sweepId}" not found in ${stores.artifacts.locate('')}`);
  return spec;
}

/**
 * The stored spec of a sweep, if it has one. Plan writes the spec before the sweep record, so a
 * run stopped in between (killed, or a store that failed) leaves a spec without a record: still
 * the sweep's identity, and enough to resume it.
 */
async function findStoredSpec(stores: Stores, sweepId: string): Promise<SweepSpec | undefined> {
  return readSweepSpec(stores, sweepId, await stores.metrics.getSweep(sweepId));
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

async function runLocally(given: ExecutionInput, storeConfig: StoreConfig, options: RunSweepOptions): Promise<SweepRunResult> {
  const emit = options.onEvent ?? (() => undefined);
  // The sweep id is known before Plan, so that the lease is taken before Plan writes anything.
  const input = { ...given, sweepId: sweepIdOf(given) };
  const stores = openStores(storeConfig);
  let lease: HeldLease | undefined;
  let leaseLost: FloodsweepError | undefined;
  const progress: SweepProgress = {
    sweepId: input.sweepId,
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
  if (given.sweepId) await refuseIfLeased(stores.metrics, given.sweepId);
  const execution = runWorkflowLocally(input, {
    stores: storeConfig,
    backend: options.backend ?? 'auto',
    workers: options.workers,
    oversubscribe: options.oversubscribe,
    ignoreMemoryLimit: options.ignoreMemoryLimit,
    epochsPerCall: options.epochsPerCall,
    debug: options.debug,
    plannedTasks: options.plannedTasks,
    beforePlan: async (sweepId) => {
      // Once per run, though Plan may be retried.
      lease ??= await holdLease(stores.metrics, sweepId, options.leaseSeconds ?? DEFAULT_LEASE_SECONDS, (lost) => {
        leaseLost = lost;
        execution.abort();
      });
    },
    onPlanned: async (plan, backend, workers) => {
      Object.assign(progress, { sweepId: plan.sweepId, tasksTotal: plan.taskCount, epochsTotal: plan.epochCount });
      const resumed = given.sweepId ? resumeFindings(await stores.metrics.listTasks(plan.sweepId)) : undefined;
      emit({ type: 'started', sweepId: plan.sweepId, taskCount: plan.taskCount, where: backend, workers, resumed });
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
    const summary = await requireSummary(stores, aggregate.sweepId);
    return { sweepId: aggregate.sweepId, summary, reportLocation: stores.artifacts.locate(aggregate.reportKey), compare };
  } catch (error) {
    if (leaseLost) throw leaseLost;
    if (error instanceof WorkflowAbortedError && lease) {
      const reason = options.signal?.reason;
      const cause = typeof reason === 'string' ? `stopped by ${reason} before the end` : 'aborted before the end';
      await stores.metrics.updateSweep(input.sweepId, ['RUNNING'], { status: 'INTERRUPTED', error: cause });
    }
    throw error;
  } finally {
    options.signal?.removeEventListener('abort', abort);
    await lease?.release();
  }
}

async function runInCloud(
  input: ExecutionInput,
  cloud: NonNullable<RunSweepOptions['cloud']>,
  tasks: readonly PlannedTask[],
  options: RunSweepOptions,
): Promise<SweepRunResult> {
  const emit = options.onEvent ?? (() => undefined);
  const { trainMemoryMb, stackName } = cloud.target;
  const spec = validateSpec(input.spec);
  // A stack deployed before it said its train function's memory is not checked.
  if (!options.ignoreMemoryLimit && trainMemoryMb !== undefined) {
    checkMemory(estimateSweep(tasks), { bytesPerTask: trainMemoryMb * 2 ** 20, source: `the train function of stack ${stackName}` });
  }
  // A sweep that an execution (or a local run) holds is refused at once, naming the holder; Plan takes the lease atomically.
  if (input.sweepId) await refuseIfLeased(openStores(cloud.target.stores).metrics, input.sweepId);
  const requested = Math.min(spec.execution.maxConcurrency, cloud.target.maxConcurrency ?? Number.POSITIVE_INFINITY);
  const { maxConcurrency, notice } = concurrencyFor(requested, await accountConcurrency(cloud.target), cloud.target);
  if (notice) emit({ type: 'notice', message: notice });
  const { sweepId, executionArn } = await startCloudExecution(
    maxConcurrency < requested ? { ...input, maxConcurrency } : input,
    cloud.target,
  );
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
