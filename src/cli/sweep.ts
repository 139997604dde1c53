import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { type Command, InvalidArgumentError } from 'commander';
import { DEFAULT_EPOCHS_PER_CALL, DEFAULT_MAX_TASKS, DEFAULT_RESULTS_DIR, DEFAULT_STACK } from '../env.js';
import { UsageError } from '../errors.js';
import type { EpochMetrics } from '../flooding/metrics.js';
import type { ResumeFindings, RunSweepOptions, SweepRunResult } from '../run.js';
import type { StoreConfig, Stores } from '../store/open.js';
import type { SweepSummary } from '../sweep/aggregate.js';
import { epochTable, formatTable, TABLE_FORMATS, type TableFormat, taskTable, toCsv } from '../sweep/tables.js';
import { invocation } from './invocation.js';
import { addBackendOption, backendRequest, parsePositiveInteger } from './options.js';
import { describeProgress, Eta, formatDuration, ProgressLine } from './progress.js';
import { addStoreOptions, cloudTarget, type StoreOptions, shellQuote, storeConfig, storeFlags } from './stores.js';

export function registerSweep(program: Command): void {
  const sweep = program.command('sweep').description('plan, run and inspect sweeps over flood levels x seeds x settings');

  sweep
    .command('validate <spec>')
    .description('check a sweep spec and print how many tasks it expands to')
    .option('--max-tasks <n>', `refuse sweeps above n tasks (default ${DEFAULT_MAX_TASKS})`, parsePositiveInteger)
    .addHelpText('after', '\nExample:\n  $ floodsweep sweep validate examples/tiny.json')
    .action(async (specPath: string, options: { maxTasks?: number }) => {
      const { loadSpecFile } = await import('../input-files.js');
      const { expandSpec } = await import('../sweep/spec.js');
      const spec = loadSpecFile(specPath);
      const tasks = expandSpec(spec, { maxTasks: options.maxTasks });
      const groups = new Set(tasks.map((t) => t.group)).size;
      process.stdout.write(
        `${JSON.stringify(specPath)}: valid; ${tasks.length} tasks = ${groups} setting${groups === 1 ? '' : 's'} x ${spec.floodLevels.length} flood levels x ${spec.seeds.length} seeds\n`,
      );
    });

  const run = sweep
    .command('run [spec]')
    .description(
      'run a sweep through the workflow: locally in process (results in files, or DynamoDB + S3 with --store aws), or on the deployed stack with --cloud',
    )
    .option('--resume <sweepId>', 'finish an interrupted sweep: only the missing work runs, from checkpoints')
    .option('--workers <n>', 'worker threads (default: number of cores)', parsePositiveInteger)
    .option('--max-tasks <n>', `refuse sweeps above n tasks (default ${DEFAULT_MAX_TASKS})`, parsePositiveInteger)
    .option(
      '--epochs-per-call <n>',
      'epochs per Train call, i.e. how often tasks checkpoint',
      parsePositiveInteger,
      DEFAULT_EPOCHS_PER_CALL,
    )
    .option('--out <dir>', `with --cloud: where summary, plots and report are copied (default ${DEFAULT_RESULTS_DIR})`)
    .option('--json', 'print the summary as JSON')
    .addHelpText(
      'after',
      '\nExamples:\n  $ floodsweep sweep run examples/tiny.json\n  $ floodsweep sweep run --resume <sweepId> --results ./floodsweep-results',
    );
  addStoreOptions(run);
  addBackendOption(run);
  run.action(async (specPath: string | undefined, options: SweepRunFlags) => {
    if (!specPath && !options.resume) throw new UsageError('spec: give a sweep spec file, or --resume <sweepId>');
    if (specPath && options.resume)
      throw new UsageError('--resume: takes the spec the sweep was started with; give either a spec file or --resume');
    const backend = backendRequest(options.backend);
    const { loadSpecFile } = await import('../input-files.js');
    const spec = specPath ? loadSpecFile(specPath) : undefined;
    const { resumeSweep, runSweep } = await import('../run.js');
    const result = await runWithProgress(
      options,
      { backend, workers: options.workers, epochsPerCall: options.epochsPerCall, maxTasks: options.maxTasks },
      (runOptions) => (spec ? runSweep(spec, runOptions) : resumeSweep(options.resume!, runOptions)),
    );
    if (options.json) process.stdout.write(`${JSON.stringify(result.summary)}\n`);
    else process.stdout.write(formatSummary(result.summary, result.reportLocation));
    process.exitCode = result.summary.status === 'SUCCEEDED' ? 0 : 1;
  });

  addStoreOptions(sweep.command('list').description('list sweeps, newest first'))
    .addHelpText('after', '\nExample:\n  $ floodsweep sweep list --results ./floodsweep-results')
    .action(async (options: StoreOptions) => {
      const stores = await openFor(options);
      const { readSummary } = await import('../store/summary.js');
      const { bestResult, formatLevel, isLossMetric } = await import('../sweep/aggregate.js');
      const sweeps = await stores.metrics.listSweeps();
      if (sweeps.length === 0) process.stdout.write('no sweeps yet\n');
      for (const s of sweeps) {
        const summary = s.status === 'RUNNING' ? undefined : await readSummary(stores, s.sweepId);
        const best = summary ? bestResult(summary) : null;
        const value = best && (isLossMetric(best.metric) ? best.value.toFixed(4) : `${pct(best.value)}%`);
        const bestText = best ? `  best b=${formatLevel(best.floodLevel)} ${best.metric} ${value}` : '';
        process.stdout.write(
          `${s.sweepId}  ${s.status.padEnd(9)} ${String(s.taskCount).padStart(5)} tasks  ${s.createdAt}  ${s.name}${bestText}${best && summary!.groups.length > 1 ? ` (${best.setting})` : ''}\n`,
        );
      }
    });

  addStoreOptions(sweep.command('status <sweepId>').description("a sweep's status and the progress of its tasks"))
    .option('--json', 'print JSON')
    .option('--follow', 'with --cloud: follow the running execution until it ends, then print the status')
    .addHelpText('after', '\nExamples:\n  $ floodsweep sweep status <sweepId>\n  $ floodsweep sweep status <sweepId> --cloud --follow')
    .action(async (sweepId: string, options: StoreOptions & { json?: boolean; follow?: boolean }) => {
      if (options.follow && !options.cloud) throw new UsageError('--follow: only with --cloud; a local run shows its progress itself');
      if (options.follow) await followCloudSweep(sweepId, options);
      const stores = await openFor(options);
      const record = await stores.metrics.getSweep(sweepId);
      if (!record) throw new UsageError(`sweep ${JSON.stringify(sweepId)} not found in ${stores.artifacts.locate('')}`);
      const tasks = await stores.metrics.listTasks(sweepId);
      if (options.json) {
        process.stdout.write(`${JSON.stringify({ sweep: record, tasks: tasks.map(({ config: _c, ...t }) => t) })}\n`);
        return;
      }
      const counts = new Map<string, number>();
      for (const t of tasks) counts.set(t.status, (counts.get(t.status) ?? 0) + 1);
      process.stdout.write(`${record.sweepId}: ${record.status}; ${[...counts].map(([s, n]) => `${n} ${s.toLowerCase()}`).join(', ')}\n`);
      for (const t of tasks) {
        const line = `  ${t.taskId}  b=${t.config.floodLevel} seed ${t.config.seed}  ${t.status.padEnd(9)} epoch ${t.epochsDone}/${t.epochsTotal}`;
        process.stdout.write(`${line}${t.error ? `  ${t.error}` : ''}\n`);
      }
    });

  sweep
    .command('stop <sweepId>')
    .description("stop a sweep's running execution on the deployed stack (a local run stops with Ctrl-C)")
    .requiredOption('--cloud', 'the deployed stack (required)')
    .option('--stack <name>', `the deployed stack's name (default ${DEFAULT_STACK})`)
    .option('--region <region>', 'AWS region (default from the AWS environment)')
    .addHelpText(
      'after',
      '\nExample:\n  $ floodsweep sweep stop <sweepId> --cloud\n\nResume it later with: floodsweep sweep run --resume <sweepId> --cloud',
    )
    .action(async (sweepId: string, options: StoreOptions) => {
      const { findRunningExecution, stopCloudExecution } = await import('../workflow/cloud-executor.js');
      const { openStores } = await import('../store/open.js');
      const target = await cloudTarget(options);
      const executionArn = await findRunningExecution(target, sweepId);
      if (!executionArn) throw new UsageError(`sweep ${JSON.stringify(sweepId)} has no running execution on ${target.stateMachineArn}`);
      const cause = 'stopped by the user (floodsweep sweep stop)';
      await stopCloudExecution(target, executionArn, cause);
      // A stopped execution runs no Catch: the sweep record would stay RUNNING.
      await openStores(target.stores).metrics.updateSweep(sweepId, ['RUNNING'], { status: 'FAILED', error: cause });
      process.stdout.write(`stopped ${executionArn}; resume with: ${invocation()} sweep run --resume ${sweepId} ${cloudFlags(options)}\n`);
    });

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
        process.stdout.write(await tidyTable(stores, sweepId, options.format, options.epochs === true));
        return;
      }
      const { requireSummary } = await import('../run.js');
      const { sweepKeys } = await import('../store/ports.js');
      const summary = await requireSummary(stores, sweepId);
      if (options.json) process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
      else if (options.csv) process.stdout.write(summaryCsv(summary));
      else process.stdout.write(formatSummary(summary, stores.artifacts.locate(sweepKeys(sweepId).report)));
    });

  addStoreOptions(sweep.command('plots <sweepId>').description("copy a sweep's plots to a directory"))
    .requiredOption('--out <dir>', 'where to write the plots')
    .addHelpText('after', '\nExample:\n  $ floodsweep sweep plots <sweepId> --out ./plots')
    .action(async (sweepId: string, options: StoreOptions & { out: string }) => {
      const stores = await openFor(options);
      const { sweepKeys } = await import('../store/ports.js');
      const prefix = sweepKeys(sweepId).plot('x').slice(0, -1);
      const keys = await stores.artifacts.list(prefix);
      if (keys.length === 0) throw new UsageError(`sweep ${JSON.stringify(sweepId)} has no plots (not found, or not aggregated yet)`);
      await mkdir(options.out, { recursive: true });
      for (const key of keys) await writeFile(join(options.out, key.slice(prefix.length)), (await stores.artifacts.get(key))!);
      process.stdout.write(`${keys.length} files written to ${resolve(options.out)}\n`);
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

/** The tidy per-task (or per-epoch) table of a sweep, finished or not, with the grid axes of its stored spec. */
async function tidyTable(stores: Stores, sweepId: string, format: TableFormat, perEpoch: boolean): Promise<string> {
  const { readStoredSpec } = await import('../run.js');
  const spec = await readStoredSpec(stores, sweepId);
  const tasks = await stores.metrics.listTasks(sweepId);
  const epochs = new Map<string, EpochMetrics[]>();
  for (const task of tasks) epochs.set(task.taskId, await stores.metrics.getEpochs(sweepId, task.taskId));
  const build = perEpoch ? epochTable : taskTable;
  return formatTable(
    build(tasks, Object.keys(spec.grid), (taskId) => epochs.get(taskId) ?? []),
    format,
  );
}

interface SweepRunFlags extends StoreOptions {
  resume?: string;
  workers?: number;
  maxTasks?: number;
  epochsPerCall: number;
  out?: string;
  json?: boolean;
  backend?: string;
}

/** "resuming: 3 of 8 tasks done; 2 continue from checkpoints (1a2b3c at epoch 50, 4d5e6f at epoch 20); 3 start from the beginning". */
export function describeResume({ done, fromCheckpoint, fromScratch }: ResumeFindings, taskCount: number, listed = 5): string {
  const parts = [`resuming: ${done} of ${taskCount} tasks done`];
  if (fromCheckpoint.length > 0) {
    const some = fromCheckpoint.slice(0, listed).map((t) => `${t.taskId.slice(0, 6)} at epoch ${t.epoch}`);
    const more = fromCheckpoint.length > listed ? `, and ${fromCheckpoint.length - listed} more` : '';
    parts.push(`${fromCheckpoint.length} continue from checkpoints (${some.join(', ')}${more})`);
  }
  if (fromScratch > 0) parts.push(`${fromScratch} start from the beginning`);
  return parts.join('; ');
}

/** The flags that name the same deployed stack again, for hints. */
function cloudFlags(options: StoreOptions): string {
  return [
    '--cloud',
    options.stack ? `--stack ${shellQuote(options.stack)}` : '',
    options.region ? `--region ${shellQuote(options.region)}` : '',
  ]
    .filter(Boolean)
    .join(' ');
}

/** Follows a sweep's running cloud execution with a progress line until it ends. */
async function followCloudSweep(sweepId: string, options: StoreOptions): Promise<void> {
  const { findRunningExecution } = await import('../workflow/cloud-executor.js');
  const { followExecution } = await import('../run.js');
  const target = await cloudTarget(options);
  const executionArn = await findRunningExecution(target, sweepId);
  if (!executionArn) return;
  const progress = new ProgressLine();
  const eta = new Eta();
  process.stderr.write(`following ${executionArn}\n`);
  try {
    await followExecution(sweepId, executionArn, target, {
      onEvent: (event) => {
        if (event.type === 'progress')
          progress.update(
            describeProgress(event.progress, eta.estimate(event.progress.epochsDone, event.progress.epochsTotal), progress.width),
          );
      },
    });
  } finally {
    progress.finish();
  }
}

/** The stores a reading command looks at. */
export async function openFor(options: StoreOptions) {
  const { openStores } = await import('../store/open.js');
  return openStores(await storeConfig(options, 'reading'));
}

/**
 * Runs a sweep (or a reproducibility run) where the flags say, with a progress line on stderr.
 * Ctrl-C stops a local run and says how to resume it; for a cloud run it stops only the following.
 */
export async function runWithProgress<T extends SweepRunResult>(
  flags: StoreOptions & { out?: string },
  settings: Pick<RunSweepOptions, 'backend' | 'workers' | 'epochsPerCall' | 'maxTasks'>,
  start: (options: RunSweepOptions) => Promise<T>,
): Promise<T> {
  if (flags.out !== undefined && !flags.cloud)
    throw new UsageError('--out: only with --cloud (where the results are copied); the local results directory is --results');
  const cloud = flags.cloud ? { target: await cloudTarget(flags), downloadDir: flags.out ?? DEFAULT_RESULTS_DIR } : undefined;
  const stores: StoreConfig | undefined = cloud ? undefined : await storeConfig(flags, 'writing');
  const progress = new ProgressLine();
  const eta = new Eta();
  const started = Date.now();
  const controller = new AbortController();
  let sweepId: string | undefined;
  const interrupt = () => {
    controller.abort();
    progress.finish();
    const id = sweepId ?? '<sweepId>';
    const hint = cloud
      ? `stopped following; the execution keeps running in the cloud. Follow it again: ${invocation()} sweep status ${id} ${cloudFlags(flags)} --follow; stop it: ${invocation()} sweep stop ${id} ${cloudFlags(flags)}`
      : `interrupted; finish it with: ${invocation()} sweep run --resume ${id} ${storeFlags(stores!)}`;
    process.stderr.write(`${hint}\n`);
    process.exit(130);
  };
  process.once('SIGINT', interrupt);
  try {
    const result = await start({
      ...settings,
      stores,
      cloud,
      signal: controller.signal,
      onEvent: (event) => {
        if (event.type === 'started') {
          sweepId = event.sweepId;
          process.stderr.write(`sweep ${event.sweepId}: ${event.taskCount ? `${event.taskCount} tasks ` : ''}on ${event.where}\n`);
          if (event.resumed) process.stderr.write(`${describeResume(event.resumed, event.taskCount)}\n`);
        } else if (event.type === 'progress') {
          progress.update(
            describeProgress(event.progress, eta.estimate(event.progress.epochsDone, event.progress.epochsTotal), progress.width),
          );
        } else {
          process.stderr.write(`alert: ${event.subject} (sent to the alert topic when run in the cloud)\n`);
        }
      },
    });
    progress.finish(`sweep ${result.sweepId}: ${result.summary.status} in ${formatDuration(Date.now() - started)}`);
    return result;
  } finally {
    process.off('SIGINT', interrupt);
  }
}

const pct = (x: number) => (x * 100).toFixed(1);
const estimateText = (e: { mean: number; sd: number } | null) => (e ? `${pct(e.mean)} ± ${pct(e.sd)}` : 'n/a');

export function formatSummary(summary: SweepSummary, reportLocation: string): string {
  const lines = [
    `sweep ${summary.sweepId}: ${summary.status} · ${summary.succeededTasks}/${summary.taskCount} tasks succeeded${summary.prunedTasks > 0 ? `, ${summary.prunedTasks} pruned` : ''} · backend ${summary.backends.join(', ') || 'n/a'} · flood level chosen by ${summary.selection.metric} at the ${summary.selection.epoch} epoch`,
  ];
  for (const group of summary.groups) {
    lines.push(
      '',
      `${group.setting}: chosen flood level ${group.chosenLevel ?? 'n/a'}${group.chosenFromPruned ? ' (every level had a pruned seed)' : ''}`,
    );
    lines.push(
      `  ${'b'.padEnd(8)}${'seeds'.padStart(5)}  ${'clean test acc %'.padStart(16)}  ${'noisy test acc %'.padStart(16)}  ${'clean diff to b=0 (95% CI)'.padStart(28)}`,
    );
    for (const level of group.levels) {
      const diff = level.diffToBaseline?.testCleanAcc;
      const diffText = diff
        ? `${diff.mean >= 0 ? '+' : ''}${pct(diff.mean)}${diff.ci95 ? ` [${pct(diff.ci95[0])}, ${pct(diff.ci95[1])}]` : ''}`
        : '';
      const mark = level.floodLevel === group.chosenLevel ? '*' : '';
      lines.push(
        `  ${`${level.floodLevel}${mark}`.padEnd(8)}${String(level.seeds.length).padStart(5)}  ${estimateText(level.testCleanAcc).padStart(16)}  ${estimateText(level.testAcc).padStart(16)}  ${diffText.padStart(28)}${level.pruned.length > 0 ? `  ${level.pruned.length} pruned` : ''}`,
      );
    }
  }
  if (summary.failedTasks.length > 0) {
    lines.push('', 'failed tasks:');
    for (const t of summary.failedTasks) lines.push(`  ${t.taskId} b=${t.floodLevel} seed ${t.seed} ${t.status}: ${t.error}`);
  }
  lines.push('', `report: ${reportLocation}`);
  return `${lines.join('\n')}\n`;
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
