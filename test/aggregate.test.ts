import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveTaskConfig, type TaskConfigInput } from '../src/flooding/config.js';
import type { EpochMetrics, SplitMetrics } from '../src/flooding/metrics.js';
import { type Selection, type SweepSummary, summarizeSweep } from '../src/sweep/aggregate.js';
import type { TaskRecord } from '../src/sweep/records.js';
import { taskRecord } from './store-contract.js';

const close = (actual: number, expected: number, tolerance = 1e-12, what = '') =>
  assert.ok(Math.abs(actual - expected) <= tolerance, `${what} ${actual} is not within ${tolerance} of ${expected}`);

const EPOCHS = [0, 5, 10, 15, 20];

/** Per flood level and seed (1, 2, 3): each metric at epochs 0, 5, 10, 15, 20. Without flooding the run overfits after epoch 10. */
const CURVES: Record<number, Array<{ valAcc: number[]; valLoss: number[]; testCleanAcc: number[]; testAcc: number[] }>> = {
  0: [
    {
      valAcc: [0.5, 0.8, 0.86, 0.83, 0.78],
      valLoss: [0.69, 0.45, 0.35, 0.48, 0.6],
      testCleanAcc: [0.5, 0.82, 0.87, 0.84, 0.8],
      testAcc: [0.5, 0.74, 0.78, 0.75, 0.73],
    },
    {
      valAcc: [0.5, 0.81, 0.85, 0.84, 0.8],
      valLoss: [0.69, 0.45, 0.36, 0.48, 0.62],
      testCleanAcc: [0.5, 0.83, 0.86, 0.85, 0.82],
      testAcc: [0.5, 0.75, 0.77, 0.76, 0.74],
    },
    {
      valAcc: [0.5, 0.79, 0.87, 0.82, 0.79],
      valLoss: [0.69, 0.45, 0.34, 0.48, 0.64],
      testCleanAcc: [0.5, 0.81, 0.88, 0.85, 0.84],
      testAcc: [0.5, 0.73, 0.79, 0.77, 0.76],
    },
  ],
  0.05: [
    {
      valAcc: [0.5, 0.76, 0.79, 0.81, 0.8],
      valLoss: [0.69, 0.5, 0.43, 0.41, 0.4],
      testCleanAcc: [0.5, 0.8, 0.82, 0.84, 0.83],
      testAcc: [0.5, 0.72, 0.74, 0.75, 0.75],
    },
    {
      valAcc: [0.5, 0.77, 0.8, 0.8, 0.81],
      valLoss: [0.69, 0.5, 0.44, 0.42, 0.42],
      testCleanAcc: [0.5, 0.8, 0.83, 0.85, 0.86],
      testAcc: [0.5, 0.72, 0.75, 0.76, 0.77],
    },
    {
      valAcc: [0.5, 0.75, 0.78, 0.79, 0.79],
      valLoss: [0.69, 0.5, 0.43, 0.41, 0.41],
      testCleanAcc: [0.5, 0.79, 0.82, 0.85, 0.86],
      testAcc: [0.5, 0.71, 0.74, 0.77, 0.78],
    },
  ],
  0.1: [
    {
      valAcc: [0.5, 0.74, 0.79, 0.81, 0.82],
      valLoss: [0.69, 0.52, 0.47, 0.44, 0.45],
      testCleanAcc: [0.5, 0.78, 0.8, 0.81, 0.81],
      testAcc: [0.5, 0.7, 0.72, 0.73, 0.73],
    },
    {
      valAcc: [0.5, 0.73, 0.78, 0.8, 0.81],
      valLoss: [0.69, 0.52, 0.47, 0.44, 0.44],
      testCleanAcc: [0.5, 0.79, 0.82, 0.84, 0.85],
      testAcc: [0.5, 0.71, 0.74, 0.76, 0.77],
    },
    {
      valAcc: [0.5, 0.75, 0.8, 0.82, 0.83],
      valLoss: [0.69, 0.52, 0.47, 0.44, 0.46],
      testCleanAcc: [0.5, 0.78, 0.81, 0.82, 0.83],
      testAcc: [0.5, 0.7, 0.73, 0.74, 0.75],
    },
  ],
};
/** Final val.cleanLoss: lowest at b = 0.1, unlike val.loss (lowest at b = 0.05). */
const FINAL_CLEAN_LOSS: Record<number, number> = { 0: 0.5, 0.05: 0.31, 0.1: 0.3 };

const split = (acc: number, loss: number, cleanAcc = acc + 0.08, cleanLoss = loss - 0.1): SplitMetrics => ({
  acc,
  loss,
  cleanAcc,
  cleanLoss,
});

