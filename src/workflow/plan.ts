import { jsonText } from '../control-chars.js';
import { UsageError } from '../errors.js';
import { dataFiles } from '../flooding/array-datasets.js';
import type { DatasetConfig } from '../flooding/config.js';
import { DatasetError, describeDataFile } from '../flooding/datasets.js';
import { planTasks } from '../planned-tasks.js';
import { takeExecutionLease } from '../store/lease.js';
import type { Stores } from '../store/open.js';
import { sweepKeys } from '../store/ports.js';
import { readSweepSpec, sha256Of } from '../store/summary.js';
import { referencesOf } from '../sweep/pruning.js';
import { isDamaged, SWEEP_STATUSES, type TaskRecord } from '../sweep/records.js';
import { checkSameSpec, type PlannedTask, parseSpecText, type SweepSpec, validateSpec } from '../sweep/spec.js';
import { EXECUTION_TIMEOUT_SECONDS } from '../workflow-steps.js';
import { checkTrainLoopHistory } from './cloud-limits.js';
import { sweepIdOfExecution } from './execution-names.js';
import { type ManifestItem, type PlanInput, type PlanOutput, parsePayload, planInputSchema } from './payloads.js';

export interface PlanOptions {
  /** The deployment's ceiling on parallel tasks, whatever a spec asks for. */
  maxConcurrencyCap?: number;
  /**
   * In the cloud: the execution takes the sweep's lease for as long as it may run (its timeout)
   * and the sweep record keeps its ARN. Locally the run holds the lease itself, from before Plan.
   */
  takesExecutionLease?: boolean;
  /** Epochs per Train call, when the deployment or the run fixes it: the Train loop's history budget is checked. */
  epochsPerCall?: number;
  now?: () => Date;
  /** The tasks of `input.spec` as the local run planned them (read once per run); the cloud's Plan expands the spec itself. */
  plannedTasks?: readonly PlannedTask[];
}

/**
 * The Plan state: validates the spec, expands it into tasks, writes the spec (once: a resumed
 * sweep's must be the same), the manifest (ids only), a PENDING record per task (kept as they
 * are when a sweep is resumed) and the sweep record.
 */
export async function plan(stores: Stores, event: unknown, options: PlanOptions = {}): Promise<PlanOutput> {
  const { input, executionName, executionArn } = parsePayload(planInputSchema, event, 'Plan input');
  const now = options.now ?? (() => new Date());
  const spec: SweepSpec = validateSpec(input.spec);
  const tasks = options.plannedTasks ?? planTasks(spec, { maxTasks: input.maxTasks });
  if (options.epochsPerCall !== undefined) checkTrainLoopHistory(tasks, options.epochsPerCall);
  const sweepId = input.sweepId ?? sweepIdOfExecution(spec.name, executionName);
  const keys = sweepKeys(sweepId);
  const cloudExecution = options.takesExecutionLease === true && executionArn !== undefined;
  if (cloudExecution) {
    await takeExecutionLease(stores.metrics, sweepId, { name: executionName, arn: executionArn }, EXECUTION_TIMEOUT_SECONDS, now());
  }
  const execution = cloudExecution ? { executionArn } : {};
  const references = spec.pruning ? referencesOf(tasks) : undefined;
  // Reference tasks first: the Map starts items in order, so the values other tasks are judged
  // on are there early (the verdicts do not depend on the order; how early they come does).
  const ordered = references
    ? [...tasks].sort((a, b) => Number(references.get(a.taskId)!.length > 0) - Number(references.get(b.taskId)!.length > 0))
    : tasks;
  const manifest: ManifestItem[] = ordered.map((t) => ({ sweepId, taskId: t.taskId }));
  // A resumed sweep keeps what its tasks already achieved: one listing, not a read per task.
  // A task record that cannot be read is planned again (PENDING: from its checkpoint, if it has a sound one).
  const stored = (await stores.metrics.scanTasks(sweepId)).filter((task): task is TaskRecord => !isDamaged(task));
  refuseChangedData(sweepId, stored, tasks);
  const restarted = tasksToRestart(sweepId, tasks, stored, input.restart);
  // The spec is the sweep's identity: written once, and a resume with any other is refused before anything is written.
  // Its SHA-256 goes into the sweep record, so that a spec edited at rest is refused by whoever reads it.
  const specText = `${jsonText(spec, 2)}\n`;
  const specWritten = await stores.artifacts.create(keys.spec, specText, 'application/json');
  if (!specWritten) {
    const storedSpec = await readSweepSpec(stores, sweepId, await stores.metrics.getSweep(sweepId));
    checkSameSpec(sweepId, storedSpec ?? parseSpecText('', keys.spec), spec);
  }
  // The sweep record right after its spec: a run killed during Plan leaves a sweep that status shows and --resume finishes.
  const created = await stores.metrics.createSweep({
    sweepId,
    name: spec.name,
    createdAt: now().toISOString(),
    status: 'RUNNING',
    taskCount: tasks.length,
    specKey: keys.spec,
    // A spec written by an earlier, stopped Plan is kept unverified rather than hashed in another form.
    specSha256: specWritten ? sha256Of(specText) : undefined,
    updatedAt: now().toISOString(),
    costEstimate: input.costEstimate,
    ...execution,
  });
  if (!created) {
    // A resumed sweep keeps the estimate it started with unless it is given a new one.
    const estimate = input.costEstimate ? { costEstimate: input.costEstimate } : {};
    await stores.metrics.updateSweep(sweepId, [...SWEEP_STATUSES], { status: 'RUNNING', error: undefined, ...estimate, ...execution });
  }
  await stores.artifacts.put(keys.manifest, JSON.stringify(manifest), 'application/json');
  const existing = new Set(stored.map((task) => task.taskId));
  const updatedAt = now().toISOString();
  const pendingRecord = (task: PlannedTask): TaskRecord => ({
    sweepId,
    taskId: task.taskId,
    status: 'PENDING',
    config: task.config,
    group: task.group,
    epochsDone: 0,
    epochsTotal: task.config.training.epochs,
    attempts: 0,
    updatedAt,
    ...(spec.pruning && references ? { pruning: { rule: spec.pruning, references: references.get(task.taskId)!, passedThrough: 0 } } : {}),
  });
  await stores.metrics.putTasks(tasks.filter((task) => !existing.has(task.taskId) || restarted.has(task.taskId)).map(pendingRecord));
  // The record is PENDING first: were this interrupted, the task would still be trained again, and
  // without its checkpoint it starts from scratch, rewriting every epoch row.
  for (const taskId of restarted) {
    await stores.artifacts.delete(keys.taskCheckpoint(taskId));
    await stores.artifacts.delete(keys.taskResult(taskId));
    await stores.metrics.deleteEpochs(sweepId, taskId);
  }
  // The spec's wish, within the deployment's cap and what the account's Lambda concurrency allows (the CLI checks it).
  const maxConcurrency = Math.min(spec.execution.maxConcurrency, options.maxConcurrencyCap ?? Infinity, input.maxConcurrency ?? Infinity);
  const epochCount = tasks.reduce((sum, task) => sum + task.config.training.epochs, 0);
  return { sweepId, manifestKey: keys.manifest, taskCount: tasks.length, epochCount, maxConcurrency };
}

