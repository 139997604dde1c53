/**
 * Pruning (spec.pruning): the rules, their bad input, and what a user relies on in a real sweep
 * through the workflow: the verdict of every task is the same on replay and in any task order
 * (workers = 1, workers = 2, tasks trained in a permuted or interleaved order), b = 0 is never
 * pruned, a pruned task keeps its rows and is never chosen over a finished one.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { initBackend } from '../src/flooding/backend.js';
import { runSweep } from '../src/run.js';
import { openStores, type StoreConfig, type Stores } from '../src/store/open.js';
import { sweepKeys } from '../src/store/ports.js';
import { summarizeSweep } from '../src/sweep/aggregate.js';
import { expandSpec } from '../src/sweep/expansion.js';
import { type PruningRule, pruningThreshold, referencesOf, rejects, rungEpochs } from '../src/sweep/pruning.js';
import type { TaskRecord } from '../src/sweep/records.js';
import { SpecError, type SweepSpec, validateSpec } from '../src/sweep/spec.js';
import { taskTable } from '../src/sweep/tables.js';
import { aggregate } from '../src/workflow/aggregate.js';
import { plan } from '../src/workflow/plan.js';
import { trainStep } from '../src/workflow/train.js';
import { floodsweep } from './cli-helpers.js';
import { epochRow, taskRecord } from './store-contract.js';

/** b = 1.5 keeps the loss above the untrained model's: gradient ascent, rejected at the first rung. */
const SPEC_INPUT = {
  name: 'pruning-test',
  dataset: { name: 'sinusoid2d', nTrain: 64, nVal: 64, nTest: 128 },
  model: { kind: 'mlp', depth: 2, width: 16 },
  training: { epochs: 12, batchSize: 32, evalEvery: 2 },
  floodLevels: [0, 0.3, 1.5],
  seeds: [0, 1, 2],
  pruning: { rule: 'median', warmupEpochs: 2, margin: 0 },
};
const SPEC = validateSpec(SPEC_INPUT);

function newStores(): Stores & { config: StoreConfig } {
  const config: StoreConfig = { kind: 'local', rootDir: mkdtempSync(join(tmpdir(), 'floodsweep-pruning-')) };
  return { ...openStores(config), config };
}

/** What each task's verdict is, by task id: the status and the stored decision (rung, values). */
function verdicts(tasks: TaskRecord[]) {
  return Object.fromEntries(
    tasks.map((task) => [
      task.taskId,
      { status: task.status, decision: task.pruning?.decision && { ...task.pruning.decision, stoppedAt: undefined } },
    ]),
  );
}

const ruleOf = (spec: SweepSpec) => spec.pruning!;

describe('pruning rules (pure)', () => {
  const median = ruleOf(validateSpec({ ...SPEC_INPUT, pruning: { rule: 'median', warmupEpochs: 2, margin: 0.05 } }));
  const asha = ruleOf(
    validateSpec({ ...SPEC_INPUT, pruning: { rule: 'asha', warmupEpochs: 2, reductionFactor: 3, margin: 0 } }),
  ) as Extract<PruningRule, { rule: 'asha' }>;

  test('median: the references median less the margin; a diverged value is always rejected', () => {
    assert.equal(pruningThreshold(median, [0.5, 0.9, 0.7]), 0.7 - 0.05);
    assert.equal(pruningThreshold(median, [0.9, 0.5, Number.NaN, 0.7, 0.8]), 0.75 - 0.05);
    assert.equal(rejects(median, 0.66, pruningThreshold(median, [0.5, 0.9, 0.7])), false);
    assert.equal(rejects(median, 0.64, pruningThreshold(median, [0.5, 0.9, 0.7])), true);
    assert.equal(rejects(median, Number.NaN, 0.1), true);
    // No reference value to compare with: the task goes on.
    assert.equal(rejects(median, 0.1, pruningThreshold(median, [])), false);
    const loss = { ...median, metric: 'val.loss' as const };
    assert.equal(pruningThreshold(loss, [0.5, 0.9, 0.7]), 0.7 + 0.05);
  });

  test('asha: a task must be in the top 1/reductionFactor of itself and its references', () => {
    // 5 references + the task: the top 2 of 6 stay, i.e. at least as good as the 2nd best reference.
    assert.equal(pruningThreshold(asha, [0.1, 0.5, 0.9, 0.7, 0.3]), 0.7);
    assert.equal(rejects(asha, 0.7, 0.7), false);
    assert.equal(rejects(asha, 0.69, 0.7), true);
    // One reference: the top ceil(2/3) = 1 of 2 stays.
    assert.equal(pruningThreshold(asha, [0.4]), 0.4);
  });

  test('rungs: evaluated epochs after the warm-up and before the last; asha geometric', () => {
    assert.deepEqual(rungEpochs(median, { epochs: 12, evalEvery: 2 }), [4, 6, 8, 10]);
    assert.deepEqual(rungEpochs(asha, { epochs: 12, evalEvery: 2 }), [4, 10]);
    assert.deepEqual(rungEpochs({ ...asha, minEpochs: 5, warmupEpochs: 0 }, { epochs: 200, evalEvery: 5 }), [5, 15, 45, 135]);
  });

  test('the references of a task are its group at the lowest flood level, which has none itself', () => {
    const tasks = expandSpec(SPEC);
    const references = referencesOf(tasks);
    const baseline = tasks.filter((task) => task.config.floodLevel === 0).map((task) => task.taskId);
    for (const task of tasks) assert.deepEqual(references.get(task.taskId), task.config.floodLevel === 0 ? [] : baseline);
  });
});

