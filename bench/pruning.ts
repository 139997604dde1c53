/**
 * `npm run bench:pruning`: what each pruning rule saves against the full grid, and whether the
 * chosen flood level and its clean test accuracy stay within one sd of the full grid's.
 *
 *   node --import tsx bench/pruning.ts [--results dir] [--sweep <id> ...] [--smoke]
 *
 * Runs the full grid of each setting (workers 1; or reads the given, already run sweeps), then
 * replays each rule on the stored epoch rows with the functions Train uses (rungEpochs,
 * pruningThreshold, rejects). That replay is exact, not a model: a pruned task's rows up to its
 * rung are the full run's rows (same config, same backend, bit-exact resume), and references are
 * never pruned. It gives the saving of a run whose references reach each rung first (Plan puts
 * them first in the manifest; with workers = 1 that is always so): with more workers a task may
 * train past its rung while its references catch up, so the saving is an upper bound there.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { EpochMetrics } from '../src/flooding/metrics.js';
import { runSweep } from '../src/run.js';
import { openStores, type Stores } from '../src/store/open.js';
import { formatLevel, type GroupSummary, summarizeSweep } from '../src/sweep/aggregate.js';
import { metricAt, type PruningRule, pruningThreshold, referencesOf, rejects, rungEpochs } from '../src/sweep/pruning.js';
import type { TaskRecord } from '../src/sweep/records.js';
import { type SweepSpec, validateSpec } from '../src/sweep/spec.js';

/** The demo setting (examples/demo-sgd.json) over 8 levels x 5 seeds, with the --quick test set. */
const DEMO = {
  name: 'bench-pruning-demo',
  dataset: { name: 'sinusoid2d', labelNoise: 0.1, nTrain: 100, nVal: 100, nTest: 2000 },
  model: { kind: 'mlp' },
  optimizer: { name: 'sgd', lr: 0.01, momentum: 0.9 },
  training: { epochs: 200, batchSize: 200, evalEvery: 5 },
  floodLevels: { from: 0, to: 0.35, step: 0.05 },
  seeds: [0, 1, 2, 3, 4],
  selection: { metric: 'val.cleanAcc', epoch: 'last' },
};
/** examples/paper-synthetic.json's spiral group (its sinusoid2d group is the demo's dataset), 3 seeds, the --quick test set. */
const PAPER = {
  name: 'bench-pruning-paper',
  model: { kind: 'mlp' },
  optimizer: { name: 'sgd', lr: 0.01, momentum: 0.9 },
  training: { epochs: 200, batchSize: 200, evalEvery: 5 },
  grid: {
    dataset: [{ name: 'spiral', labelNoise: 0.1, nTest: 2000 }],
  },
  floodLevels: { from: 0, to: 0.35, step: 0.05 },
  seeds: [0, 1, 2],
  selection: { metric: 'val.cleanAcc', epoch: 'last' },
};

const RULES: Array<Record<string, unknown>> = [25, 50, 100, 150].flatMap((warmupEpochs) => [
  { rule: 'median', warmupEpochs, margin: 0 },
  { rule: 'median', warmupEpochs, margin: 0.02 },
  { rule: 'asha', warmupEpochs, margin: 0, reductionFactor: 3, minEpochs: 5 },
]);

interface Replayed {
  tasks: TaskRecord[];
  rows: Map<string, EpochMetrics[]>;
  epochs: number;
}

/** The sweep as the rule would have left it: each rejected task PRUNED at its first rejecting rung, its rows cut there. */
function replay(tasks: TaskRecord[], rows: Map<string, EpochMetrics[]>, rule: PruningRule): Replayed {
  const references = referencesOf(tasks);
  const valueAt = (taskId: string, epoch: number) => rows.get(taskId)!.find((row) => row.epoch === epoch);
  const out: Replayed = { tasks: [], rows: new Map(), epochs: 0 };
  for (const task of tasks) {
    const cohort = references.get(task.taskId)!;
    const rung =
      cohort.length === 0
        ? undefined
        : rungEpochs(rule, task.config.training).find((epoch) => {
            const own = valueAt(task.taskId, epoch)!;
            const values = cohort.flatMap((id) => {
              const row = valueAt(id, epoch);
              return row ? [metricAt(rule, row)] : [];
            });
            return rejects(rule, metricAt(rule, own), pruningThreshold(rule, values));
          });
    const kept = rows.get(task.taskId)!.filter((row) => rung === undefined || row.epoch <= rung);
    const last = kept[kept.length - 1];
    out.rows.set(task.taskId, kept);
    out.epochs += rung ?? task.epochsDone;
    out.tasks.push(
      rung === undefined
        ? task
        : { ...task, status: 'PRUNED', epochsDone: rung, final: { train: last.train, val: last.val, test: last.test } },
    );
  }
  return out;
}

