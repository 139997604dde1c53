import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { openStores, type StoreConfig, type Stores } from '../store/open.js';
import { sweepKeys } from '../store/ports.js';
import type { SweepSummary } from '../sweep/aggregate.js';
import { DEFAULT_MAX_TASKS, describeGroup, expandSpec, parseSpecText, type SweepSpec } from '../sweep/spec.js';
import { runWorkflowLocally } from '../local/runner.js';
import { DEFAULT_STACK, resolveCloudTarget, runSweepInCloud } from './cloud.js';
import type { CompareOutput, ReproBlock } from '../sweep/repro.js';
import { UsageError } from './errors.js';
import { addBackendOption, backendRequest, parsePositiveInteger } from './options.js';
import { Eta, formatDuration, ProgressLine } from './progress.js';

const DEFAULT_RESULTS_DIR = './floodsweep-results';

export interface StoreOptions {
  cloud?: boolean;
  stack?: string;
  store?: string;
  table?: string;
  bucket?: string;
  endpointUrl?: string;
  region?: string;
}

export function addStoreOptions(command: Command, dirFlag: string): Command {
  return command
    .option(dirFlag, `local results directory (default ${DEFAULT_RESULTS_DIR})`)
    .option('--cloud', 'use the deployed stack (its DynamoDB table, S3 bucket and state machine)')
    .option('--stack <name>', `the deployed stack's name, with --cloud (default ${DEFAULT_STACK})`)
    .option('--store <kind>', 'local (files, the default) or aws (DynamoDB + S3)', 'local')
    .option('--table <name>', 'DynamoDB table (with --store aws)')
    .option('--bucket <name>', 'S3 bucket (with --store aws)')
    .option('--endpoint-url <url>', 'AWS endpoint override, e.g. a local DynamoDB/S3 emulator (with --store aws)')
    .option('--region <region>', 'AWS region (with --store aws; default from the AWS environment)');
}

/** Where the results are: a local directory, a table and bucket named by flags, or the deployed stack's. */
export async function storeConfig(options: StoreOptions, dir: string | undefined): Promise<StoreConfig> {
  if (options.cloud) return (await resolveCloudTarget(options.stack, options.region)).stores;
  if (options.store === 'aws') {
    if (!options.table) throw new UsageError('--table: required with --store aws');
    if (!options.bucket) throw new UsageError('--bucket: required with --store aws');
    return { kind: 'aws', table: options.table, bucket: options.bucket, endpointUrl: options.endpointUrl, region: options.region };
  }
  if (options.store !== 'local') throw new UsageError(`--store: unknown store "${options.store}"; allowed: local, aws`);
  return { kind: 'local', rootDir: resolve(dir ?? process.env.FLOODSWEEP_RESULTS_DIR ?? DEFAULT_RESULTS_DIR) };
}

