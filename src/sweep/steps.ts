import { randomBytes } from 'node:crypto';
import { activeBackend } from '../flooding/backend.js';
import { CheckpointError } from '../flooding/checkpoint.js';
import type { EpochMetrics, TaskResult } from '../flooding/metrics.js';
import { TrainingRun } from '../flooding/trainer.js';
import type { Stores } from '../store/open.js';
import { sweepKeys, type TaskRecord } from '../store/ports.js';
import { summarizeSweep } from './aggregate.js';
import { expandSpec, type SweepSpec, validateSpec } from './spec.js';
import { sweepFigures } from '../report/sweep-figures.js';
import { renderReport } from '../report/html.js';

/**
 * The four steps of the sweep workflow (infra/workflow.asl.json), written against the store ports
 * only: the Lambda handlers in functions/ and the local runner call these same functions.
 * Payloads between steps stay small (ids and keys): Step Functions caps a state at 256 KiB.
 */

export interface PlanInput {
  spec: unknown;
  /** Reuse an id (resume a sweep); a fresh one is made from the spec's name otherwise. */
  sweepId?: string;
  maxTasks?: number;
}

export interface PlanOutput {
  sweepId: string;
  manifestKey: string;
  taskCount: number;
  maxConcurrency: number;
}

export interface ManifestItem {
  sweepId: string;
  taskId: string;
}

export function newSweepId(name: string, now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return `${name}-${stamp}-${randomBytes(2).toString('hex')}`;
}

/** `maxConcurrencyCap`: the deployment's ceiling on parallel tasks, whatever a spec asks for. */
export async function plan(stores: Stores, input: PlanInput, options: { maxConcurrencyCap?: number; now?: () => Date } = {}): Promise<PlanOutput> {
  const now = options.now ?? (() => new Date());
  const spec: SweepSpec = validateSpec(input.spec);
  const tasks = expandSpec(spec, { maxTasks: input.maxTasks });
  const sweepId = input.sweepId ?? newSweepId(spec.name, now());
  const keys = sweepKeys(sweepId);
  const manifest: ManifestItem[] = tasks.map((t) => ({ sweepId, taskId: t.taskId }));
  await stores.artifacts.put(keys.spec, `${JSON.stringify(spec, null, 2)}\n`, 'application/json');
  await stores.artifacts.put(keys.manifest, JSON.stringify(manifest), 'application/json');
  for (const task of tasks) {
    // A resumed sweep keeps what its tasks already achieved.
    if (await stores.metrics.getTask(sweepId, task.taskId)) continue;
    await stores.metrics.putTask({
      sweepId,
      taskId: task.taskId,
      status: 'PENDING',
      config: task.config,
      group: task.group,
      epochsDone: 0,
      epochsTotal: task.config.training.epochs,
      attempts: 0,
      updatedAt: now().toISOString(),
    });
  }
  const created = await stores.metrics.createSweep({
    sweepId,
    name: spec.name,
    createdAt: now().toISOString(),
    status: 'RUNNING',
    taskCount: tasks.length,
    specKey: keys.spec,
    updatedAt: now().toISOString(),
  });
  if (!created) {
    await stores.metrics.updateSweep(sweepId, ['RUNNING', 'SUCCEEDED', 'PARTIAL', 'FAILED'], { status: 'RUNNING', error: undefined });
  }
  const maxConcurrency = Math.min(spec.execution.maxConcurrency, options.maxConcurrencyCap ?? Infinity);
  return { sweepId, manifestKey: keys.manifest, taskCount: tasks.length, maxConcurrency };
}

export interface TrainInput extends ManifestItem {}

export interface TrainOutput extends ManifestItem {
  done: boolean;
  epoch: number;
}

export interface TrainBudget {
  /** Stop (and checkpoint) when fewer milliseconds than this remain... */
  remainingMs?: () => number;
  /** ...or after this many epochs in this call. */
  maxEpochs?: number;
  onEpoch?: (epoch: number, total: number) => void;
}

/** Rows are written in batches of this many as training goes. */
const ROWS_PER_WRITE = 10;
/** Time kept in reserve for the checkpoint and the writes after the last epoch. */
const SAFETY_MARGIN_MS = 30_000;

/**
 * Trains one task within a budget. Unfinished: checkpoints and returns done=false (the workflow
 * calls again and training resumes from the checkpoint). Already finished: returns done=true
 * without training again.
 */