describe('pruning: bad input is one line naming the field, exit 2, nothing written', () => {
  const cases: Array<[string, unknown, RegExp]> = [
    ['unknown rule', { rule: 'hyperband' }, /^pruning\.rule: must be one of median, asha$/],
    ['unknown metric', { rule: 'median', metric: 'test.acc' }, /^pruning\.metric: must be one of val\.acc, /],
    ['negative warm-up', { rule: 'median', warmupEpochs: -1 }, /^pruning\.warmupEpochs: must be >= 0$/],
    ['warm-up beyond the epochs', { rule: 'median', warmupEpochs: 12 }, /^pruning\.warmupEpochs: must be below training\.epochs \(12\)/],
    ['bad rule parameter', { rule: 'asha', reductionFactor: 1 }, /^pruning\.reductionFactor: must be >= 2$/],
    ['parameter of another rule', { rule: 'median', reductionFactor: 3 }, /^pruning\.reductionFactor: unknown field$/],
    ['not an object', 'median', /^pruning: must be \{rule: median \| asha, \.\.\.\}$/],
  ];
  for (const [what, pruning, message] of cases) {
    test(what, () => {
      assert.throws(
        () => expandSpec(validateSpec({ ...SPEC_INPUT, pruning })),
        (error: unknown) => error instanceof SpecError && error.message.split('\n').length === 1 && message.test(error.message),
      );
    });
  }

  test('the command refuses the spec with exit 2 and writes no results', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'floodsweep-pruning-cli-'));
    const specFile = join(dir, 'spec.json');
    writeFileSync(specFile, JSON.stringify({ ...SPEC_INPUT, pruning: { rule: 'median', warmupEpochs: 50 } }));
    const results = join(dir, 'results');
    for (const args of [
      ['sweep', 'validate', specFile],
      ['sweep', 'run', specFile, '--results', results],
    ]) {
      const run = await floodsweep(args);
      assert.equal(run.code, 2, run.stderr);
      assert.match(run.stderr.trim(), /^[^\n]*pruning\.warmupEpochs: must be below training\.epochs \(12\)[^\n]*$/);
    }
    assert.equal(existsSync(results), false);
  });
});

