import { type Command, InvalidArgumentError } from 'commander';
import { UsageError } from '../../errors.js';
import type { EpochMetrics } from '../../flooding/metrics.js';
import type { Stores } from '../../store/open.js';
import type { SweepSummary } from '../../sweep/aggregate.js';
import type { DamagedRecord, TaskRecord } from '../../sweep/records.js';
import { epochTable, formatTable, TABLE_FORMATS, type TableFormat, taskTable, toCsv } from '../../sweep/tables.js';
import { addStoreOptions, openFor, type StoreOptions } from '../stores.js';
import { formatSummary } from '../summary-format.js';

/** `sweep results <sweepId>`: the summary table, summary.json, a CSV per level, or a tidy table of tasks or epochs. */
export function registerResults(sweep: Command): void {
  addStoreOptions(sweep.command('results <sweepId>').description("a sweep's results: the summary table, or a tidy table of its tasks"))
    .option(
      '--format <format>',
      `one row per task (${TABLE_FORMATS.join(', ')}): final metrics, one column per grid axis`,
      parseTableFormat,
    )
    .option('--epochs', 'with --format: one row per task and evaluated epoch instead')
    .option('--json', 'print summary.json')
    .option('--csv', 'print one CSV row per group and flood level')
    .addHelpText(
      'after',
      '\nExamples:\n  $ floodsweep sweep results <sweepId> --csv > levels.csv\n  $ floodsweep sweep results <sweepId> --format csv > tasks.csv\n  $ floodsweep sweep results <sweepId> --format jsonl --epochs > epochs.jsonl',
    )
    .action(async (sweepId: string, options: SweepResultsFlags) => {
      const chosen = (['--format', '--json', '--csv'] as const).filter((flag) => options[flag.slice(2) as 'format' | 'json' | 'csv']);
      if (chosen.length > 1) throw new UsageError(`${chosen.join(', ')}: choose one output format`);
      if (options.epochs && !options.format) throw new UsageError('--epochs: needs --format csv, jsonl or json');
      const stores = await openFor(options);
      if (options.format) {
        const { table, damaged } = await tidyTable(stores, sweepId, options.format, options.epochs === true);
        process.stdout.write(table);
        for (const { damage } of damaged) process.stderr.write(`floodsweep: left out of the table: ${damage}\n`);
        if (damaged.length > 0) process.exitCode = 1;
        return;
      }
      const { requireSummary } = await import('../../run.js');
      const { sweepKeys } = await import('../../store/ports.js');
      const summary = await requireSummary(stores, sweepId);
      if (options.json) process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
      else if (options.csv) process.stdout.write(summaryCsv(summary));
      else process.stdout.write(formatSummary(summary, stores.artifacts.locate(sweepKeys(sweepId).report)));
    });
}

interface SweepResultsFlags extends StoreOptions {
  format?: TableFormat;
  epochs?: boolean;
  json?: boolean;
  csv?: boolean;
}

function parseTableFormat(value: string): TableFormat {
  if ((TABLE_FORMATS as readonly string[]).includes(value)) return value as TableFormat;
  throw new InvalidArgumentError(`allowed: ${TABLE_FORMATS.join(', ')}`);
}

/**
 * The tidy per-task (or per-epoch) table of a sweep, finished or not, with the grid axes of its stored
 * spec. A task whose record or rows are damaged, or whose rows are incomplete, is left out of the
 * table and named in `damaged`: never silently.
 */
async function tidyTable(
  stores: Stores,
  sweepId: string,
  format: TableFormat,
  perEpoch: boolean,
): Promise<{ table: string; damaged: DamagedRecord[] }> {
  const { readStoredSpec } = await import('../../run.js');
  const { isDamaged, missingEpochRows } = await import('../../sweep/records.js');
  const { readOrDamaged } = await import('../../store/encoding.js');
  const spec = await readStoredSpec(stores, sweepId);
  const damaged: DamagedRecord[] = [];
  const tasks: TaskRecord[] = [];
  const epochs = new Map<string, EpochMetrics[]>();
  for (const task of await stores.metrics.scanTasks(sweepId)) {
    if (isDamaged(task)) {
      damaged.push(task);
      continue;
    }
    const rows = await readOrDamaged({ sweepId, taskId: task.taskId }, () => stores.metrics.getEpochs(sweepId, task.taskId));
    const finished = task.status === 'SUCCEEDED' || task.status === 'PRUNED';
    const missing = isDamaged(rows) || !finished ? undefined : missingEpochRows(rows, task.config.training, task.epochsDone);
    if (isDamaged(rows) || missing) {
      damaged.push(isDamaged(rows) ? rows : { sweepId, taskId: task.taskId, damage: `task ${task.taskId}: ${missing}` });
      continue;
    }
    tasks.push(task);
    epochs.set(task.taskId, rows);
  }
  const build = perEpoch ? epochTable : taskTable;
  return {
    table: formatTable(
      build(tasks, Object.keys(spec.grid), (taskId) => epochs.get(taskId) ?? []),
      format,
    ),
    damaged,
  };
}

function summaryCsv(summary: SweepSummary): string {
  const columns = [
    'group',
    'setting',
    'floodLevel',
    'chosen',
    'seeds',
    'testCleanAccMean',
    'testCleanAccSd',
    'testAccMean',
    'testAccSd',
    'diffCleanMean',
    'diffCleanCiLow',
    'diffCleanCiHigh',
  ];
  const rows = summary.groups.flatMap((group) =>
    group.levels.map((level) => {
      const diff = level.diffToBaseline?.testCleanAcc;
      const values = [
        group.group,
        group.setting,
        level.floodLevel,
        level.floodLevel === group.chosenLevel,
        level.seeds.length,
        level.testCleanAcc?.mean,
        level.testCleanAcc?.sd,
        level.testAcc?.mean,
        level.testAcc?.sd,
        diff?.mean,
        diff?.ci95?.[0],
        diff?.ci95?.[1],
      ];
      return Object.fromEntries(columns.map((column, j) => [column, values[j] ?? null]));
    }),
  );
  return toCsv({ columns, rows });
}
