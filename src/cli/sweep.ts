import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { type Command, InvalidArgumentError } from 'commander';
import { addCostOptions, type CostFlags, costOptions, parsePositiveNumber, priceTableOf, registerSweepCost } from '../cost/command.js';
import type { StoredCostEstimate } from '../cost/model.js';
import { DEFAULT_EPOCHS_PER_CALL, DEFAULT_MAX_TASKS, DEFAULT_RESULTS_DIR, DEFAULT_STACK } from '../env.js';
import { EXIT_INTERRUPTED, EXIT_TERMINATED, UsageError } from '../errors.js';
import type { EpochMetrics } from '../flooding/metrics.js';
import type { ResumeFindings, RunSweepOptions, SweepRunResult } from '../run.js';
import type { Stores } from '../store/open.js';
import type { SweepSummary } from '../sweep/aggregate.js';
import type { SweepRecord, TaskRecord } from '../sweep/records.js';
import type { PlannedTask, SweepSpec } from '../sweep/spec.js';
import { epochTable, formatTable, TABLE_FORMATS, type TableFormat, taskTable, toCsv } from '../sweep/tables.js';
import { invocation } from './invocation.js';
import {
  addBackendOption,
  addResourceOptions,
  backendRequest,
  parseId,
  parsePositiveInteger,
  type ResourceFlags,
  resourceSettings,
} from './options.js';
import { describeProgress, Eta, formatDuration, ProgressLine } from './progress.js';
import { addStoreOptions, checkOutputDir, cloudTarget, type StoreOptions, shellQuote, storeConfig, storeFlags } from './stores.js';