describe('pruning in a sweep', () => {
  let reference: { stores: ReturnType<typeof newStores>; sweepId: string; tasks: TaskRecord[] };

  before(async () => {
    await initBackend('wasm');
    const stores = newStores();
    const { sweepId } = await runSweep(SPEC, { stores: stores.config, workers: 1, epochsPerCall: 4 });
    reference = { stores, sweepId, tasks: await stores.metrics.listTasks(sweepId) };
  });

  test('prunes the hopeless tasks, never b = 0, and keeps their rows up to where they stopped', async () => {
    const { stores, sweepId, tasks } = reference;
    const pruned = tasks.filter((task) => task.status === 'PRUNED');
    assert.ok(pruned.length >= 3, `b = 1.5 is pruned at every seed: ${JSON.stringify(verdicts(tasks))}`);
    assert.ok(tasks.filter((task) => task.config.floodLevel === 1.5).every((task) => task.status === 'PRUNED'));
    assert.ok(tasks.filter((task) => task.config.floodLevel === 0).every((task) => task.status === 'SUCCEEDED'));
    for (const task of pruned) {
      const decision = task.pruning!.decision!;
      assert.ok(task.epochsDone < task.epochsTotal, 'a pruned task stops early');
      assert.equal(Object.keys(decision.references).length, 3, 'judged against the three b = 0 seeds');
      const rows = await stores.metrics.getEpochs(sweepId, task.taskId);
      assert.deepEqual(
        rows.map((row) => row.epoch),
        [0, 2, 4, 6, 8, 10].filter((epoch) => epoch <= task.epochsDone),
      );
      assert.equal(rows.find((row) => row.epoch === decision.epoch)!.val.acc, decision.value);
      assert.ok(decision.value < decision.threshold);
    }
  });

  test('the summary counts pruned tasks apart and never chooses a pruned level over a finished one', async () => {
    const { stores, sweepId, tasks } = reference;
    const summary = await summarizeSweep({
      sweepId,
      name: SPEC.name,
      tasks,
      epochsOf: (taskId) => stores.metrics.getEpochs(sweepId, taskId),
      selection: SPEC.selection,
    });
    assert.equal(summary.status, 'SUCCEEDED');
    assert.equal(summary.prunedTasks, tasks.filter((task) => task.status === 'PRUNED').length);
    assert.equal(summary.succeededTasks + summary.prunedTasks, tasks.length);
    assert.deepEqual(summary.failedTasks, []);
    const [group] = summary.groups;
    const chosen = group.levels.find((level) => level.floodLevel === group.chosenLevel)!;
    assert.ok(chosen.runs.length > 0, 'the chosen level has finished seeds');
    assert.deepEqual(chosen.pruned, [], 'and none pruned: a pruned seed is evidence against its level');
    assert.equal(group.chosenFromPruned, false);
    const allPruned = group.levels.find((level) => level.floodLevel === 1.5)!;
    assert.deepEqual([allPruned.runs.length, allPruned.pruned.length, allPruned.testCleanAcc], [0, 3, null]);
  });

  test('the report, the exports and the command show the pruned tasks as such', async () => {
    const { stores, sweepId, tasks } = reference;
    const pruned = tasks.filter((task) => task.status === 'PRUNED');
    const html = (await stores.artifacts.get(sweepKeys(sweepId).report))!.toString('utf8');
    assert.match(html, new RegExp(`, ${pruned.length} pruned \\(stopped early`));
    assert.match(
      html,
      /<span class="tag tag-pruned" title="pruned: seed 0 at epoch 4, seed 1 at epoch 4, seed 2 at epoch 4">3 pruned<\/span>/,
    );
    assert.match(html, /pruned at epoch/, 'the interactive chart marks pruned seeds');
    const table = taskTable(tasks, [], () => []);
    for (const row of table.rows) {
      const task = tasks.find((t) => t.taskId === row.taskId)!;
      assert.equal(row.status, task.status);
      assert.equal(row.prunedAt, task.status === 'PRUNED' ? task.pruning!.decision!.epoch : null);
    }
    const results = stores.config.kind === 'local' ? stores.config.rootDir : '';
    const shown = await floodsweep(['sweep', 'results', sweepId, '--results', results]);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, new RegExp(`tasks succeeded, ${pruned.length} pruned`));
    assert.match(shown.stdout, /\b3 pruned$/m);
    const status = await floodsweep(['sweep', 'status', sweepId, '--results', results]);
    assert.match(status.stdout, new RegExp(`${pruned.length} pruned`));
  });

  test('a group whose every task with numbers was pruned still gets a chosen level, marked as such', async () => {
    const tasks = [0.1, 0.2].map((floodLevel, i) =>
      taskRecord('s', `t${i}`, {
        status: 'PRUNED',
        config: { ...taskRecord('s', 'x').config, floodLevel },
        final: { train: epochRow(4).train, val: epochRow(4, 1 - i).val, test: epochRow(4).test },
        epochsDone: 4,
      }),
    );
    const summary = await summarizeSweep({ sweepId: 's', name: 's', tasks, epochsOf: async () => [], selection: SPEC.selection });
    assert.equal(summary.groups[0].chosenLevel, 0.2);
    assert.equal(summary.groups[0].chosenFromPruned, true);
  });

  test('the verdicts are the same with two workers', async () => {
    const stores = newStores();
    const { sweepId } = await runSweep(SPEC, { stores: stores.config, workers: 2, epochsPerCall: 2 });
    assert.deepEqual(verdicts(await stores.metrics.listTasks(sweepId)), verdicts(reference.tasks));
  });

  /** Plan, then Train calls in the given order of tasks (each to the end, or interleaved call by call), then Aggregate. */
  async function trainInOrder(order: (tasks: TaskRecord[]) => TaskRecord[], interleaved: boolean) {
    const stores = newStores();
    const { sweepId } = await plan(stores, { input: { spec: SPEC_INPUT }, executionName: `pruning-order-${interleaved}` });
    let pending = order(await stores.metrics.listTasks(sweepId));
    while (pending.length > 0) {
      const next: TaskRecord[] = [];
      for (const task of pending) {
        let output = await trainStep(stores, { sweepId, taskId: task.taskId }, { maxEpochs: 2 });
        while (!interleaved && !output.done) output = await trainStep(stores, { sweepId, taskId: task.taskId }, { maxEpochs: 2 });
        if (!output.done) next.push(task);
      }
      pending = next;
    }
    await aggregate(stores, { sweepId });
    return { stores, sweepId, tasks: await stores.metrics.listTasks(sweepId) };
  }

  test('the verdicts are the same when every other task trains before its references (Aggregate settles them)', async () => {
    const { tasks } = await trainInOrder((tasks) => [...tasks].sort((a, b) => b.config.floodLevel - a.config.floodLevel), false);
    assert.deepEqual(verdicts(tasks), verdicts(reference.tasks));
    const late = tasks.filter((task) => task.status === 'PRUNED');
    assert.ok(
      late.every((task) => task.epochsDone === task.epochsTotal),
      'without references to compare with, they trained to the end',
    );
  });

  test('the verdicts are the same with Train calls interleaved in a shuffled order', async () => {
    const shuffle = (tasks: TaskRecord[]) => [...tasks].sort((a, b) => (a.taskId.slice(3) < b.taskId.slice(3) ? -1 : 1));
    const { tasks } = await trainInOrder(shuffle, true);
    assert.deepEqual(verdicts(tasks), verdicts(reference.tasks));
  });

  test('a replayed Train call or Aggregate decides as recorded, even when the store has changed since', async () => {
    const { stores, sweepId } = await trainInOrder((tasks) => tasks, false);
    const before = await stores.metrics.listTasks(sweepId);
    const baseline = before.filter((task) => task.config.floodLevel === 0);
    // Every reference's rows now say the opposite: perfect accuracy, at every rung. (Not at the
    // last epoch, no rung: Aggregate would find the task's final metrics damaged.)
    for (const task of baseline) {
      const rows = await stores.metrics.getEpochs(sweepId, task.taskId);
      const last = task.config.training.epochs;
      await stores.metrics.putEpochs(
        sweepId,
        task.taskId,
        rows.map((row) => ({ ...row, val: { ...row.val, acc: row.epoch === 0 || row.epoch === last ? row.val.acc : 1 } })),
      );
    }
    for (const task of before) {
      const output = await trainStep(stores, { sweepId, taskId: task.taskId });
      assert.equal(output.done, true);
    }
    await aggregate(stores, { sweepId });
    assert.deepEqual(verdicts(await stores.metrics.listTasks(sweepId)), verdicts(before));
  });

  test('a task resumed from its checkpoint keeps the rungs it passed', async () => {
    const stores = newStores();
    const { sweepId } = await plan(stores, { input: { spec: SPEC_INPUT }, executionName: 'pruning-resume' });
    const tasks = await stores.metrics.listTasks(sweepId);
    const references = tasks.filter((task) => task.config.floodLevel === 0);
    for (const task of references) while (!(await trainStep(stores, { sweepId, taskId: task.taskId })).done);
    const passing = reference.tasks.find((task) => task.status === 'SUCCEEDED' && task.config.floodLevel === 0.3)!;
    await trainStep(stores, { sweepId, taskId: passing.taskId }, { maxEpochs: 4 });
    assert.equal((await stores.metrics.getTask(sweepId, passing.taskId))!.pruning!.passedThrough, 4);
    // The references' rows at the passed rung change; the resumed task does not look at that rung again.
    for (const task of references) {
      const [row] = await stores.metrics.getEpochsAt(sweepId, [task.taskId], 4).then((rows) => [...rows.values()]);
      await stores.metrics.putEpochs(sweepId, task.taskId, [{ ...row, val: { ...row.val, acc: 1 } }]);
    }
    while (!(await trainStep(stores, { sweepId, taskId: passing.taskId })).done);
    assert.equal((await stores.metrics.getTask(sweepId, passing.taskId))!.status, 'SUCCEEDED');
  });
});