export async function trainStep(stores: Stores, input: TrainInput, budget: TrainBudget = {}): Promise<TrainOutput> {
  const { sweepId, taskId } = input;
  const keys = sweepKeys(sweepId);
  const task = await stores.metrics.getTask(sweepId, taskId);
  if (!task) throw new Error(`task ${taskId} of sweep ${sweepId} does not exist`);
  if (task.status === 'SUCCEEDED') return { sweepId, taskId, done: true, epoch: task.epochsDone };

  const checkpoint = await stores.artifacts.get(keys.taskCheckpoint(taskId));
  let run: TrainingRun;
  try {
    run = checkpoint ? TrainingRun.resume(task.config, checkpoint) : TrainingRun.start(task.config);
  } catch (error) {
    if (error instanceof CheckpointError) {
      throw new CheckpointError(`${stores.artifacts.locate(keys.taskCheckpoint(taskId))}: ${error.message}`);
    }
    throw error;
  }
  try {
    await stores.metrics.updateTask(sweepId, taskId, ['PENDING', 'RUNNING', 'FAILED'], {
      status: 'RUNNING',
      attempts: task.attempts + 1,
      backend: activeBackend(),
      error: undefined,
    });
    let unwritten: EpochMetrics[] = checkpoint ? [] : [...run.rows];
    const flush = async () => {
      if (unwritten.length === 0) return;
      await stores.metrics.putEpochs(sweepId, taskId, unwritten);
      unwritten = [];
    };
    const total = task.config.training.epochs;
    let trained = 0;
    let slowestEpochMs = 0;
    while (!run.finished) {
      const remaining = budget.remainingMs?.();
      const outOfTime = remaining !== undefined && remaining < 2 * slowestEpochMs + SAFETY_MARGIN_MS;
      if (outOfTime || (budget.maxEpochs !== undefined && trained >= budget.maxEpochs)) break;
      const started = performance.now();
      const row = run.trainEpoch();
      slowestEpochMs = Math.max(slowestEpochMs, performance.now() - started);
      trained += 1;
      budget.onEpoch?.(run.epoch, total);
      if (row) unwritten.push(row);
      if (unwritten.length >= ROWS_PER_WRITE) await flush();
    }
    await flush();
    if (!run.finished) {
      await stores.artifacts.put(keys.taskCheckpoint(taskId), run.checkpoint(), 'application/octet-stream');
      await stores.metrics.updateTask(sweepId, taskId, ['RUNNING'], { epochsDone: run.epoch });
      return { sweepId, taskId, done: false, epoch: run.epoch };
    }
    const result: TaskResult = run.result();
    await stores.artifacts.put(keys.taskResult(taskId), JSON.stringify(result), 'application/json');
    await stores.metrics.updateTask(sweepId, taskId, ['RUNNING'], {
      status: 'SUCCEEDED',
      epochsDone: run.epoch,
      final: result.final,
    });
    return { sweepId, taskId, done: true, epoch: run.epoch };
  } finally {
    run.dispose();
  }
}

export interface FailureInput extends ManifestItem {
  error?: { Error?: string; Cause?: string };
}

/** Records a task that threw (after the workflow's retries) so the sweep can go on without it. */
export async function recordFailure(stores: Stores, input: FailureInput): Promise<ManifestItem & { failed: true }> {
  const { sweepId, taskId } = input;
  await stores.metrics.updateTask(sweepId, taskId, ['PENDING', 'RUNNING', 'FAILED'], {
    status: 'FAILED',
    error: describeFailure(input.error),
  });
  return { sweepId, taskId, failed: true };
}

/** A Lambda failure's Cause is a JSON document; a local one is the message itself. */
function describeFailure(error: FailureInput['error']): string {
  if (!error) return 'unknown error';
  const cause = error.Cause ?? '';
  try {
    const parsed = JSON.parse(cause) as { errorMessage?: string; errorType?: string };
    if (parsed.errorMessage) return `${parsed.errorType ?? error.Error}: ${parsed.errorMessage}`;
  } catch {
    // Not JSON: the cause is already the message.
  }
  return `${error.Error ?? 'Error'}: ${cause}`;
}

export interface AggregateInput {
  sweepId: string;
}

export interface AggregateOutput {
  sweepId: string;
  status: string;
  summaryKey: string;
  reportKey: string;
}

export async function aggregate(stores: Stores, input: AggregateInput): Promise<AggregateOutput> {
  const { sweepId } = input;
  const keys = sweepKeys(sweepId);
  const sweep = await stores.metrics.getSweep(sweepId);
  if (!sweep) throw new Error(`sweep ${sweepId} does not exist`);
  const specBytes = await stores.artifacts.get(keys.spec);
  if (!specBytes) throw new Error(`${stores.artifacts.locate(keys.spec)} is missing`);
  const spec = validateSpec(JSON.parse(specBytes.toString('utf8')));
  const tasks: TaskRecord[] = await stores.metrics.listTasks(sweepId);
  const epochsOf = (taskId: string) => stores.metrics.getEpochs(sweepId, taskId);
  const summary = await summarizeSweep({ sweepId, name: sweep.name, tasks, epochsOf, selection: spec.selection });
  const figures = await sweepFigures(summary, epochsOf);
  for (const { name, figure } of figures) {
    await stores.artifacts.put(keys.plot(name), figure.png, 'image/png');
    await stores.artifacts.put(keys.plot(name.replace(/\.png$/, '.svg')), figure.svg, 'image/svg+xml');
  }
  await stores.artifacts.put(keys.summary, `${JSON.stringify(summary, null, 2)}\n`, 'application/json');
  await stores.artifacts.put(keys.report, renderReport(summary, figures), 'text/html');
  await stores.metrics.updateSweep(sweepId, ['RUNNING', 'SUCCEEDED', 'PARTIAL', 'FAILED'], {
    status: summary.status,
    summaryKey: keys.summary,
    failedTasks: summary.failedTasks.length,
  });
  return { sweepId, status: summary.status, summaryKey: keys.summary, reportKey: keys.report };
}