export function readSpecFile(path: string): SweepSpec {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new UsageError(`spec: cannot read "${path}": ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  return parseSpecText(text, path);
}

async function storedSpec(stores: Stores, sweepId: string): Promise<SweepSpec> {
  const sweep = await stores.metrics.getSweep(sweepId);
  if (!sweep) throw new UsageError(`sweep "${sweepId}" not found in ${stores.artifacts.locate('')}`);
  const bytes = await stores.artifacts.get(sweep.specKey);
  if (!bytes) throw new Error(`${stores.artifacts.locate(sweep.specKey)} is missing`);
  return parseSpecText(bytes.toString('utf8'), sweep.specKey);
}

export function registerSweep(program: Command): void {
  const sweep = program.command('sweep').description('plan, run and inspect sweeps over flood levels x seeds x settings');

  sweep
    .command('validate <spec>')
    .description('check a sweep spec and print how many tasks it expands to')
    .option('--max-tasks <n>', `refuse sweeps above n tasks (default ${DEFAULT_MAX_TASKS})`, parsePositiveInteger)
    .action((specPath: string, options: { maxTasks?: number }) => {
      const spec = readSpecFile(specPath);
      const tasks = expandSpec(spec, { maxTasks: options.maxTasks });
      const groups = new Set(tasks.map((t) => t.group)).size;
      process.stdout.write(
        `${specPath}: valid; ${tasks.length} tasks = ${groups} setting${groups === 1 ? '' : 's'} x ${spec.floodLevels.length} flood levels x ${spec.seeds.length} seeds\n`,
      );
    });

  const run = sweep
    .command('run [spec]')
    .description('run a sweep through the workflow: locally in process (results in files, or DynamoDB + S3 with --store aws), or on the deployed stack with --cloud')
    .option('--resume <sweepId>', 'finish an interrupted sweep: only the missing work runs, from checkpoints')
    .option('--workers <n>', 'worker threads (default: number of cores)', parsePositiveInteger)
    .option('--max-tasks <n>', `refuse sweeps above n tasks (default ${DEFAULT_MAX_TASKS})`, parsePositiveInteger)
    .option('--epochs-per-call <n>', 'epochs per Train call, i.e. how often tasks checkpoint', parsePositiveInteger, 50)
    .option('--json', 'print the summary as JSON');
  addStoreOptions(run, '--out <dir>');
  addBackendOption(run);
  run.action(async (specPath: string | undefined, options: StoreOptions & Record<string, unknown>) => {
    const resume = options.resume as string | undefined;
    if (!specPath && !resume) throw new UsageError('spec: give a sweep spec file, or --resume <sweepId>');
    const localSpec = specPath ? readSpecFile(specPath) : undefined;
    const backend = backendRequest(options.backend as string | undefined);
    const config = await storeConfig(options, options.out as string | undefined);
    const spec = localSpec ?? (await storedSpec(openStores(config), resume!));
    expandSpec(spec, { maxTasks: options.maxTasks as number | undefined });
    const summary = await executeSweep({ spec, sweepId: resume, maxTasks: options.maxTasks as number | undefined }, options, {
      backend,
      workers: options.workers as number | undefined,
      epochsPerCall: options.epochsPerCall as number,
    });
    if (options.json) process.stdout.write(`${JSON.stringify(summary.summary)}\n`);
    else process.stdout.write(formatSummary(summary.summary, summary.reportLocation));
    process.exitCode = summary.summary.status === 'SUCCEEDED' ? 0 : 1;
  });

  addStoreOptions(sweep.command('list').description('list sweeps, newest first'), '--results <dir>').action(async (options: StoreOptions & { results?: string }) => {
    const stores = openStores(await storeConfig(options, options.results));
    const sweeps = await stores.metrics.listSweeps();
    if (sweeps.length === 0) process.stdout.write('no sweeps yet\n');
    for (const s of sweeps) process.stdout.write(`${s.sweepId}  ${s.status.padEnd(9)} ${String(s.taskCount).padStart(5)} tasks  ${s.createdAt}\n`);
  });

  addStoreOptions(sweep.command('status <sweepId>').description("a sweep's status and the progress of its tasks"), '--results <dir>')
    .option('--json', 'print JSON')
    .action(async (sweepId: string, options: StoreOptions & { results?: string; json?: boolean }) => {
      const stores = openStores(await storeConfig(options, options.results));
      const record = await stores.metrics.getSweep(sweepId);
      if (!record) throw new UsageError(`sweep "${sweepId}" not found`);
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

  addStoreOptions(sweep.command('results <sweepId>').description("a finished sweep's summary table"), '--results <dir>')
    .option('--json', 'print summary.json')
    .option('--csv', 'print one CSV row per group and flood level')
    .action(async (sweepId: string, options: StoreOptions & { results?: string; json?: boolean; csv?: boolean }) => {
      const stores = openStores(await storeConfig(options, options.results));
      const summary = await readSummary(stores, sweepId);
      if (options.json) process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
      else if (options.csv) process.stdout.write(summaryCsv(summary));
      else process.stdout.write(formatSummary(summary, stores.artifacts.locate(sweepKeys(sweepId).report)));
    });

  addStoreOptions(sweep.command('plots <sweepId>').description("copy a sweep's plots to a directory"), '--results <dir>')
    .requiredOption('--out <dir>', 'where to write the plots')
    .action(async (sweepId: string, options: StoreOptions & { results?: string; out: string }) => {
      const stores = openStores(await storeConfig(options, options.results));
      const prefix = sweepKeys(sweepId).plot('x').slice(0, -1);
      const keys = await stores.artifacts.list(prefix);
      if (keys.length === 0) throw new UsageError(`sweep "${sweepId}" has no plots (not found, or not aggregated yet)`);
      await mkdir(options.out, { recursive: true });
      for (const key of keys) await writeFile(join(options.out, key.slice(prefix.length)), (await stores.artifacts.get(key))!);
      process.stdout.write(`${keys.length} files written to ${resolve(options.out)}\n`);
    });
}

async function readSummary(stores: Stores, sweepId: string): Promise<SweepSummary> {
  const bytes = await stores.artifacts.get(sweepKeys(sweepId).summary);
  if (!bytes) throw new UsageError(`sweep "${sweepId}" has no summary (not found, or not aggregated yet)`);
  return JSON.parse(bytes.toString('utf8')) as SweepSummary;
}

/** Runs a sweep where the flags say: in the deployed stack with --cloud, in process otherwise. */
export async function executeSweep(
  input: Parameters<typeof runSweep>[0],
  options: StoreOptions & { out?: string },
  settings: SweepRunSettings,
): ReturnType<typeof runSweep> {
  if (options.cloud) {
    const target = await resolveCloudTarget(options.stack, options.region);
    return runSweepInCloud(input, target, options.out ?? DEFAULT_RESULTS_DIR);
  }
  return runSweep(input, await storeConfig(options, options.out), settings);
}

export interface SweepRunSettings {
  backend: ReturnType<typeof backendRequest>;
  workers?: number;
  epochsPerCall?: number;
}

/** Runs a sweep locally with a progress line; Ctrl-C stops it and says how to resume. */
export async function runSweep(
  input: { spec: SweepSpec; sweepId?: string; maxTasks?: number; repro?: ReproBlock },
  stores: StoreConfig,
  settings: SweepRunSettings,
): Promise<{ summary: SweepSummary; reportLocation: string; compare?: CompareOutput }> {
  const progress = new ProgressLine();
  const eta = new Eta();
  const started = Date.now();
  const running = new Map<string, { epoch: number; total: number }>();
  const finished = { succeeded: 0, failed: 0 };
  let taskCount = 0;
  let totalEpochs = 0;
  let sweepId = input.sweepId;
  const epochsDone = new Map<string, number>();
  const show = () => {
    const done = [...epochsDone.values()].reduce((a, b) => a + b, 0);
    const active = [...running].map(([id, p]) => `${id.slice(0, 6)} ${p.epoch}/${p.total}`).join(', ');
    progress.update(
      `tasks ${finished.succeeded + finished.failed}/${taskCount} done (${finished.failed} failed), ${running.size} running${active ? `: ${active}` : ''} · ${eta.estimate(done, totalEpochs)}`,
    );
  };
  const execution = runWorkflowLocally(input, {
    stores,
    backend: settings.backend,
    workers: settings.workers,
    epochsPerCall: settings.epochsPerCall,
    onPlanned: (plan, backend) => {
      sweepId = plan.sweepId;
      taskCount = plan.taskCount;
      totalEpochs = expandSpec(input.spec, { maxTasks: input.maxTasks }).reduce((n, t) => n + t.config.training.epochs, 0);
      process.stderr.write(`sweep ${plan.sweepId}: ${plan.taskCount} tasks on ${backend}\n`);
    },
    onEpoch: (taskId, epoch, total) => {
      running.set(taskId, { epoch, total });
      epochsDone.set(taskId, epoch);
      show();
    },
    onTaskEnd: (taskId, outcome) => {
      running.delete(taskId);
      finished[outcome] += 1;
      show();
    },
    onAlert: (subject) => process.stderr.write(`alert: ${subject} (sent to the alert topic when run in the cloud)\n`),
  });
  const interrupt = () => {
    execution.abort();
    progress.finish();
    const where = stores.kind === 'local' ? `--out ${stores.rootDir}` : `--store aws --table ${stores.table} --bucket ${stores.bucket}`;
    process.stderr.write(`interrupted; finish it with: floodsweep sweep run --resume ${sweepId ?? '<sweepId>'} ${where}\n`);
    process.exit(130);
  };
  process.once('SIGINT', interrupt);
  try {
    const { aggregate, compare } = await execution.result;
    progress.finish(`sweep ${aggregate.sweepId}: ${aggregate.status} in ${formatDuration(Date.now() - started)}`);
    const opened = openStores(stores);
    return { summary: await readSummary(opened, aggregate.sweepId), reportLocation: opened.artifacts.locate(aggregate.reportKey), compare };
  } finally {
    process.off('SIGINT', interrupt);
  }
}

const pct = (x: number) => (x * 100).toFixed(1);
const estimateText = (e: { mean: number; sd: number } | null) => (e ? `${pct(e.mean)} ± ${pct(e.sd)}` : 'n/a');

export function formatSummary(summary: SweepSummary, reportLocation: string): string {
  const lines = [
    `sweep ${summary.sweepId}: ${summary.status} · ${summary.succeededTasks}/${summary.taskCount} tasks succeeded · backend ${summary.backends.join(', ') || 'n/a'} · flood level chosen by ${summary.selection.metric} at the ${summary.selection.epoch} epoch`,
  ];
  for (const group of summary.groups) {
    lines.push('', `${describeGroup(group.label)}: chosen flood level ${group.chosenLevel ?? 'n/a'}`);
    lines.push(`  ${'b'.padEnd(8)}${'seeds'.padStart(5)}  ${'clean test acc %'.padStart(16)}  ${'noisy test acc %'.padStart(16)}  ${'clean diff to b=0 (95% CI)'.padStart(28)}`);
    for (const level of group.levels) {
      const diff = level.diffToBaseline?.testCleanAcc;
      const diffText = diff ? `${diff.mean >= 0 ? '+' : ''}${pct(diff.mean)}${diff.ci95 ? ` [${pct(diff.ci95[0])}, ${pct(diff.ci95[1])}]` : ''}` : '';
      const mark = level.floodLevel === group.chosenLevel ? '*' : '';
      lines.push(
        `  ${`${level.floodLevel}${mark}`.padEnd(8)}${String(level.seeds.length).padStart(5)}  ${estimateText(level.testCleanAcc).padStart(16)}  ${estimateText(level.testAcc).padStart(16)}  ${diffText.padStart(28)}`,
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
  const header = ['group', 'setting', 'floodLevel', 'chosen', 'seeds', 'testCleanAccMean', 'testCleanAccSd', 'testAccMean', 'testAccSd', 'diffCleanMean', 'diffCleanCiLow', 'diffCleanCiHigh'];
  const quote = (v: unknown) => (v === null || v === undefined ? '' : /[",\n]/.test(String(v)) ? `"${String(v).replaceAll('"', '""')}"` : String(v));
  const rows = summary.groups.flatMap((group) =>
    group.levels.map((level) => {
      const diff = level.diffToBaseline?.testCleanAcc;
      return [
        group.group,
        describeGroup(group.label),
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
      ].map(quote);
    }),
  );
  return `${[header, ...rows].map((row) => row.join(',')).join('\n')}\n`;
}
