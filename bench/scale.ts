/**
 * `npm run bench:scale`: sweeps of many trivial tasks (1 epoch, 8 samples, a linear model; flood
 * levels x 10 seeds) through the local executor, against local files and against dynalite + s3rver
 * in process. Each (size, store) runs in a child process of its own, so its peak memory is its own.
 *
 *   node --import tsx bench/scale.ts [--sizes 1000,10000,100000] [--stores local,aws] [--workers 1] [--without-training [--epochs N]]
 *
 * --without-training measures Plan and Aggregate alone: every planned task is recorded as finished
 * (in batches, with the final metrics a trained task would have) instead of being trained, with
 * `--epochs` evaluated epochs each (default 1): the per-epoch curves Aggregate checks and draws.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runSweep } from '../src/run.js';
import { openStores, type StoreConfig, type Stores } from '../src/store/open.js';
import { readSummary } from '../src/store/summary.js';
import { mapLimited } from '../src/sweep/map-limited.js';
import { validateSpec } from '../src/sweep/spec.js';
import { aggregate } from '../src/workflow/aggregate.js';
import { plan } from '../src/workflow/plan.js';
import { credentials, region, startEmulators } from '../test/emulators.js';

const SEEDS = 10;
/** Tasks whose epoch rows are read to estimate the training time per task. */
const TRAINING_SAMPLE = 200;

export interface ScaleFigures {
  tasks: number;
  store: 'local' | 'aws';
  workers: number;
  wallSeconds: number;
  planSeconds: number;
  aggregateSeconds: number;
  /** Mean measured training time of one task (its epoch's `seconds`), over a sample of tasks. */
  trainingMsPerTask: number;
  /** (run wall time - Plan - Aggregate) x workers / tasks - training time per task. */
  overheadMsPerTask: number;
  peakRssMiB: number;
  /** HTTP requests DynamoDB and S3 served per task, over Plan, the run and Aggregate (aws only). */
  dynamodbRequestsPerTask?: number;
  s3RequestsPerTask?: number;
  status: string;
  /** Plan and Aggregate only (--without-training): wall time, overhead and training are 0. */
  withoutTraining: boolean;
  /** Evaluated epochs (stored rows) per task. */
  epochs: number;
  /** How much the process's resident memory grew while Aggregate ran (sampled every 50 ms): what Aggregate itself needs. */
  aggregateRssGrowthMiB: number;
}

export function trivialSpec(tasks: number, epochs = 1) {
  const levels = Math.ceil(tasks / SEEDS);
  return validateSpec({
    name: `scale-${tasks}`,
    dataset: { name: 'sinusoid2d', nTrain: 8, nVal: 8, nTest: 8 },
    model: { kind: 'linear' },
    training: { epochs, batchSize: 8, evalEvery: 1 },
    floodLevels: Array.from({ length: levels }, (_, i) => i / levels),
    seeds: Array.from({ length: SEEDS }, (_, seed) => seed),
    execution: { maxConcurrency: 64 },
  });
}

const seconds = (started: number) => (performance.now() - started) / 1000;

/** One sweep of `tasks` trivial tasks: Plan alone, the whole workflow resuming it, Aggregate again. */
async function measureOne(
  tasks: number,
  store: 'local' | 'aws',
  workers: number,
  withoutTraining: boolean,
  epochs: number,
): Promise<ScaleFigures> {
  const root = await mkdtemp(join(tmpdir(), 'floodsweep-bench-scale-'));
  const emulators = store === 'aws' ? await startEmulators() : undefined;
  try {
    let config: StoreConfig = { kind: 'local', rootDir: root };
    if (emulators) {
      const { tableName, bucket, cleanup } = await emulators.newAwsStores();
      await cleanup();
      // Worker threads build their clients from the environment's credentials.
      process.env.AWS_ACCESS_KEY_ID = credentials.accessKeyId;
      process.env.AWS_SECRET_ACCESS_KEY = credentials.secretAccessKey;
      config = { kind: 'aws', table: tableName, bucket, region, ...emulators.endpoints };
    }
    const stores = openStores(config);
    const spec = trivialSpec(tasks, epochs);
    const before = emulators?.served();

    let started = performance.now();
    const { sweepId } = await plan(stores, { input: { spec, maxTasks: tasks }, executionName: `bench-scale-${tasks}` });
    const planSeconds = seconds(started);

    started = performance.now();
    if (withoutTraining) await recordAsFinished(stores, sweepId, epochs);
    else await runSweep(spec, { stores: config, sweepId, maxTasks: tasks, workers, backend: 'wasm' });
    const wallSeconds = withoutTraining ? 0 : seconds(started);

    const rssBefore = process.memoryUsage().rss;
    let rssPeak = rssBefore;
    const sampler = setInterval(() => {
      rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
    }, 50);
    started = performance.now();
    const { status } = await aggregate(stores, { sweepId });
    const aggregateSeconds = seconds(started);
    clearInterval(sampler);
    const aggregateRssGrowthMiB = (Math.max(rssPeak, process.memoryUsage().rss) - rssBefore) / 2 ** 20;
    const after = emulators?.served();
    const summary = (await readSummary(stores, sweepId))!;

    const runs = withoutTraining ? [] : summary.groups.flatMap((group) => group.levels.flatMap((level) => level.runs));
    const step = Math.max(1, Math.floor(runs.length / TRAINING_SAMPLE));
    const sample = runs.filter((_, i) => i % step === 0);
    let trainingSeconds = 0;
    for (const run of sample) {
      trainingSeconds += (await stores.metrics.getEpochs(sweepId, run.taskId)).reduce((sum, row) => sum + row.seconds, 0);
    }
    const trainingMsPerTask = sample.length === 0 ? 0 : (1000 * trainingSeconds) / sample.length;
    return {
      tasks,
      store,
      workers,
      wallSeconds,
      planSeconds,
      aggregateSeconds,
      trainingMsPerTask,
      // The run's wall time includes a resuming Plan (it writes nothing) and an Aggregate.
      overheadMsPerTask: withoutTraining ? 0 : (1000 * (wallSeconds - aggregateSeconds) * workers) / tasks - trainingMsPerTask,
      peakRssMiB: process.resourceUsage().maxRSS / 1024,
      ...(before && after
        ? {
            dynamodbRequestsPerTask: (after.dynamodb - before.dynamodb) / tasks,
            s3RequestsPerTask: (after.s3 - before.s3) / tasks,
          }
        : {}),
      status,
      withoutTraining,
      epochs,
      aggregateRssGrowthMiB,
    };
  } finally {
    await emulators?.close();
    await rm(root, { recursive: true, force: true });
  }
}