export function registerSweep(program: Command): void {
  const sweep = program.command('sweep').description('plan, run and inspect sweeps over flood levels x seeds x settings');

  const validate = sweep
    .command('validate <spec>')
    .description(
      'check a sweep spec; print how many tasks it expands to, the points drawn for its sampled axes, its data files, the memory a task needs and the work in epochs x samples',
    )
    .option('--max-tasks <n>', `refuse sweeps above n tasks (default ${DEFAULT_MAX_TASKS})`, parsePositiveInteger)
    .addHelpText('after', '\nExample:\n  $ floodsweep sweep validate examples/tiny.json');
  addResourceOptions(validate).action(async (specPath: string, options: ResourceFlags & { maxTasks?: number }) => {
    const { loadSpecFile } = await import('../input-files.js');
    const [{ planTasks }, { sampledPoints }] = await Promise.all([import('../planned-tasks.js'), import('../sweep/expansion.js')]);
    const { checkSweepResources } = await import('./resources.js');
    const { formatSampledPoints } = await import('./sampled-points.js');
    const spec = loadSpecFile(specPath);
    const tasks = planTasks(spec, { maxTasks: options.maxTasks });
    const dataLines = await describeDataFiles(tasks);
    const resources = await checkSweepResources(tasks, options);
    const groups = new Set(tasks.map((t) => t.group)).size;
    // A sampled floodLevels gives each setting the levels drawn for it (plus b = 0): counted per setting.
    const pairs = new Set(tasks.map((t) => `${t.group}/${t.config.floodLevel}`)).size;
    const settings = `${groups} setting${groups === 1 ? '' : 's'}`;
    const levels = pairs % groups === 0 ? `${settings} x ${pairs / groups} flood levels` : `${pairs} flood levels over ${settings}`;
    process.stdout.write(`${JSON.stringify(specPath)}: valid; ${tasks.length} tasks = ${levels} x ${spec.seeds.length} seeds\n`);
    process.stdout.write(formatSampledPoints(sampledPoints(spec, { maxTasks: options.maxTasks }), spec.search?.seed ?? 0));
    for (const line of [...dataLines, ...resources]) process.stdout.write(`${line}\n`);
    const { flopEstimate } = await import('../cost/model.js');
    const { estimateLine } = await import('../cost/format.js');
    const quick = flopEstimate(spec, tasks);
    process.stdout.write(
      quick
        ? `${estimateLine(quick)}; \`${invocation()} sweep cost ${shellQuote(specPath)}\` calibrates\n`
        : `cost: csv data sets need a calibration: run \`${invocation()} sweep cost ${shellQuote(specPath)}\`\n`,
    );
  });

  registerSweepCost(sweep);

  const run = sweep
    .command('run [spec]')
    .description(
      'run a sweep through the workflow: locally in process (results in files, or DynamoDB + S3 with --store aws), or on the deployed stack with --cloud',
    )
    .option(
      '--resume <sweepId>',
      'finish an interrupted or failed sweep: only the missing work runs, from checkpoints (a spec given too must be its own)',
      parseId,
    )
    .option(
      '--restart-task <taskIds>',
      'with --resume: retrain these tasks from scratch, dropping their checkpoints and epoch rows (repeatable, or comma-separated)',
      (value: string, previous: string[] = []) => [...previous, ...value.split(',').map(parseId)],
    )
    .option('--restart-failed', 'with --resume: retrain every failed task from scratch')
    .option('--max-tasks <n>', `refuse sweeps above n tasks (default ${DEFAULT_MAX_TASKS})`, parsePositiveInteger)
    .option(
      '--epochs-per-call <n>',
      'epochs per Train call, i.e. how often tasks checkpoint',
      parsePositiveInteger,
      DEFAULT_EPOCHS_PER_CALL,
    )
    .option('--out <dir>', `with --cloud: where summary, plots and report are copied (default ${DEFAULT_RESULTS_DIR})`)
    .option(
      '--max-cost <usd>',
      "with --cloud: refuse the sweep if its estimate is above this (default: the spec's execution.maxCostUsd, else none)",
      parsePositiveNumber,
    )
    .option('--json', 'print the summary as JSON')
    .addHelpText(
      'after',
      '\nExamples:\n  $ floodsweep sweep run examples/tiny.json\n  $ floodsweep sweep run --resume <sweepId> --results ./floodsweep-results',
    );
  addResourceOptions(run);
  addStoreOptions(run);
  addBackendOption(run);
  addCostOptions(run, { region: false });
  run.action(async (specPath: string | undefined, options: SweepRunFlags) => {
    if (!specPath && !options.resume) throw new UsageError('spec: give a sweep spec file, or --resume <sweepId>');
    if ((options.restartTask || options.restartFailed) && !options.resume) {
      throw new UsageError(`${options.restartTask ? '--restart-task' : '--restart-failed'}: only with --resume <sweepId>`);
    }
    if (options.maxCost !== undefined && !options.cloud) throw new UsageError('--max-cost: only with --cloud; a local run costs nothing');
    const backend = backendRequest(options.backend);
    // Every flag, store name and path is checked before the calibration of the estimate trains anything.
    const target = await runTarget(options);
    const { loadSpecFile } = await import('../input-files.js');
    const spec = specPath ? loadSpecFile(specPath) : undefined;
    // A resumed sweep keeps the estimate it started with.
    const costEstimate = spec && !options.resume ? await estimateBeforeRun(spec, options) : undefined;
    const { resumeSweep, runSweep } = await import('../run.js');
    const result = await runWithProgress(
      options,
      target,
      {
        backend,
        ...resourceSettings(options),
        epochsPerCall: options.epochsPerCall,
        maxTasks: options.maxTasks,
        restartTasks: options.restartTask,
        restartFailed: options.restartFailed,
        costEstimate,
      },
      async (runOptions) => {
        if (!spec) return resumeSweep(options.resume!, runOptions);
        if (options.resume) {
          // With both, the sweep must exist and the spec must be its own (runSweep names the first difference).
          const { openStores } = await import('../store/open.js');
          const { readStoredSpec } = await import('../run.js');
          await readStoredSpec(openStores(runOptions.cloud?.target.stores ?? runOptions.stores!), options.resume);
        }
        return runSweep(spec, { ...runOptions, sweepId: options.resume });
      },
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
      const [{ bestResult, formatLevel }, { isLossMetric }] = await Promise.all([
        import('../sweep/aggregate.js'),
        import('../sweep/selection.js'),
      ]);
      const { observeSweep } = await import('../store/lease.js');
      const sweeps = await stores.metrics.listSweeps();
      if (sweeps.length === 0) process.stdout.write('no sweeps yet\n');
      for (const stored of sweeps) {
        const s = await observeSweep(stores.metrics, stored);
        const summary = s.status === 'RUNNING' || s.status === 'INTERRUPTED' ? undefined : await readSummary(stores, s.sweepId);
        const best = summary ? bestResult(summary) : null;
        const value = best && (isLossMetric(best.metric) ? best.value.toFixed(4) : `${pct(best.value)}%`);
        const bestText = best ? `  best b=${formatLevel(best.floodLevel)} ${best.metric} ${value}` : '';
        process.stdout.write(
          `${s.sweepId}  ${s.status.padEnd(11)} ${String(s.taskCount).padStart(5)} tasks  ${s.createdAt}  ${s.name}${bestText}${best && summary!.groups.length > 1 ? ` (${best.setting})` : ''}\n`,
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
      const { observeSweep } = await import('../store/lease.js');
      const stored = await stores.metrics.getSweep(sweepId);
      if (!stored) throw new UsageError(`sweep ${JSON.stringify(sweepId)} not found in ${stores.artifacts.locate('')}`);
      const record = await observeSweep(stores.metrics, stored);
      const tasks = await stores.metrics.listTasks(sweepId);
      const lease = record.status === 'RUNNING' ? await stores.metrics.getLease(sweepId) : undefined;
      const incurred = await incurredFor(stores, record, tasks);
      if (options.json) {
        const cost = { incurred: incurred.breakdown, unmeasuredTasks: incurred.unmeasuredTasks, estimate: record.costEstimate ?? null };
        process.stdout.write(`${JSON.stringify({ sweep: record, lease, tasks: tasks.map(({ config: _c, ...t }) => t), cost })}\n`);
        return;
      }
      const counts = new Map<string, number>();
      for (const t of tasks) counts.set(t.status, (counts.get(t.status) ?? 0) + 1);
      const succeeded = counts.get('SUCCEEDED') ?? 0;
      const resume = `${invocation()} sweep run --resume ${sweepId} ${options.cloud ? cloudFlags(options) : storeFlags(await storeConfig(options, 'reading'))}`;
      // What happened and what to do, under the status line.
      const whatNow: Partial<Record<typeof record.status, string>> = {
        RUNNING: lease && `running on host ${lease.host}, pid ${lease.pid}, since ${lease.startedAt}`,
        INTERRUPTED: `INTERRUPTED at ${succeeded}/${record.taskCount} tasks (${record.error}); resume with: ${resume}`,
        FAILED: `FAILED: ${record.error ?? 'no task succeeded'}; resume with: ${resume}`,
      };
      process.stdout.write(`${record.sweepId}: ${record.status}; ${[...counts].map(([s, n]) => `${n} ${s.toLowerCase()}`).join(', ')}\n`);
      if (whatNow[record.status]) process.stdout.write(`  ${whatNow[record.status]}\n`);
      const { describeComparison } = await import('../cost/model.js');
      process.stdout.write(`cost: ${describeComparison({ incurred, estimate: record.costEstimate })}\n`);
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
      checkOutputDir('--out', options.out);
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

/** The incurred cost of a sweep as its records tell, with the figures its report drew. */
async function incurredFor(stores: Stores, record: SweepRecord, tasks: TaskRecord[]) {
  const { sweepKeys } = await import('../store/ports.js');
  const { incurredCost } = await import('../cost/model.js');
  const { readStoredSpec } = await import('../run.js');
  const spec = await readStoredSpec(stores, record.sweepId);
  const plots = await stores.artifacts.list(sweepKeys(record.sweepId).plot('x').slice(0, -1));
  return incurredCost(record, tasks, {
    figures: plots.filter((key) => key.endsWith('.png')).length,
    concurrency: spec.execution.maxConcurrency,
  });
}

/**
 * The estimate a new sweep starts with (stored in its sweep record), printed on stderr; a cloud
 * sweep above its cost limit is refused here, before anything is started or written.
 */
async function estimateBeforeRun(spec: SweepSpec, options: SweepRunFlags): Promise<StoredCostEstimate | undefined> {
  const { readEnvironment } = await import('../env.js');
  const maxCostUsd = options.maxCost ?? (options.cloud ? spec.execution.maxCostUsd : undefined);
  const source = options.maxCost !== undefined ? '--max-cost' : 'execution.maxCostUsd';
  const region = options.cloud ? (options.region ?? readEnvironment().aws.region) : undefined;
  const { DEFAULT_REGION } = await import('../cost/model.js');
  if (maxCostUsd === undefined && !Object.hasOwn((await priceTableOf(options)).regions, region ?? DEFAULT_REGION)) {
    // A region without list prices: no estimate, unless a limit needs one (then costOptions refuses it).
    process.stderr.write(`no list prices for region ${JSON.stringify(region)}; no cost estimate (add them with --prices FILE)\n`);
    return undefined;
  }
  const settings = await costOptions(options, region);
  const { estimateSweepCost } = await import('../cost/estimate.js');
  const { checkMaxCost, estimateLine } = await import('../cost/format.js');
  const estimate = await estimateSweepCost(spec, {
    ...settings,
    ignoreMemoryLimit: options.ignoreMemoryLimit,
    maxTasks: options.maxTasks,
    epochsPerCall: options.cloud ? undefined : options.epochsPerCall,
  });
  if (maxCostUsd !== undefined) checkMaxCost(estimate, maxCostUsd, source);
  process.stderr.write(`${estimateLine(estimate.stored)}\n`);
  return estimate.stored;
}

interface SweepRunFlags extends StoreOptions, ResourceFlags, CostFlags {
  maxCost?: number;
  resume?: string;
  restartTask?: string[];
  restartFailed?: boolean;
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

/** Where a run goes, as its flags say: checked (paths, store names, the stack) before anything is estimated, trained or written. */
export async function runTarget(flags: StoreOptions & { out?: string }): Promise<Pick<RunSweepOptions, 'cloud' | 'stores'>> {
  if (flags.out !== undefined && !flags.cloud)
    throw new UsageError('--out: only with --cloud (where the results are copied); the local results directory is --results');
  if (flags.out !== undefined) checkOutputDir('--out', flags.out);
  if (flags.cloud) return { cloud: { target: await cloudTarget(flags), downloadDir: flags.out ?? DEFAULT_RESULTS_DIR } };
  return { stores: await storeConfig(flags, 'writing') };
}

/**
 * Runs a sweep (or a reproducibility run) at `target` (from runTarget), with a progress line on stderr.
 * Ctrl-C stops a local run and says how to resume it; for a cloud run it stops only the following.
 */
export async function runWithProgress<T extends SweepRunResult>(
  flags: StoreOptions,
  { cloud, stores }: Pick<RunSweepOptions, 'cloud' | 'stores'>,
  settings: Pick<
    RunSweepOptions,
    | 'backend'
    | 'workers'
    | 'oversubscribe'
    | 'ignoreMemoryLimit'
    | 'epochsPerCall'
    | 'maxTasks'
    | 'restartTasks'
    | 'restartFailed'
    | 'costEstimate'
  >,
  start: (options: RunSweepOptions) => Promise<T>,
): Promise<T> {
  const progress = new ProgressLine();
  const eta = new Eta();
  const started = Date.now();
  const controller = new AbortController();
  let sweepId: string | undefined;
  const exitAfterInterrupt = (signal: NodeJS.Signals) => {
    progress.finish();
    const id = sweepId ?? '<sweepId>';
    const hint = cloud
      ? `stopped following; the execution keeps running in the cloud. Follow it again: ${invocation()} sweep status ${id} ${cloudFlags(flags)} --follow; stop it: ${invocation()} sweep stop ${id} ${cloudFlags(flags)}`
      : `interrupted; finish it with: ${invocation()} sweep run --resume ${id} ${storeFlags(stores!)}`;
    process.stderr.write(`${hint}\n`);
    process.exit(signal === 'SIGTERM' ? EXIT_TERMINATED : EXIT_INTERRUPTED);
  };
  // The run marks its sweep INTERRUPTED and releases its lease once aborted; a second signal does not wait.
  const interrupt = (signal: NodeJS.Signals) => {
    if (controller.signal.aborted) exitAfterInterrupt(signal);
    controller.abort(signal);
    setTimeout(() => exitAfterInterrupt(signal), INTERRUPT_GRACE_MS).unref();
  };
  process.on('SIGINT', interrupt);
  process.on('SIGTERM', interrupt);
  const { readEnvironment } = await import('../env.js');
  try {
    const result = await start({
      ...settings,
      leaseSeconds: readEnvironment().leaseSeconds,
      // TensorFlow's load-time lines from the workers only with --debug.
      debug: process.argv.includes('--debug'),
      stores,
      cloud,
      signal: controller.signal,
      onEvent: (event) => {
        if (event.type === 'started') {
          sweepId = event.sweepId;
          const workers = event.workers ? ` with ${event.workers} worker${event.workers === 1 ? '' : 's'}` : '';
          process.stderr.write(
            `sweep ${event.sweepId}: ${event.taskCount ? `${event.taskCount} tasks ` : ''}on ${event.where}${workers}\n`,
          );
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
  } catch (error) {
    const signal = controller.signal.reason as NodeJS.Signals | undefined;
    if (controller.signal.aborted && signal) exitAfterInterrupt(signal);
    throw error;
  } finally {
    process.off('SIGINT', interrupt);
    process.off('SIGTERM', interrupt);
  }
}

/** How long an interrupted run may take to record that it stopped before the command exits anyway. */
const INTERRUPT_GRACE_MS = 10_000;

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

/** `sweep validate`: one line per file dataset of the sweep, from the files as training reads them (planTasks has checked them). */
async function describeDataFiles(tasks: readonly PlannedTask[]): Promise<string[]> {
  const { inspectCsv } = await import('../flooding/datasets.js');
  const { describeArrays, isArrayDataset } = await import('../flooding/array-datasets.js');
  const { canonicalJson } = await import('../flooding/json.js');
  const datasets = new Map(tasks.map(({ config: { dataset } }) => [canonicalJson(dataset), dataset]));
  return [...datasets.values()].flatMap((dataset) => {
    if (isArrayDataset(dataset)) return [`  data ${describeArrays(dataset)}`];
    if (dataset.name !== 'csv') return [];
    const { file, labelColumn, rows, features, classes, sha256 } = inspectCsv(dataset);
    return [
      `  data ${file}: label column ${labelColumn}, ${classes} classes, ${rows} rows, ${features} features, sha256 ${sha256.slice(0, 12)}`,
    ];
  });
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
