import { isDeepStrictEqual } from 'node:util';
import { jsonText } from '../control-chars.js';
import { type CostComparison, incurredCost } from '../cost/model.js';
import { FloodsweepError, MissingStateError } from '../errors.js';
import type { EpochMetrics } from '../flooding/metrics.js';
import { type ReportCurves, type ReproducibilitySection, renderReport } from '../report/html.js';
import { curveLevels, sweepFigures } from '../report/sweep-figures.js';
import { executionLeaseToken } from '../store/lease.js';
import type { Stores } from '../store/open.js';
import { sweepKeys } from '../store/ports.js';
import { readSweepSpec, sha256Of } from '../store/summary.js';
import { EPOCH_READ_CONCURRENCY, groupLevelFormatter, type SweepSummary, summarizeSweep } from '../sweep/aggregate.js';
import { mapLimited } from '../sweep/map-limited.js';
import { missingEpochRows, SWEEP_STATUSES, type SweepRecord, type TaskRecord } from '../sweep/records.js';
import { numericSampledAxes, type SweepSpec } from '../sweep/spec.js';
import { type AggregateOutput, aggregateInputSchema, parsePayload } from './payloads.js';
import { settlePruning } from './pruning.js';

/**
 * The Aggregate state: per group the chosen flood level and the statistics over seeds;
 * summary.json, the figures and report.html; the sweep's final status.
 */
export async function aggregate(stores: Stores, event: unknown): Promise<AggregateOutput> {
  const { sweepId, executionName } = parsePayload(aggregateInputSchema, event, 'Aggregate input');
  const keys = sweepKeys(sweepId);
  const stored = await readStoredSweep(stores, sweepId);
  if (!stored) throw new MissingStateError(`sweep ${sweepId} does not exist`);
  const { sweep, spec } = stored;
  const tasks = await settlePruning(stores.metrics, await failDamagedTasks(stores, sweepId, stored.tasks));
  const epochsOf = (taskId: string) => stores.metrics.getEpochs(sweepId, taskId);
  const summary = await summarizeSweep({
    sweepId,
    name: sweep.name,
    tasks,
    epochsOf,
    selection: spec.selection,
    sampledAxes: numericSampledAxes(spec),
  });
  const summaryText = `${jsonText(summary, 2)}\n`;
  await stores.artifacts.put(keys.summary, summaryText, 'application/json');
  await writeReport(stores, summary, { ...stored, tasks });
  await stores.metrics.updateSweep(sweepId, [...SWEEP_STATUSES], {
    status: summary.status,
    summaryKey: keys.summary,
    summarySha256: sha256Of(summaryText),
    failedTasks: summary.failedTasks.length,
  });
  // Training is over: another execution may run the sweep again (a no-op for a local run, whose lease has another token).
  if (executionName) await stores.metrics.releaseLease(sweepId, executionLeaseToken(executionName));
  return { sweepId, status: summary.status, summaryKey: keys.summary, reportKey: keys.report };
}

/**
 * Verifies what each succeeded task stored (every epoch row's checksum, every evaluated epoch's row
 * there, and the record's final metrics against its last row): a task whose results are damaged ends FAILED with the cause, and
 * only that task. Rows are read task by task with bounded concurrency and not kept.
 */
async function failDamagedTasks(stores: Stores, sweepId: string, tasks: TaskRecord[]): Promise<TaskRecord[]> {
  return mapLimited(tasks, EPOCH_READ_CONCURRENCY, async (task) => {
    if (task.status !== 'SUCCEEDED') return task;
    let damage: string | undefined;
    try {
      const rows = await stores.metrics.getEpochs(sweepId, task.taskId);
      const last = rows.at(-1);
      const metricsOf = (row: NonNullable<TaskRecord['final']>) => ({ train: row.train, val: row.val, test: row.test });
      const missing = missingEpochRows(rows, task.config.training, task.epochsDone);
      if (missing) damage = `damaged epoch rows of task ${task.taskId}: ${missing}; retrain it with --restart-task ${task.taskId}`;
      else if (last && task.final && !isDeepStrictEqual(metricsOf(task.final), metricsOf(last))) {
        damage = `damaged task record of ${task.taskId}: its final metrics differ from its last epoch row`;
      }
    } catch (error) {
      if (!(error instanceof FloodsweepError && error.kind === 'state')) throw error;
      damage = error.message;
    }
    if (damage === undefined) return task;
    const patch = { status: 'FAILED' as const, error: damage };
    await stores.metrics.updateTask(sweepId, task.taskId, ['SUCCEEDED'], patch);
    return { ...task, ...patch };
  });
}

/** A sweep as the stores hold it: its record, its (verified) spec and its task records, each read once. */
export interface StoredSweep {
  sweep: SweepRecord;
  spec: SweepSpec;
  tasks: TaskRecord[];
}

/** The stored sweep, or undefined when there is no sweep of this id. */
export async function readStoredSweep(stores: Stores, sweepId: string): Promise<StoredSweep | undefined> {
  const sweep = await stores.metrics.getSweep(sweepId);
  if (!sweep) return undefined;
  const spec = (await readSweepSpec(stores, sweepId, sweep))!;
  return { sweep, spec, tasks: await stores.metrics.listTasks(sweepId) };
}

/**
 * Draws the sweep's figures (PNG and SVG) and writes them with report.html, which names any figure
 * that could not be drawn, and what the sweep cost (from `stored`, the records the caller read).
 */
export async function writeReport(
  stores: Stores,
  summary: SweepSummary,
  stored: StoredSweep,
  reproducibility?: ReproducibilitySection,
): Promise<void> {
  const keys = sweepKeys(summary.sweepId);
  // The figures and the report's curves read the rows of the same bounded set of tasks (the levels
  // the curves show): each task's rows are read once.
  const read = new Map<string, Promise<EpochMetrics[]>>();
  const epochsOf = (taskId: string) => {
    if (!read.has(taskId)) read.set(taskId, stores.metrics.getEpochs(summary.sweepId, taskId));
    return read.get(taskId)!;
  };
  const drawn = await sweepFigures(summary, epochsOf);
  // Every seed of the levels the figures draw (a bounded set), for the report's interactive per-epoch chart.
  const curves: ReportCurves = {};
  for (const group of summary.groups) {
    const formatLevel = groupLevelFormatter(group);
    const shown = curveLevels(
      group,
      group.levels.filter((level) => level.testCleanAcc),
    );
    curves[group.group] = await Promise.all(
      shown.flatMap((level) =>
        level.runs.map(async (run) => ({
          label: `b=${formatLevel(level.floodLevel)} seed ${run.seed}`,
          series: `b = ${formatLevel(level.floodLevel)}`,
          rows: await epochsOf(run.taskId),
        })),
      ),
    );
  }
  for (const { name, figure } of drawn.figures) {
    await stores.artifacts.put(keys.plot(name), figure.png, 'image/png');
    await stores.artifacts.put(keys.plot(name.replace(/\.png$/, '.svg')), figure.svg, 'image/svg+xml');
  }
  // What the sweep's records say it cost, next to the estimate it started with.
  const { sweep, spec, tasks } = stored;
  const incurred = incurredCost(sweep, tasks, {
    figures: drawn.figures.length,
    repro: reproducibility !== undefined,
    concurrency: spec.execution.maxConcurrency,
  });
  const cost: CostComparison = { incurred, estimate: sweep.costEstimate };
  await stores.artifacts.put(keys.report, renderReport(summary, drawn, reproducibility, curves, cost), 'text/html');
}