async function groupsOf(spec: SweepSpec, tasks: TaskRecord[], rows: Map<string, EpochMetrics[]>): Promise<GroupSummary[]> {
  const summary = await summarizeSweep({
    sweepId: 'bench',
    name: spec.name,
    tasks,
    epochsOf: async (taskId) => rows.get(taskId)!,
    selection: spec.selection,
  });
  return summary.groups;
}

const pct = (x: number) => (100 * x).toFixed(1);

function chosen(group: GroupSummary) {
  const level = group.levels.find((l) => l.floodLevel === group.chosenLevel);
  return { level: group.chosenLevel, acc: level?.testCleanAcc ?? null };
}

async function benchSweep(stores: Stores, sweepId: string): Promise<string[]> {
  const sweep = (await stores.metrics.getSweep(sweepId))!;
  const spec = validateSpec(JSON.parse((await stores.artifacts.get(sweep.specKey))!.toString('utf8')));
  const tasks = (await stores.metrics.listTasks(sweepId)).filter((task) => task.status === 'SUCCEEDED');
  const rows = new Map(
    await Promise.all(tasks.map(async (task) => [task.taskId, await stores.metrics.getEpochs(sweepId, task.taskId)] as const)),
  );
  const fullEpochs = tasks.reduce((sum, task) => sum + task.epochsDone, 0);
  const full = await groupsOf(spec, tasks, rows);
  const lines = [
    `### ${spec.name} (sweep ${sweepId}: ${tasks.length} tasks, ${fullEpochs} epochs)`,
    '',
    '| rule | epochs trained | saved | pruned tasks | ' +
      full
        .map((g) => `chosen b, clean test acc % (full grid: b = ${g.chosenLevel}, ${pct(chosen(g).acc!.mean)} ± ${pct(chosen(g).acc!.sd)})`)
        .join(' | ') +
      ' |',
    `|---|---|---|---|${full.map(() => '---|').join('')}`,
  ];
  for (const input of RULES) {
    const rule = validateSpec({ ...spec, pruning: input }).pruning!;
    const result = replay(tasks, rows, rule);
    const groups = await groupsOf(spec, result.tasks, result.rows);
    const cells = groups.map((group) => {
      const reference = chosen(full.find((g) => g.group === group.group)!);
      const mine = chosen(group);
      if (mine.level === null || !mine.acc || !reference.acc) return 'none';
      const within = Math.abs(mine.acc.mean - reference.acc.mean) <= reference.acc.sd;
      const same = mine.level === reference.level ? 'same b' : `b = ${formatLevel(mine.level)}`;
      return `${same}, ${pct(mine.acc.mean)} ± ${pct(mine.acc.sd)} (${mine.acc.n} seeds) ${within ? '(within 1 sd)' : '(**outside 1 sd**)'}`;
    });
    const describe = Object.entries(input)
      .filter(([key]) => key !== 'rule')
      .map(([key, value]) => `${key} ${value}`)
      .join(', ');
    const pruned = result.tasks.filter((task) => task.status === 'PRUNED').length;
    lines.push(
      `| ${input.rule} (${describe}) | ${result.epochs} | ${pct(1 - result.epochs / fullEpochs)}% | ${pruned} / ${tasks.length} | ${cells.join(' | ')} |`,
    );
  }
  return lines;
}

const { values } = parseArgs({
  options: { results: { type: 'string' }, sweep: { type: 'string', multiple: true }, smoke: { type: 'boolean', default: false } },
});
/** --smoke: CI's check that the benchmark runs: both settings on a small model, 2 levels x 2 seeds, 60 epochs. */
const smokeVersion = (setting: typeof DEMO | typeof PAPER) => ({
  ...setting,
  model: { kind: 'mlp', depth: 1, width: 16 },
  training: { ...setting.training, epochs: 60 },
  floodLevels: [0, 0.1],
  seeds: [0, 1],
});
const rootDir = values.results ?? mkdtempSync(join(tmpdir(), 'floodsweep-bench-pruning-'));
const stores = openStores({ kind: 'local', rootDir });
const sweepIds =
  values.sweep ??
  (await (async () => {
    const ids: string[] = [];
    for (const setting of values.smoke ? [DEMO, PAPER].map(smokeVersion) : [DEMO, PAPER]) {
      const { sweepId } = await runSweep(validateSpec(setting), { stores: { kind: 'local', rootDir }, workers: 1, epochsPerCall: 200 });
      ids.push(sweepId);
    }
    return ids;
  })());
for (const sweepId of sweepIds) console.log(`${(await benchSweep(stores, sweepId)).join('\n')}\n`);
