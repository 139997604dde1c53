import { join, resolve } from 'node:path';
import { type Command, InvalidArgumentError } from 'commander';
import { DEFAULT_DEMO_DIR } from '../env.js';
import type { Stores } from '../store/open.js';
import type { LevelSummary, SweepSummary } from '../sweep/aggregate.js';
import {
  addBackendOption,
  addResourceOptions,
  backendRequest,
  parsePositiveInteger,
  parseSeeds,
  type ResourceFlags,
  resourceSettings,
} from './options.js';
import { runTarget, runWithProgress } from './run-progress.js';
import { checkOutputDir } from './stores.js';

/** The original demo's two settings (run_demo_synth.py), as sweep specs. */
const DEMO_SPECS = {
  sgd: new URL('../../examples/demo-sgd.json', import.meta.url).pathname,
  adam: new URL('../../examples/demo-adam.json', import.meta.url).pathname,
} as const;
type SettingName = keyof typeof DEMO_SPECS;

const QUICK_TEST_SIZE = 2000;

export function registerDemo(program: Command): void {
  const command = program
    .command('demo')
    .description("reproduce the paper's synthetic demo (a sweep: sinusoid2d, 10% label noise, four flood levels)")
    .option(
      '--setting <name>',
      'sgd (lr 0.01, momentum 0.9, levels 0, 0.26, 0.27, 0.28) or adam (lr 0.001, levels 0, 0.24, 0.25, 0.26)',
      parseSetting,
      'sgd',
    )
    .option('--seeds <list>', 'seeds, e.g. 0,1,2 or 0-4', parseSeeds, [0])
    .option('--quick', `a ${QUICK_TEST_SIZE}-sample test set instead of 20000, for a fast look`)
    .option('--epochs <n>', 'epochs (default 200)', parsePositiveInteger)
    .option(
      '--eval-every <n>',
      'evaluate every n epochs (default 5; 1 draws the curves at every epoch, like the original)',
      parsePositiveInteger,
    )
    .option('--out <dir>', 'where the plots and the sweep results go', DEFAULT_DEMO_DIR)
    .option('--json', 'print the sweep summary as JSON')
    .addHelpText('after', '\nExamples:\n  $ floodsweep demo --quick\n  $ floodsweep demo --setting adam --seeds 0-4');
  addResourceOptions(command);
  addBackendOption(command);
  command.action(async (options: DemoOptions) => runDemo(options));
}

interface DemoOptions extends ResourceFlags {
  setting: SettingName;
  seeds: number[];
  quick?: boolean;
  epochs?: number;
  evalEvery?: number;
  out: string;
  backend?: string;
  json?: boolean;
}

function parseSetting(value: string): SettingName {
  if (Object.hasOwn(DEMO_SPECS, value)) return value as SettingName;
  throw new InvalidArgumentError(`expected one of ${Object.keys(DEMO_SPECS).join(', ')}.`);
}

async function runDemo(options: DemoOptions): Promise<void> {
  const backend = backendRequest(options.backend);
  const { loadSpecFile } = await import('../input-files.js');
  const { validateSpec } = await import('../sweep/spec.js');
  const { runSweep } = await import('../run.js');
  const { openStores } = await import('../store/open.js');
  const { demoFigures, writeFigure } = await import('../report/plots.js');
  const demo = loadSpecFile(DEMO_SPECS[options.setting]);
  const spec = validateSpec({
    ...demo,
    seeds: options.seeds,
    dataset: { ...demo.dataset, ...(options.quick ? { nTest: QUICK_TEST_SIZE } : {}) },
    training: {
      ...demo.training,
      epochs: options.epochs ?? demo.training?.epochs,
      evalEvery: options.evalEvery ?? demo.training?.evalEvery,
    },
  });
  checkOutputDir('--out', options.out);
  const outDir = resolve(options.out);
  const results = join(outDir, 'results');
  const { summary, reportLocation } = await runWithProgress(
    { results },
    await runTarget({ results }),
    { backend, ...resourceSettings(options), epochsPerCall: spec.training?.epochs },
    (runOptions) => runSweep(spec, runOptions),
  );
  const group = summary.groups[0];
  const levelOf = (b: number) => group.levels.find((l) => l.floodLevel === b)!;
  const baseline = levelOf(0);
  const chosen = levelOf(group.chosenLevel ?? 0);

  const { metrics } = openStores({ kind: 'local', rootDir: results });
  const firstSeedRun = (level: LevelSummary) => level.runs.find((r) => r.seed === options.seeds[0]) ?? level.runs[0];
  const curves = async (level: LevelSummary) => metrics.getEpochs(summary.sweepId, firstSeedRun(level).taskId);
  // b = 0 against itself draws nothing useful: compare with the best flooded level instead.
  const compared = chosen.floodLevel === 0 ? levelOf(group.bestFloodedLevel!) : chosen;
  const figures = await demoFigures(await curves(baseline), await curves(compared), compared.floodLevel);
  await writeFigure(outDir, 'loss', figures.loss);
  await writeFigure(outDir, 'accuracy', figures.accuracy);

  if (options.json) {
    process.stdout.write(`${JSON.stringify(summary)}\n`);
    return;
  }
  const trainAcc = await trainAccuracies(summary, metrics);
  const seeds = options.seeds.length;
  const pm = (mean: number, sd: number) => (seeds > 1 ? `${mean.toFixed(3)} ± ${sd.toFixed(3)}` : mean.toFixed(3));
  const line = (level: LevelSummary, label: string) => {
    const train = trainAcc.get(level.floodLevel)!;
    return `Test Acc. ${pm(level.testCleanAcc!.mean, level.testCleanAcc!.sd)}, Train Acc. ${pm(train.mean, train.sd)}: ${label}`;
  };
  process.stdout.write(
    [
      line(baseline, 'without flooding'),
      line(chosen, `with flooding ${chosen.floodLevel}${chosen.floodLevel === 0 ? ' (no flood level beat b = 0 on validation)' : ''}`),
      `(test accuracy on clean labels, train accuracy on the noisy training labels; flood level chosen by ${summary.selection.metric}; backend ${summary.backends.join(', ')}${seeds > 1 ? `; mean ± sd over ${seeds} seeds` : ''})`,
      `plots: ${join(outDir, 'loss.png')}, ${join(outDir, 'accuracy.png')}`,
      `report: ${reportLocation}`,
      '',
    ].join('\n'),
  );
}

/** Mean ± sd over seeds of the final training accuracy (noisy labels), by flood level. */
async function trainAccuracies(summary: SweepSummary, metrics: Stores['metrics']) {
  const { estimate } = await import('../sweep/statistics.js');
  const byLevel = new Map<number, number[]>();
  for (const task of await metrics.listTasks(summary.sweepId)) {
    if (task.final) byLevel.set(task.config.floodLevel, [...(byLevel.get(task.config.floodLevel) ?? []), task.final.train.acc]);
  }
  return new Map([...byLevel].map(([level, values]) => [level, estimate(values)!]));
}
