/**
 * Tidy tables of a sweep, for pandas, R or a spreadsheet: one row per task (final metrics) or one
 * row per task and evaluated epoch, with one column per grid axis named by its field path.
 */
import type { TaskConfig } from '../flooding/config.js';
import { type EpochMetrics, SPLITS, type SplitMetrics } from '../flooding/metrics.js';
import type { TaskRecord } from './records.js';

export type Cell = string | number | boolean | null;
export type Row = Record<string, Cell>;

export interface Table {
  columns: string[];
  rows: Row[];
}

export const TABLE_FORMATS = ['csv', 'jsonl', 'json'] as const;
export type TableFormat = (typeof TABLE_FORMATS)[number];

const METRICS: Array<keyof SplitMetrics> = ['loss', 'acc', 'cleanLoss', 'cleanAcc'];
const METRIC_COLUMNS = SPLITS.flatMap((split) => METRICS.map((metric) => `${split}.${metric}`));

/** The value of a config field by dotted path; objects and arrays (a whole section on a grid axis) as JSON. */
function fieldValue(config: TaskConfig, path: string): Cell {
  let value: unknown = config;
  for (const key of path.split('.'))
    value = value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined;
  if (value === undefined) return null;
  return value !== null && typeof value === 'object' ? JSON.stringify(value) : (value as Cell);
}

function metricCells(metrics: { train: SplitMetrics; val: SplitMetrics; test: SplitMetrics } | undefined): Row {
  return Object.fromEntries(
    SPLITS.flatMap((split) => METRICS.map((metric) => [`${split}.${metric}`, metrics ? metrics[split][metric] : null])),
  );
}

/** The columns of taskCells, before the grid axes. */
const TASK_COLUMNS = ['taskId', 'group', 'status', 'backend', 'floodLevel', 'flooding', 'seed'];

function taskCells(task: TaskRecord, gridAxes: string[]): Row {
  return {
    taskId: task.taskId,
    group: task.group,
    status: task.status,
    backend: task.backend ?? null,
    floodLevel: task.config.floodLevel,
    flooding: task.config.training.flooding ?? 'batch',
    seed: task.config.seed,
    ...Object.fromEntries(gridAxes.map((axis) => [axis, fieldValue(task.config, axis)])),
  };
}

/**
 * One row per task. `epochsOf` gives the task's epoch rows: their seconds add up to its training
 * time (each row covers the epochs since the previous one); no rows, no seconds.
 */
export function taskTable(tasks: TaskRecord[], gridAxes: string[], epochsOf: (taskId: string) => EpochMetrics[]): Table {
  const columns = [...TASK_COLUMNS, ...gridAxes, 'attempts', 'seconds', 'epochsDone', 'prunedAt', ...METRIC_COLUMNS];
  const rows = tasks.map((task) => {
    const epochs = epochsOf(task.taskId);
    return {
      ...taskCells(task, gridAxes),
      attempts: task.attempts,
      seconds: epochs.length > 0 ? epochs.reduce((sum, row) => sum + row.seconds, 0) : null,
      epochsDone: task.epochsDone,
      // The rung the pruning rule rejected a PRUNED task at (its metrics are from epochsDone).
      prunedAt: task.pruning?.decision?.epoch ?? null,
      ...metricCells(task.final),
    };
  });
  return { columns, rows };
}

/** One row per task and evaluated epoch (epoch 0 is the untrained model). */
export function epochTable(tasks: TaskRecord[], gridAxes: string[], epochsOf: (taskId: string) => EpochMetrics[]): Table {
  const columns = [...TASK_COLUMNS, ...gridAxes, 'epoch', ...METRIC_COLUMNS, 'floodedFraction', 'objective', 'lr', 'seconds'];
  const rows = tasks.flatMap((task) =>
    epochsOf(task.taskId).map((row) => ({
      ...taskCells(task, gridAxes),
      epoch: row.epoch,
      ...metricCells(row),
      floodedFraction: row.floodedFraction,
      objective: row.objective,
      lr: row.lr,
      seconds: row.seconds,
    })),
  );
  return { columns, rows };
}

/** RFC 4180 CSV; an empty cell is a missing value, non-finite numbers are written as pandas reads them (NaN, inf, -inf). */
export function toCsv({ columns, rows }: Table): string {
  const cell = (value: Cell | undefined) => {
    if (value === null || value === undefined) return '';
    if (typeof value === 'number' && !Number.isFinite(value)) return Number.isNaN(value) ? 'NaN' : value > 0 ? 'inf' : '-inf';
    const text = String(value);
    return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
  };
  return `${[columns.map(cell), ...rows.map((row) => columns.map((column) => cell(row[column])))].map((line) => line.join(',')).join('\n')}\n`;
}

/** JSON has no NaN or Infinity: they become null, the missing value of every JSON reader. */
const finiteOrNull = (_key: string, value: unknown) => (typeof value === 'number' && !Number.isFinite(value) ? null : value);

export function formatTable(table: Table, format: TableFormat): string {
  if (format === 'csv') return toCsv(table);
  if (format === 'jsonl') return table.rows.map((row) => `${JSON.stringify(row, finiteOrNull)}\n`).join('');
  return `${JSON.stringify(table.rows, finiteOrNull, 2)}\n`;
}