/** What Train leaves behind, minus the training: SUCCEEDED with final metrics and `epochs` epoch rows. */
async function recordAsFinished(stores: Stores, sweepId: string, epochs: number): Promise<void> {
  const split = (x: number) => ({ loss: x, acc: 1 - x, cleanLoss: x, cleanAcc: 1 - x });
  const tasks = await stores.metrics.listTasks(sweepId);
  const finished = tasks.map((task) => {
    const base = 0.5 + 0.1 * Math.sin(10 * task.config.floodLevel + task.config.seed);
    const rows = Array.from({ length: epochs }, (_, i) => {
      const x = base / (1 + i / epochs);
      return { epoch: i + 1, train: split(x), val: split(x), test: split(x), floodedFraction: 0, objective: x, lr: 0.1, seconds: 0 };
    });
    return { task: { ...task, status: 'SUCCEEDED' as const, epochsDone: epochs, final: rows.at(-1)!, backend: 'none' }, rows };
  });
  await stores.metrics.putTasks(finished.map(({ task }) => task));
  await mapLimited(finished, 16, ({ task, rows }) => stores.metrics.putEpochs(sweepId, task.taskId, rows));
}

function measureInChild(
  tasks: number,
  store: string,
  workers: number,
  withoutTraining: boolean,
  epochs: number,
): ScaleFigures | { tasks: number; store: string; error: string } {
  const child = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      fileURLToPath(import.meta.url),
      '--one',
      String(tasks),
      '--stores',
      store,
      '--workers',
      String(workers),
      ...(withoutTraining ? ['--without-training', '--epochs', String(epochs)] : []),
    ],
    { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const line = child.stdout.trim().split('\n').pop() ?? '';
  if (child.status !== 0 || !line.startsWith('{')) {
    return { tasks, store, error: `exit ${child.status}: ${child.stderr.trim().split('\n').slice(-5).join(' / ')}` };
  }
  return JSON.parse(line) as ScaleFigures;
}

function row(figures: ScaleFigures): string {
  const cells = [
    figures.tasks.toLocaleString('en-US'),
    figures.store,
    figures.status,
    figures.wallSeconds.toFixed(1),
    figures.overheadMsPerTask.toFixed(1),
    figures.trainingMsPerTask.toFixed(1),
    figures.planSeconds.toFixed(1),
    figures.aggregateSeconds.toFixed(1),
    figures.aggregateRssGrowthMiB.toFixed(0),
    figures.peakRssMiB.toFixed(0),
    figures.dynamodbRequestsPerTask?.toFixed(2) ?? '-',
    figures.s3RequestsPerTask?.toFixed(2) ?? '-',
  ];
  return `| ${cells.join(' | ')} |`;
}

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '1000,10000,100000' },
    stores: { type: 'string', default: 'local,aws' },
    workers: { type: 'string', default: '1' },
    one: { type: 'string' },
    'without-training': { type: 'boolean', default: false },
    /** CI's check that the benchmark runs: 100 tasks on each store. */
    smoke: { type: 'boolean', default: false },
    epochs: { type: 'string', default: '1' },
  },
});
if (values.smoke) values.sizes = '100';
const epochs = Number(values.epochs);
const workers = Number(values.workers);
const withoutTraining = values['without-training'];
if (values.one) {
  console.log(JSON.stringify(await measureOne(Number(values.one), values.stores as 'local' | 'aws', workers, withoutTraining, epochs)));
} else {
  console.log(
    `| tasks (${epochs} rows each) | store | status | wall (s) | overhead (ms/task) | training (ms/task) | Plan (s) | Aggregate (s) | Aggregate RSS growth (MiB) | peak RSS (MiB) | DynamoDB req/task | S3 req/task |`,
  );
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const tasks of values.sizes.split(',').map(Number)) {
    for (const store of values.stores.split(',')) {
      const figures = measureInChild(tasks, store, workers, withoutTraining, epochs);
      console.log('error' in figures ? `| ${tasks} | ${store} | failed: ${figures.error} |` : row(figures));
    }
  }
}
