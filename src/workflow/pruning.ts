/**
 * Pruning checks against the store: Train checks a task's rungs as it reaches them, Aggregate
 * settles the rungs a task passed before its references got there. The rule itself is pure
 * (sweep/pruning.ts).
 *
 * What is guaranteed: a rung is decided only once every reference has its row at that rung (or
 * has failed), and a decided rung is recorded in the task record (passedThrough, decision) and
 * never decided again; the values are deterministic rows of tasks that are never pruned. So the
 * verdict of every task is the same on replay and in any task order. What the order changes is
 * only when a task learns its verdict: if its references reach a rung later than it does, it
 * trains on (and is pruned at a later epoch, or after it finished, by Aggregate).
 */
import type { EpochMetrics } from '../flooding/metrics.js';
import type { MetricsStore } from '../store/ports.js';
import { EPOCH_READ_CONCURRENCY } from '../sweep/aggregate.js';
import { mapLimited } from '../sweep/map-limited.js';
import { metricAt, type PruningDecision, pruningThreshold, rejects, rungEpochs, type TaskPruning } from '../sweep/pruning.js';
import type { TaskRecord } from '../sweep/records.js';

/** The pruning state of a task that can be pruned (not a reference, not already decided); undefined otherwise. */
export function prunable(task: TaskRecord): TaskPruning | undefined {
  const pruning = task.pruning;
  return pruning && pruning.references.length > 0 && !pruning.decision ? pruning : undefined;
}

/** Whether some rung up to `epoch` is not decided yet. */
export function hasOpenRung(task: TaskRecord, pruning: TaskPruning, epoch: number): boolean {
  return rungEpochs(pruning.rule, task.config.training).some((rung) => rung > pruning.passedThrough && rung <= epoch);
}

/**
 * Decides the open rungs up to the task's current epoch, in order, stopping at the first whose
 * references are not all there yet. `settle` (Aggregate, after every task ended): a reference
 * without a row at the rung is left out, whatever its status.
 */
export async function checkRungs(
  metrics: MetricsStore,
  task: TaskRecord,
  pruning: TaskPruning,
  rows: EpochMetrics[],
  options: { epoch: number; settle?: boolean },
): Promise<TaskPruning> {
  let { passedThrough } = pruning;
  const open = rungEpochs(pruning.rule, task.config.training).filter((rung) => rung > passedThrough && rung <= options.epoch);
  for (const rung of open) {
    const own = rows.find((row) => row.epoch === rung);
    if (!own) break;
    const references = await referenceValues(metrics, task.sweepId, pruning, rung, options.settle ?? false);
    if (!references) break;
    const value = metricAt(pruning.rule, own);
    const threshold = pruningThreshold(pruning.rule, Object.values(references));
    if (rejects(pruning.rule, value, threshold)) {
      const decision: PruningDecision = { epoch: rung, value, threshold: threshold ?? Number.NaN, references, stoppedAt: options.epoch };
      return { ...pruning, passedThrough, decision };
    }
    passedThrough = rung;
  }
  return { ...pruning, passedThrough };
}

/** The references' metric at the rung; undefined while one of them may still reach it. */
async function referenceValues(
  metrics: MetricsStore,
  sweepId: string,
  pruning: TaskPruning,
  rung: number,
  settle: boolean,
): Promise<Record<string, number> | undefined> {
  const rows = await metrics.getEpochsAt(sweepId, pruning.references, rung);
  const missing = pruning.references.filter((taskId) => !rows.has(taskId));
  if (!settle && missing.length > 0) {
    const records = await Promise.all(missing.map((taskId) => metrics.getTask(sweepId, taskId)));
    // A failed reference never reaches the rung; any other may still.
    if (records.some((record) => record?.status !== 'FAILED')) return undefined;
  }
  return Object.fromEntries(
    pruning.references.flatMap((taskId) => {
      const row = rows.get(taskId);
      return row ? [[taskId, metricAt(pruning.rule, row)]] : [];
    }),
  );
}

/**
 * Aggregate's part: decides the rungs that finished tasks passed before their references reached
 * them (every task has ended now) and marks the rejected ones PRUNED. Returns the tasks as stored.
 */
export async function settlePruning(metrics: MetricsStore, tasks: TaskRecord[]): Promise<TaskRecord[]> {
  return mapLimited(tasks, EPOCH_READ_CONCURRENCY, async (task) => {
    const pruning = prunable(task);
    if (task.status !== 'SUCCEEDED' || !pruning || !hasOpenRung(task, pruning, task.epochsDone)) return task;
    const rows = await metrics.getEpochs(task.sweepId, task.taskId);
    const checked = await checkRungs(metrics, task, pruning, rows, { epoch: task.epochsDone, settle: true });
    const status = checked.decision ? 'PRUNED' : task.status;
    await metrics.updateTask(task.sweepId, task.taskId, ['SUCCEEDED'], { status, pruning: checked });
    return { ...task, status, pruning: checked };
  });
}