function rowsOf(level: number, seed: number): EpochMetrics[] {
  const curve = CURVES[level][seed - 1];
  return EPOCHS.map((epoch, i) => {
    const last = i === EPOCHS.length - 1;
    return {
      epoch,
      train: split(0.5 + 0.02 * i, 0.69 - 0.1 * i),
      val: split(curve.valAcc[i], curve.valLoss[i], curve.valAcc[i] + 0.08, last ? FINAL_CLEAN_LOSS[level] : curve.valLoss[i] - 0.1),
      test: split(curve.testAcc[i], 0.5, curve.testCleanAcc[i], 0.4),
      floodedFraction: level > 0 && epoch > 10 ? 0.4 : 0,
      objective: 0.69 - 0.1 * i,
      lr: 0.01,
      seconds: 0.5,
    };
  });
}

interface TaskSpec {
  level: number;
  seed: number;
  dataset?: TaskConfigInput['dataset'];
  status?: TaskRecord['status'];
  error?: string;
}

function task({ level, seed, dataset = { name: 'sinusoid2d' }, status = 'SUCCEEDED', error }: TaskSpec): TaskRecord {
  const config = resolveTaskConfig({ dataset, training: { epochs: 20, evalEvery: 5 }, floodLevel: level, seed });
  const done = status === 'SUCCEEDED';
  const rows = CURVES[level] ? rowsOf(level, seed) : [];
  return taskRecord('sweep-1', `${dataset.name}-b${level}-s${seed}`, {
    status,
    config,
    group: `g-${dataset.name}`,
    epochsDone: done ? 20 : 5,
    epochsTotal: 20,
    backend: 'wasm',
    attempts: 1,
    ...(done ? { final: rows[rows.length - 1] } : {}),
    ...(error ? { error } : {}),
  });
}

const fullGrid = (extra: Partial<TaskSpec> = {}) =>
  [0, 0.05, 0.1].flatMap((level) => [1, 2, 3].map((seed) => task({ level, seed, ...extra })));

/** Epoch rows by task id, as the metrics store returns them; counts the reads. */
function epochSource() {
  const reads: string[] = [];
  return {
    reads,
    epochsOf: async (taskId: string) => {
      reads.push(taskId);
      const [, level, seed] = /-b([\d.]+)-s(\d+)$/.exec(taskId)!;
      return rowsOf(Number(level), Number(seed));
    },
  };
}

async function summarize(tasks: TaskRecord[], selection: Selection): Promise<SweepSummary> {
  return summarizeSweep({ sweepId: 'sweep-1', name: 'unit', tasks, epochsOf: epochSource().epochsOf, selection });
}

const levelOf = (summary: SweepSummary, b: number, group = 0) => summary.groups[group].levels.find((l) => l.floodLevel === b)!;

