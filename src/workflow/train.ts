import type { RecordedUsage } from '../cost/model.js';
import { MissingStateError } from '../errors.js';
import { backendDescription } from '../flooding/backend.js';
import { CheckpointError } from '../flooding/checkpoint.js';
import { loadNetworkTemplate } from '../flooding/layers-network.js';
import { makeDataset } from '../flooding/make-dataset.js';
import type { EpochMetrics, TaskResult } from '../flooding/metrics.js';
import { TrainingRun } from '../flooding/trainer.js';
import type { Stores } from '../store/open.js';
import { sweepKeys } from '../store/ports.js';
import { parsePayload, type TrainInput, type TrainOutput, trainInputSchema } from './payloads.js';
import { checkRungs, hasOpenRung, prunable } from './pruning.js';
import { withLocalFiles } from './task-files.js';

export interface TrainBudget {
  /** Stop (and checkpoint) when fewer milliseconds than this remain... */
  remainingMs?: () => number;
  /** ...or after this many epochs in this call. */
  maxEpochs?: number;
  onEpoch?: (epoch: number, total: number) => void;
  /** On Lambda: the function's memory, recorded with the seconds so that the incurred cost needs no scaling. */
  lambdaMemoryMb?: number;
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
export async function trainStep(stores: Stores, event: unknown, budget: TrainBudget = {}): Promise<TrainOutput> {
  const started = performance.now();
  const { sweepId, taskId }: TrainInput = parsePayload(trainInputSchema, event, 'Train input');
  const keys = sweepKeys(sweepId);
  const task = await stores.metrics.getTask(sweepId, taskId);
  if (!task) throw new MissingStateError(`task ${taskId} of sweep ${sweepId} does not exist`);
  if (task.status === 'SUCCEEDED' || task.status === 'PRUNED') return { sweepId, taskId, done: true, epoch: task.epochsDone };

  const checkpoint = await stores.artifacts.get(keys.taskCheckpoint(taskId));
  // Data and model files come from the bucket where the planned paths are not here (a Lambda).
  const reading = await withLocalFiles(stores.artifacts, task.config);
  if (reading.model.kind === 'layers') await loadNetworkTemplate(reading.model);
  const dataset = makeDataset(reading.dataset, reading.seed);
  let run: TrainingRun;
  try {
    run = checkpoint ? TrainingRun.resume(task.config, checkpoint, dataset) : TrainingRun.start(task.config, dataset);
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
      backend: backendDescription(),
      error: undefined,
    });
    let unwritten: EpochMetrics[] = checkpoint ? [] : [...run.rows];
    let rowsWritten = 0;
    const flush = async () => {
      if (unwritten.length === 0) return;
      await stores.metrics.putEpochs(sweepId, taskId, unwritten);
      rowsWritten += unwritten.length;
      unwritten = [];
    };
    const total = task.config.training.epochs;
    // A reference's rows are what other tasks wait for at their rungs: written as soon as evaluated.
    const isReference = task.pruning?.references.length === 0;
    let pruning = prunable(task);
    const checkPruning = async () => {
      if (!pruning || pruning.decision || !hasOpenRung(task, pruning, run.epoch)) return;
      pruning = await checkRungs(stores.metrics, task, pruning, run.rows, { epoch: run.epoch });
    };
    let trained = 0;
    let slowestEpochMs = 0;
    // This call's part, added to the earlier calls' (what the incurred cost is computed from).
    const usage = (): RecordedUsage => ({
      seconds: (task.usage?.seconds ?? 0) + (performance.now() - started) / 1000,
      rows: (task.usage?.rows ?? 0) + rowsWritten,
      lambdaMemoryMb: budget.lambdaMemoryMb,
    });
    while (!run.finished && !pruning?.decision) {
      const remaining = budget.remainingMs?.();
      const outOfTime = remaining !== undefined && remaining < 2 * slowestEpochMs + SAFETY_MARGIN_MS;
      if (outOfTime || (budget.maxEpochs !== undefined && trained >= budget.maxEpochs)) break;
      const started = performance.now();
      const row = run.trainEpoch();
      slowestEpochMs = Math.max(slowestEpochMs, performance.now() - started);
      trained += 1;
      budget.onEpoch?.(run.epoch, total);
      if (row) unwritten.push(row);
      if (unwritten.length >= ROWS_PER_WRITE || (row && isReference)) await flush();
      if (row) await checkPruning();
    }
    await flush();
    if (!run.finished && !pruning?.decision) {
      await stores.artifacts.put(keys.taskCheckpoint(taskId), run.checkpoint(), 'application/octet-stream');
      await stores.metrics.updateTask(sweepId, taskId, ['RUNNING'], {
        epochsDone: run.epoch,
        usage: usage(),
        ...(pruning ? { pruning } : {}),
      });
      return { sweepId, taskId, done: false, epoch: run.epoch };
    }
    // Finished: the rungs whose references were not there yet get one more look (Aggregate settles the rest).
    await checkPruning();
    const result: TaskResult = run.result();
    await stores.artifacts.put(keys.taskResult(taskId), JSON.stringify(result), 'application/json');
    await stores.metrics.updateTask(sweepId, taskId, ['RUNNING'], {
      status: pruning?.decision ? 'PRUNED' : 'SUCCEEDED',
      epochsDone: run.epoch,
      final: result.final,
      usage: usage(),
      ...(pruning ? { pruning } : {}),
    });
    return { sweepId, taskId, done: true, epoch: run.epoch };
  } finally {
    run.dispose();
  }
}
