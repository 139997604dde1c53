import { mkdir, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { type Command, InvalidArgumentError } from 'commander';
import { resolveTaskConfig, type TaskConfig } from '../flooding/config.js';
import type { TaskResult } from '../flooding/metrics.js';
import { WorkerPool } from '../local/pool.js';
import { demoFigures, writeFigure } from '../report/plots.js';
import { addBackendOption, backendRequest, parseInteger, parseSeeds } from './options.js';
import { Eta, formatDuration, ProgressLine } from './progress.js';

/** The original demo's two settings (run_demo_synth.py): optimizer and the flood levels it tries. */
export const DEMO_SETTINGS = {
  sgd: { optimizer: { name: 'sgd', lr: 0.01, momentum: 0.9 }, floodLevels: [0, 0.26, 0.27, 0.28] },
  adam: { optimizer: { name: 'adam', lr: 0.001 }, floodLevels: [0, 0.24, 0.25, 0.26] },
} as const;
type SettingName = keyof typeof DEMO_SETTINGS;

const QUICK_TEST_SIZE = 2000;

export function registerDemo(program: Command): void {
  const command = program
    .command('demo')
    .description("reproduce the paper's synthetic demo: sinusoid2d, 10% label noise, four flood levels")
    .option('--setting <name>', 'sgd (lr 0.01, momentum 0.9, levels 0, 0.26, 0.27, 0.28) or adam (lr 0.001, levels 0, 0.24, 0.25, 0.26)', parseSetting, 'sgd')
    .option('--seeds <list>', 'seeds, e.g. 0,1,2 or 0-4', parseSeeds, [0])
    .option('--quick', `a ${QUICK_TEST_SIZE}-sample test set instead of 20000, for a fast look`)
    .option('--epochs <n>', 'epochs (default 200)', parseInteger)
    .option('--eval-every <n>', 'evaluate every n epochs (default 5; 1 draws the curves at every epoch, like the original)', parseInteger)
    .option('--out <dir>', 'where the plots and results go', './floodsweep-demo')
    .option('--workers <n>', 'worker threads (default: number of cores)', parseInteger)
    .option('--json', 'print the summary as JSON');
  addBackendOption(command);
  command.action(async (options: DemoOptions) => runDemo(options));
}

interface DemoOptions {
  setting: SettingName;
  seeds: number[];
  quick?: boolean;
  epochs?: number;
  evalEvery?: number;
  out: string;
  workers?: number;
  backend?: string;
  json?: boolean;
}

function parseSetting(value: string): SettingName {
  if (value in DEMO_SETTINGS) return value as SettingName;
  throw new InvalidArgumentError(`expected one of ${Object.keys(DEMO_SETTINGS).join(', ')}.`);
}

export interface LevelSummary {
  floodLevel: number;
  seeds: number;
  testCleanAcc: { mean: number; sd: number };
  trainAcc: { mean: number; sd: number };
  valCleanAcc: { mean: number; sd: number };
}

async function runDemo(options: DemoOptions): Promise<void> {
  const setting = DEMO_SETTINGS[options.setting];
  const configs: TaskConfig[] = setting.floodLevels.flatMap((floodLevel) =>
    options.seeds.map((seed) =>
      resolveTaskConfig({
        dataset: { name: 'sinusoid2d', labelNoise: 0.1, ...(options.quick ? { nTest: QUICK_TEST_SIZE } : {}) },
        optimizer: setting.optimizer,
        training: { epochs: options.epochs ?? 200, batchSize: 200, evalEvery: options.evalEvery ?? 5 },
        floodLevel,
        seed,
      }),
    ),
  );
  const backend = backendRequest(options.backend);
  const outDir = resolve(options.out);
  const totalEpochs = configs.reduce((n, c) => n + c.training.epochs, 0);
  const epochsOf = new Map<number, number>();
  const progress = new ProgressLine();
  const eta = new Eta();
  const started = Date.now();
  const pool = new WorkerPool({
    backend,
    backendOptions: {},
    size: options.workers,
    onEpoch: (jobId, epoch) => {
      epochsOf.set(jobId, epoch);
      const done = [...epochsOf.values()].reduce((a, b) => a + b, 0);
      const finished = [...epochsOf.entries()].filter(([id, e]) => e >= configs[id].training.epochs).length;
      const running = [...epochsOf.entries()]
        .filter(([id, e]) => e < configs[id].training.epochs)
        .map(([id, e]) => `b=${configs[id].floodLevel} seed ${configs[id].seed} epoch ${e}`);
      progress.update(`tasks ${finished}/${configs.length} done · ${running.join(', ')} · ${eta.estimate(done, totalEpochs)}`);
    },
  });
  let results: TaskResult[];
  try {
    const backendName = await pool.backend();
    process.stderr.write(`demo: ${configs.length} tasks (${setting.floodLevels.length} flood levels x ${options.seeds.length} seeds) on ${pool.size} ${backendName} workers\n`);
    results = await Promise.all(configs.map((config) => pool.run(config).result));
  } finally {
    await pool.close();
  }
  progress.finish(`trained ${configs.length} tasks in ${formatDuration(Date.now() - started)}`);

  const summaries = setting.floodLevels.map((level) => summarise(level, results.filter((r) => r.config.floodLevel === level)));
  // The original picks the level with the best validation accuracy at the last epoch.
  const chosen = summaries.reduce((best, s) => (s.valCleanAcc.mean > best.valCleanAcc.mean ? s : best));
  const baseline = summaries[0];

  const firstSeed = options.seeds[0];
  const curvesOf = (level: number) => results.find((r) => r.config.floodLevel === level && r.config.seed === firstSeed)!.epochs;
  const figures = await demoFigures(curvesOf(0), curvesOf(chosen.floodLevel), chosen.floodLevel);
  await mkdir(outDir, { recursive: true });
  await writeFigure(outDir, 'loss', figures.loss);
  await writeFigure(outDir, 'accuracy', figures.accuracy);
  const summary = { backend: results[0].backend, setting: options.setting, seeds: options.seeds, chosenFloodLevel: chosen.floodLevel, levels: summaries, outDir };
  await writeFile(resolve(outDir, 'results.json'), `${JSON.stringify({ ...summary, tasks: results }, null, 1)}\n`);

  if (options.json) {
    process.stdout.write(`${JSON.stringify(summary)}\n`);
    return;
  }
  const pm = (s: { mean: number; sd: number }) => (options.seeds.length > 1 ? `${s.mean.toFixed(3)} ± ${s.sd.toFixed(3)}` : s.mean.toFixed(3));
  const line = (s: LevelSummary, label: string) => `Test Acc. ${pm(s.testCleanAcc)}, Train Acc. ${pm(s.trainAcc)}: ${label}`;
  process.stdout.write(
    [
      line(baseline, 'without flooding'),
      line(chosen, `with flooding ${chosen.floodLevel}`),
      `(test accuracy on clean labels, train accuracy on the noisy training labels; flood level chosen by clean validation accuracy; backend ${summary.backend}${options.seeds.length > 1 ? `; mean ± sd over ${options.seeds.length} seeds` : ''})`,
      `plots: ${resolve(outDir, 'loss.png')}, ${resolve(outDir, 'accuracy.png')}`,
      '',
    ].join('\n'),
  );
}

function summarise(floodLevel: number, results: TaskResult[]): LevelSummary {
  const stats = (values: number[]) => {
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    const sd = values.length > 1 ? Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (values.length - 1)) : 0;
    return { mean, sd };
  };
  return {
    floodLevel,
    seeds: results.length,
    testCleanAcc: stats(results.map((r) => r.final.test.cleanAcc)),
    trainAcc: stats(results.map((r) => r.final.train.acc)),
    valCleanAcc: stats(results.map((r) => r.final.val.cleanAcc)),
  };
}