describe('summarizeSweep: choosing the flood level', () => {
  it("'last': the highest mean final val.acc, from the task records alone", async () => {
    const source = epochSource();
    const summary = await summarizeSweep({
      sweepId: 'sweep-1',
      name: 'unit',
      tasks: fullGrid(),
      epochsOf: source.epochsOf,
      selection: { metric: 'val.acc', epoch: 'last' },
    });
    assert.equal(summary.groups.length, 1);
    assert.equal(summary.groups[0].chosenLevel, 0.1);
    assert.equal(summary.groups[0].bestFloodedLevel, 0.1);
    close(levelOf(summary, 0.1).selectionValue!.mean, 0.82, 1e-12);
    assert.deepEqual(source.reads, [], "'last' reads the final metrics off the task records");
    assert.deepEqual(
      levelOf(summary, 0).runs.map((r) => r.epoch),
      [20, 20, 20],
    );
  });

  it("'best': each run at its best epoch (early stopping), which favours b = 0 here", async () => {
    const summary = await summarize(fullGrid(), { metric: 'val.acc', epoch: 'best' });
    assert.equal(summary.groups[0].chosenLevel, 0);
    assert.equal(summary.groups[0].bestFloodedLevel, 0.1);
    const baseline = levelOf(summary, 0);
    assert.deepEqual(
      baseline.runs.map((r) => r.epoch),
      [10, 10, 10],
    );
    close(baseline.selectionValue!.mean, 0.86, 1e-12);
    close(baseline.testCleanAcc!.mean, 0.87, 1e-12, 'test accuracy at the best epoch, not the last');
    // Seed 2 reaches 0.80 at epochs 10 and 15, then 0.81; seed 3 ties 0.79 at 15 and 20: the earlier epoch wins a tie.
    assert.deepEqual(
      levelOf(summary, 0.05).runs.map((r) => r.epoch),
      [15, 20, 15],
    );
  });

  it('minimises losses: val.loss and val.cleanLoss', async () => {
    assert.equal((await summarize(fullGrid(), { metric: 'val.loss', epoch: 'last' })).groups[0].chosenLevel, 0.05);
    assert.equal((await summarize(fullGrid(), { metric: 'val.cleanLoss', epoch: 'last' })).groups[0].chosenLevel, 0.1);
    const best = await summarize(fullGrid(), { metric: 'val.loss', epoch: 'best' });
    assert.equal(best.groups[0].chosenLevel, 0);
    close(levelOf(best, 0).selectionValue!.mean, 0.35, 1e-12);
    assert.equal((await summarize(fullGrid(), { metric: 'val.cleanAcc', epoch: 'last' })).groups[0].chosenLevel, 0.1);
  });

  it('breaks ties towards the smaller flood level', async () => {
    // b = 0.2 is a copy of b = 0.05: equal means. Listed first, it must still lose the tie.
    const tasks = fullGrid().filter((t) => t.config.floodLevel === 0.05);
    const copy = tasks.map((t) => ({ ...t, taskId: `${t.taskId}-copy`, config: { ...t.config, floodLevel: 0.2 } }));
    const summary = await summarize([...copy, ...tasks], { metric: 'val.acc', epoch: 'last' });
    assert.deepEqual(
      summary.groups[0].levels.map((l) => l.floodLevel),
      [0.05, 0.2],
    );
    assert.equal(summary.groups[0].chosenLevel, 0.05);
  });

  it('a diverged run (NaN) never wins and never blocks the others', async () => {
    const tasks = fullGrid().map((t) =>
      t.config.floodLevel === 0 && t.config.seed === 1 ? { ...t, final: { ...t.final!, val: { ...t.final!.val, acc: NaN } } } : t,
    );
    const summary = await summarize(tasks, { metric: 'val.acc', epoch: 'last' });
    assert.ok(Number.isNaN(levelOf(summary, 0).selectionValue!.mean));
    assert.equal(summary.groups[0].chosenLevel, 0.1);
  });
});

describe('summarizeSweep: statistics per level', () => {
  it('mean ± sd over seeds and the paired difference to b = 0', async () => {
    const summary = await summarize(fullGrid(), { metric: 'val.acc', epoch: 'last' });
    const flooded = levelOf(summary, 0.05);
    assert.deepEqual(flooded.seeds, [1, 2, 3]);
    assert.equal(flooded.tasks, 3);
    close(flooded.testCleanAcc!.mean, 0.85, 1e-12);
    close(flooded.testCleanAcc!.sd, Math.sqrt(0.0003), 1e-12);
    close(flooded.testAcc!.mean, (0.75 + 0.77 + 0.78) / 3, 1e-12);
    const { testCleanAcc, testAcc, seeds } = flooded.diffToBaseline!;
    assert.deepEqual(seeds, [1, 2, 3]);
    close(testCleanAcc.mean, 0.03, 1e-12);
    close(testCleanAcc.ci95![0], 0.0051586, 1e-7);
    close(testCleanAcc.ci95![1], 0.0548414, 1e-7);
    // Noisy: 0.02, 0.03, 0.02.
    close(testAcc.mean, 0.07 / 3, 1e-12);
    close(testAcc.sd, Math.sqrt(1 / 3) * 0.01, 1e-12);
    assert.equal(levelOf(summary, 0).diffToBaseline, null, 'b = 0 is the baseline itself');
  });

  it('pairs only the seeds both levels finished; one pair: sd 0 and no interval, said so', async () => {
    const tasks = fullGrid().filter(
      (t) => !(t.config.floodLevel === 0 && t.config.seed !== 2) && !(t.config.floodLevel === 0.1 && t.config.seed === 3),
    );
    const summary = await summarize(tasks, { metric: 'val.acc', epoch: 'last' });
    assert.deepEqual(levelOf(summary, 0).seeds, [2]);
    assert.equal(levelOf(summary, 0).testCleanAcc!.sd, 0);
    const difference = levelOf(summary, 0.1).diffToBaseline!;
    assert.deepEqual(difference.seeds, [2]);
    close(difference.testCleanAcc.mean, 0.85 - 0.82, 1e-12);
    assert.equal(difference.testCleanAcc.ci95, null);
    assert.match(difference.testCleanAcc.note!, /n = 1/);
    assert.doesNotThrow(() => JSON.parse(JSON.stringify(summary)));
  });

  it('groups without b = 0 have no differences', async () => {
    const summary = await summarize(
      fullGrid().filter((t) => t.config.floodLevel !== 0),
      { metric: 'val.acc', epoch: 'last' },
    );
    assert.equal(summary.groups[0].hasBaseline, false);
    for (const level of summary.groups[0].levels) assert.equal(level.diffToBaseline, null);
    assert.equal(summary.groups[0].chosenLevel, 0.1);
  });
});