/** The id Plan gives the sweep of an execution input: its own, or one derived from the execution's name (a schedule's). */
export function plannedSweepId(input: PlanInput['input'], executionName: string): string | undefined {
  if (input.sweepId) return input.sweepId;
  try {
    return sweepIdOfExecution(validateSpec(input.spec).name, executionName);
  } catch {
    return undefined;
  }
}

/**
 * A data file edited since the sweep was planned hashes differently, so its tasks would get new
 * ids and train beside the old ones: a resume is refused instead.
 */
export function refuseChangedData(sweepId: string, existing: readonly TaskRecord[], planned: readonly PlannedTask[]): void {
  const filesOf = (dataset: DatasetConfig) => dataFiles(dataset).map(({ path }) => path);
  const plannedHashes = new Map<string, string>();
  for (const { config } of existing) {
    const { sha256 } = config.dataset as { sha256?: string };
    if (sha256) plannedHashes.set(filesOf(config.dataset).join('\n'), sha256);
  }
  for (const { config } of planned) {
    const files = filesOf(config.dataset);
    const before = plannedHashes.get(files.join('\n'));
    const { sha256 } = config.dataset as { sha256?: string };
    if (before !== undefined && before !== sha256) {
      const [field] = dataFiles(config.dataset);
      throw new DatasetError(
        `dataset.${field.field}: ${files.map(describeDataFile).join(' or ')} changed since sweep ${sweepId} was planned (SHA-256 ${before.slice(0, 12)}, now ${sha256?.slice(0, 12)}); restore it, or run the spec as a new sweep`,
      );
    }
  }
}

/** The tasks a resume retrains from scratch: each named one must be a task of the sweep; `failed` adds every FAILED one. */
function tasksToRestart(
  sweepId: string,
  planned: readonly PlannedTask[],
  stored: TaskRecord[],
  restart: PlanInput['input']['restart'],
): Set<string> {
  const ids = new Set(planned.map((task) => task.taskId));
  const unknown = restart?.taskIds?.find((taskId) => !ids.has(taskId));
  if (unknown !== undefined) throw new UsageError(`restart task ${JSON.stringify(unknown)}: sweep ${sweepId} has no such task`);
  const failed = restart?.failed ? stored.filter((task) => task.status === 'FAILED' && ids.has(task.taskId)) : [];
  return new Set([...(restart?.taskIds ?? []), ...failed.map((task) => task.taskId)]);
}
