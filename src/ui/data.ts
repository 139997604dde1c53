/** What the dashboard shows, read from the stores: a sweep with its tasks and a summary, live while it runs. */
import { FloodsweepError, MissingStateError } from '../errors.js';
import type { Stores } from '../store/open.js';
import { validateId } from '../store/ports.js';
import { readSummary } from '../store/summary.js';
import { type SweepSummary, summarizeSweep } from '../sweep/aggregate.js';
import { type SweepRecord, TASK_STATUSES, type TaskRecord, type TaskStatus } from '../sweep/records.js';
import { parseSpecText } from '../sweep/spec.js';

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
}

export async function loadSweepView(stores: Stores, sweepId: string): Promise<SweepView> {
  const sweep = await stores.metrics.getSweep(validateId('sweepId', sweepId));
  if (!sweep) throw new SweepNotFound(sweepId, stores.artifacts.locate(''));
  const records = await stores.metrics.listTasks(sweepId);
  const summary =
    (sweep.status === 'RUNNING' ? undefined : await readSummary(stores, sweepId)) ?? (await liveSummary(stores, sweep, records));
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
  };
}

async function liveSummary(stores: Stores, sweep: SweepRecord, tasks: TaskRecord[]): Promise<SweepSummary> {
  const specBytes = await stores.artifacts.get(sweep.specKey);
  if (!specBytes) throw new MissingStateError(`${stores.artifacts.locate(sweep.specKey)} is missing`);
  const spec = parseSpecText(specBytes.toString('utf8'), sweep.specKey);
  return summarizeSweep({
    sweepId: sweep.sweepId,
    name: sweep.name,
    tasks,
    selection: spec.selection,
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
export async function loadSweepList(stores: Stores) {
  const sweeps = await stores.metrics.listSweeps(100);
  return Promise.all(
    sweeps.map(async (sweep) => {
      const tasks = await stores.metrics.listTasks(sweep.sweepId);
      return {
        sweep,
        done: tasks.filter((task) => task.status === 'SUCCEEDED' || task.status === 'PRUNED').length,
        failed: tasks.filter((task) => task.status === 'FAILED').length,
        summary: sweep.status === 'RUNNING' ? undefined : await readSummary(stores, sweep.sweepId),
      };
    }),
  );
}