describe('summarizeSweep: groups, failures and status', () => {
  it('labels groups by the config fields that differ between them, and orders them', async () => {
    const tasks = [...fullGrid({ dataset: { name: 'spiral', inputNoise: 1 } }), ...fullGrid()];
    const summary = await summarize(tasks, { metric: 'val.acc', epoch: 'last' });
    assert.deepEqual(
      summary.groups.map((g) => g.label),
      [{ 'dataset.name': 'sinusoid2d' }, { 'dataset.name': 'spiral' }],
    );
    assert.deepEqual(
      summary.groups.map((g) => g.group),
      ['g-sinusoid2d', 'g-spiral'],
    );
    assert.equal(summary.sharedSettings['optimizer.lr'], 0.01);
    assert.equal(summary.sharedSettings['dataset.labelNoise'], 0.1);
    assert.ok(!('floodLevel' in summary.sharedSettings) && !('seed' in summary.sharedSettings));
    assert.ok(!('dataset.inputNoise' in summary.sharedSettings), 'a field only spiral has is not shared');

    const single = await summarize(fullGrid(), { metric: 'val.acc', epoch: 'last' });
    assert.deepEqual(single.groups[0].label, {});
  });

  it('SUCCEEDED when every task finished', async () => {
    const summary = await summarize(fullGrid(), { metric: 'val.acc', epoch: 'last' });
    assert.equal(summary.status, 'SUCCEEDED');
    assert.deepEqual([summary.taskCount, summary.succeededTasks, summary.failedTasks.length], [9, 9, 0]);
    assert.deepEqual(summary.backends, ['wasm']);
  });

  it('PARTIAL when some failed or did not finish, listing them with their messages', async () => {
    const tasks = fullGrid().map((t) =>
      t.config.floodLevel === 0.1 && t.config.seed === 2
        ? task({ level: 0.1, seed: 2, status: 'FAILED', error: 'RangeError: Invalid array length' })
        : t.config.floodLevel === 0 && t.config.seed === 3
          ? task({ level: 0, seed: 3, status: 'RUNNING' })
          : t,
    );
    const summary = await summarize(tasks, { metric: 'val.acc', epoch: 'last' });
    assert.equal(summary.status, 'PARTIAL');
    assert.equal(summary.succeededTasks, 7);
    assert.deepEqual(
      summary.failedTasks.map(({ floodLevel, seed, status, error }) => ({ floodLevel, seed, status, error })),
      [
        { floodLevel: 0, seed: 3, status: 'RUNNING', error: 'did not finish: RUNNING at epoch 5 of 20' },
        { floodLevel: 0.1, seed: 2, status: 'FAILED', error: 'RangeError: Invalid array length' },
      ],
    );
    assert.deepEqual(
      summary.failedTasks.map((t) => t.taskId),
      ['sinusoid2d-b0-s3', 'sinusoid2d-b0.1-s2'],
    );
    const failedLevel = levelOf(summary, 0.1);
    assert.deepEqual([failedLevel.tasks, failedLevel.seeds], [3, [1, 3]]);
    assert.deepEqual(failedLevel.diffToBaseline!.seeds, [1]);
  });

  it('FAILED when no task finished; a succeeded task without metrics counts as failed', async () => {
    const failing = fullGrid().map((t) => task({ level: t.config.floodLevel, seed: t.config.seed, status: 'FAILED' }));
    const summary = await summarize(failing, { metric: 'val.acc', epoch: 'last' });
    assert.equal(summary.status, 'FAILED');
    assert.equal(summary.groups[0].chosenLevel, null);
    assert.equal(summary.failedTasks[0].error, 'failed without an error message');
    for (const level of summary.groups[0].levels) assert.equal(level.testCleanAcc, null);

    const { final: _final, ...withoutFinal } = task({ level: 0, seed: 1 });
    const empty = await summarizeSweep({
      sweepId: 's',
      name: 'n',
      tasks: [withoutFinal],
      epochsOf: async () => [],
      selection: { metric: 'val.acc', epoch: 'last' },
    });
    assert.equal(empty.status, 'FAILED');
    assert.equal(empty.failedTasks[0].error, 'succeeded, but no epoch metrics were recorded');
  });
});
