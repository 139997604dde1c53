/** What the dashboard shows, read from the stores: a sweep with its tasks and a summary, live while it runs. */

import { describeComparison, incurredCost } from '../cost/model.js';
import { FloodsweepError } from '../errors.js';
import { readOrDamaged } from '../store/encoding.js';
import { observeSweep } from '../store/lease.js';
import type { Stores } from '../store/open.js';
import { sweepKeys, validateId } from '../store/ports.js';
import { readSummary, readSweepSpec } from '../store/summary.js';
import { type SweepSummary, summarizeSweep } from '../sweep/aggregate.js';
import {
  type DamagedRecord,
  isDamaged,
  type SweepRecord,
  type SweepStatus,
  TASK_STATUSES,
  type TaskRecord,
  type TaskStatus,
} from '../sweep/records.js';
import { numericSampledAxes, type SweepSpec } from '../sweep/spec.js';

/** A sweep id that names no sweep in the store: a page of its own (404), not an error of the store. */
export class SweepNotFound extends FloodsweepError {
  override name = 'SweepNotFound';
  constructor(sweepId: string, where: string) {
    super('input', `there is no sweep "${sweepId}" in ${where}`);
  }
}

export interface TaskView {
  taskId: string;
  group: string;
  floodLevel: number;
  seed: number;
  status: TaskStatus;
  epochsDone: number;
  epochsTotal: number;
  attempts: number;
  error?: string;
}

export interface SweepView {
  sweep: SweepRecord;
  tasks: TaskView[];
  /** summary.json once the sweep was aggregated; before that, computed from the tasks that finished so far. */
  summary: SweepSummary;
  progress: { tasks: Record<TaskStatus, number>; epochsDone: number; epochsTotal: number };
  /** The cost incurred so far (from the records) next to the estimate the sweep started with. */
  cost: string;
}

/** A sweep not yet (or no longer) aggregated: its summary.json, if any, is not of its tasks as they are. */
const unfinished = (status: SweepStatus) => status === 'RUNNING' || status === 'INTERRUPTED';

export async function loadSweepView(stores: Stores, sweepId: string): Promise<SweepView> {
  const stored = await stores.metrics.getSweep(validateId('sweepId', sweepId));
  if (!stored) throw new SweepNotFound(sweepId, stores.artifacts.locate(''));
  const sweep = await observeSweep(stores.metrics, stored);
  const records = await stores.metrics.listTasks(sweepId);
  const spec = await storedSpec(stores, sweep);
  const summary =
    (unfinished(sweep.status) ? undefined : await readSummary(stores, sweepId, sweep)) ?? (await liveSummary(stores, sweep, spec, records));
  // The figures are drawn when the sweep ends; listing them on every refresh of a running sweep would cost a request each.
  const figures = unfinished(sweep.status)
    ? 0
    : (await stores.artifacts.list(sweepKeys(sweepId).plot('x').slice(0, -1))).filter((key) => key.endsWith('.png')).length;
  const cost = describeComparison({
    incurred: incurredCost(sweep, records, { figures, concurrency: spec.execution.maxConcurrency }),
    estimate: sweep.costEstimate,
  });
  const tasks = records.map(taskView);
  const counts = Object.fromEntries(TASK_STATUSES.map((status) => [status, 0])) as Record<TaskStatus, number>;
  for (const task of tasks) counts[task.status] += 1;
  return {
    sweep,
    tasks,
    summary,
    progress: {
      tasks: counts,
      epochsDone: tasks.reduce((sum, task) => sum + task.epochsDone, 0),
      // A pruned task is done at the epoch it stopped.
      epochsTotal: tasks.reduce((sum, task) => sum + (task.status === 'PRUNED' ? task.epochsDone : task.epochsTotal), 0),
    },
    cost,
  };
}

async function storedSpec(stores: Stores, sweep: SweepRecord): Promise<SweepSpec> {
  return (await readSweepSpec(stores, sweep.sweepId, sweep))!;
}

async function liveSummary(stores: Stores, sweep: SweepRecord, spec: SweepSpec, tasks: TaskRecord[]): Promise<SweepSummary> {
  return summarizeSweep({
    sweepId: sweep.sweepId,
    name: sweep.name,
    tasks,
    selection: spec.selection,
    sampledAxes: numericSampledAxes(spec),
    epochsOf: (taskId) => stores.metrics.getEpochs(sweep.sweepId, taskId),
  });
}

function taskView(task: TaskRecord): TaskView {
  return {
    taskId: task.taskId,
    group: task.group,
    floodLevel: task.config.floodLevel,
    seed: task.config.seed,
    status: task.status,
    epochsDone: task.epochsDone,
    epochsTotal: task.epochsTotal,
    attempts: task.attempts,
    error: task.error,
  };
}

/** The sweeps for the list page, newest first, each with its task counts and summary (when aggregated). */
export async function loadSweepList(stores: Stores): Promise<SweepListEntry[]> {
  const sweeps = await stores.metrics.listSweeps(100);
  return Promise.all(
    sweeps.map(async (stored) => {
      if (isDamaged(stored)) return { damaged: stored };
      // A damaged task record or summary marks its sweep's row, not the page.
      const entry = await readOrDamaged({ sweepId: stored.sweepId }, async () => {
        const sweep = await observeSweep(stores.metrics, stored);
        const tasks = await stores.metrics.listTasks(sweep.sweepId);
        return {
          sweep,
          done: tasks.filter((task) => task.status === 'SUCCEEDED' || task.status === 'PRUNED').length,
          failed: tasks.filter((task) => task.status === 'FAILED').length,
          summary: unfinished(sweep.status) ? undefined : await readSummary(stores, sweep.sweepId, sweep),
        };
      });
      return isDamaged(entry) ? { damaged: entry } : entry;
    }),
  );
}

export type SweepListEntry = { sweep: SweepRecord; done: number; failed: number; summary?: SweepSummary } | { damaged: DamagedRecord };
