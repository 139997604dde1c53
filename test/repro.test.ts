/**
 * Reproducibility runs: `floodsweep repro run|check|baseline|history`, the workflow's Compare step
 * (run in process through infra/workflow.asl.json), and compareSnapshots / parseBaseline as units.
 *
 * The slow work (sweeps, CLI child processes) is started once, as a graph of memoized steps, in a
 * `before` hook: independent steps run concurrently, and each test awaits the steps it checks.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { SplitMetrics } from '../src/flooding/metrics.js';
import { openStores, type StoreConfig } from '../src/store/open.js';
import { sweepKeys } from '../src/store/ports.js';
import type { TaskRecord } from '../src/sweep/records.js';
import {
  BASELINE_FORMAT,
  BaselineError,
  type Comparison,
  compareSnapshots,
  describeComparison,
  METRICS,
  parseBaseline,
  type SweepSnapshot,
} from '../src/sweep/repro.js';
import { compareAndRecord, loadSnapshot } from '../src/workflow/compare.js';
import { runWorkflowLocally, type WorkflowResult } from '../src/workflow/local-executor.js';
import { plan } from '../src/workflow/plan.js';
import { type CliResult, floodsweep as floodsweepCli, show } from './cli-helpers.js';

const EXAMPLES = fileURLToPath(new URL('../examples/', import.meta.url));

const scratch = mkdtempSync(join(tmpdir(), 'floodsweep-repro-test-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

// ---------------------------------------------------------------------------------------------
// Helpers

/** A step that runs once, however many tests await it. */
function once<T>(step: () => Promise<T>): () => Promise<T> {
  let promise: Promise<T> | undefined;
  return () => (promise ??= step());
}

/** Starts steps early without an unhandled rejection; the tests that await them see any failure. */
function kickOff(...steps: Array<() => Promise<unknown>>): void {
  for (const step of steps) step().catch(() => {});
}

const writeJson = (path: string, value: unknown) => writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`);
const readJson = <T>(path: string): T => JSON.parse(readFileSync(path, 'utf8')) as T;

/** The sweep id in the first line of a comparison ("... (sweep <id> vs baseline ..."). */
function comparedSweepId(stdout: string): string {
  const match = /\(sweep (\S+) vs baseline /.exec(stdout);
  assert.ok(match, `a comparison line in:\n${stdout}`);
  return match[1];
}

/**
 * The command, on wasm like the in-process runs below (and the committed wasm baseline), so that
 * same-backend comparisons are exact wherever tfjs-node is installed too.
 */
const floodsweep = (args: string[], options: Parameters<typeof floodsweepCli>[1] = {}) =>
  floodsweepCli(args, { ...options, env: { FLOODSWEEP_BACKEND: 'wasm', ...options.env } });

/** The `alert: ...` lines the CLI prints on stderr where the cloud would publish to the alert topic. */
const alerts = (stderr: string) => stderr.split('\n').filter((line) => line.startsWith('alert: '));

/** The tiny pinned sweep all end-to-end tests use: 4 tasks of 8 epochs each. */
const TINY_SPEC = {
  name: 'repro-tiny',
  dataset: { name: 'sinusoid2d', nTrain: 48, nVal: 48, nTest: 128 },
  model: { kind: 'mlp', depth: 1, width: 8 },
  optimizer: { name: 'sgd', lr: 0.05 },
  training: { epochs: 8, batchSize: 16, evalEvery: 4 },
  floodLevels: [0, 0.3],
  seeds: [0, 1],
};
const LR_SPEC = { ...TINY_SPEC, optimizer: { name: 'sgd', lr: 0.04 } };
const SEED_SPEC = { ...TINY_SPEC, seeds: [0, 2] };
/** One task with an absurd learning rate: its losses become NaN. */
const DIVERGING_SPEC = {
  ...TINY_SPEC,
  name: 'repro-diverging',
  optimizer: { name: 'sgd', lr: 1e6 },
  training: { epochs: 2, batchSize: 16, evalEvery: 1 },
  floodLevels: [0],
  seeds: [0],
};

// ---------------------------------------------------------------------------------------------
// Synthetic snapshots for the unit tests.

const split = (loss: number, acc: number): SplitMetrics => ({ loss, acc, cleanLoss: loss / 2, cleanAcc: Math.min(1, acc + 0.05) });

/** Four finished tasks (flood levels 0 and 0.3 x seeds 0 and 1) on one backend, chosen level 0. */
function syntheticSnapshot(overrides: { sweepId?: string; backends?: string[]; chosenLevel?: number | null } = {}): SweepSnapshot {
  const backends = overrides.backends ?? ['wasm'];
  const tasks = [0, 0.3].flatMap((floodLevel, levelIndex) =>
    [0, 1].map((seed) => ({
      position: `0/${levelIndex}/${seed}`,
      taskId: `task${levelIndex}${seed}`,
      floodLevel,
      seed,
      config: { optimizer: { name: 'sgd', lr: 0.05 }, training: { epochs: 8 }, floodLevel, seed },
      status: 'SUCCEEDED',
      backend: backends[0],
      final: { train: split(0.3 + levelIndex / 10, 0.85), val: split(0.4, 0.8 + seed / 100), test: split(0.5 + seed / 10, 0.75) },
    })),
  );
  return {
    format: BASELINE_FORMAT,
    name: 'synthetic',
    sweepId: overrides.sweepId ?? 'synthetic-baseline',
    backends,
    tasks,
    chosenLevels: [{ group: 'base', chosenLevel: overrides.chosenLevel === undefined ? 0 : overrides.chosenLevel }],
  };
}

/** A copy of the snapshot with one metric of one task set. */
function withMetric(snapshot: SweepSnapshot, taskIndex: number, metric: string, value: number | ((old: number) => number)): SweepSnapshot {
  const copy = structuredClone(snapshot);
  const [splitName, name] = metric.split('.') as ['train' | 'val' | 'test', keyof SplitMetrics];
  const metrics = copy.tasks[taskIndex].final![splitName];
  metrics[name] = typeof value === 'function' ? value(metrics[name]) : value;
  return copy;
}

const current = (overrides: Parameters<typeof syntheticSnapshot>[0] = {}) =>
  syntheticSnapshot({ sweepId: 'synthetic-current', ...overrides });
const driftOf = (comparison: Comparison) => comparison.tasks.map((t) => t.drift.map((d) => d.metric));

// ---------------------------------------------------------------------------------------------
// The end-to-end graph, against one local results directory: a first sweep run in process without a
// repro block (the baseline of everything), its baseline file, reproducibility runs through the CLI
// and in process, and checks against it. Each step runs once; independent steps run concurrently.

const store = join(scratch, 'results');
const local: StoreConfig = { kind: 'local', rootDir: store };
const file = (name: string) => join(scratch, name);
/** The history name of the reproducibility runs of the unchanged spec (one through the CLI, one in process). */
const REPRO_NAME = 'tiny-pinned';

interface Run {
  result: WorkflowResult;
  alerts: Array<{ subject: string; message: string }>;
}

async function runLocally(input: Parameters<typeof runWorkflowLocally>[0]): Promise<Run> {
  const sent: Run['alerts'] = [];
  const { result } = runWorkflowLocally(input, {
    stores: local,
    backend: 'wasm',
    workers: 1,
    onAlert: (subject, message) => sent.push({ subject, message }),
  });
  return { result: await result, alerts: sent };
}

const artifact = (sweepId: string, key: 'repro' | 'report') => join(store, sweepKeys(sweepId)[key]);

/** `repro run <name>.repro.json` into the shared results dir, with the comparison it recorded. */
async function reproRun(name: string): Promise<CliResult & { sweepId: string; comparison: Comparison }> {
  await steps.baselineFile();
  const run = await floodsweep(['repro', 'run', file(`${name}.repro.json`), '--results', store, '--workers', '1']);
  const sweepId = comparedSweepId(run.stdout + show(run));
  return { ...run, sweepId, comparison: readJson<Comparison>(artifact(sweepId, 'repro')) };
}

const steps = {
  /** No repro block; what the run left, read before any later check of this sweep writes a repro.json. */
  plain: once(async (): Promise<Run & { sweepId: string; reproJsonWritten: boolean; report: string }> => {
    const run = await runLocally({ spec: TINY_SPEC });
    const { sweepId } = run.result.plan;
    return {
      ...run,
      sweepId,
      reproJsonWritten: existsSync(artifact(sweepId, 'repro')),
      report: readFileSync(artifact(sweepId, 'report'), 'utf8'),
    };
  }),
  baseline: once(async (): Promise<CliResult> => {
    const { sweepId } = await steps.plain();
    return floodsweep(['repro', 'baseline', sweepId, '--out', file('baseline.json'), '--results', store]);
  }),
  /** The baseline file, once written. */
  baselineFile: once(async (): Promise<SweepSnapshot> => {
    const written = await steps.baseline();
    assert.equal(written.code, 0, show(written));
    return readJson<SweepSnapshot>(file('baseline.json'));
  }),
  same: once(() => reproRun('same')),
  lr: once(() => reproRun('lr')),
  seed: once(() => reproRun('seed')),
  /** `repro check <second> --baseline <first>` (after the repro run's repro.json was read: this overwrites it). */
  checkSweeps: once(async (): Promise<CliResult> => {
    const [{ sweepId: first }, same] = await Promise.all([steps.plain(), steps.same()]);
    return floodsweep(['repro', 'check', same.sweepId, '--baseline', first, '--results', store, '--json']);
  }),
  /** The spec again with a repro block, one task's checkpoint overwritten by garbage after Plan: that task FAILS. */
  broken: once(async (): Promise<Run & { victim: TaskRecord }> => {
    const { sweepId: baseline } = await steps.plain();
    const stores = openStores(local);
    const planned = await plan(stores, { input: { spec: TINY_SPEC }, executionName: 'repro-test-tiny' });
    const victim = (await stores.metrics.listTasks(planned.sweepId)).find((t) => t.config.floodLevel === 0.3 && t.config.seed === 1)!;
    await stores.artifacts.put(sweepKeys(planned.sweepId).taskCheckpoint(victim.taskId), Buffer.from('garbage from broken storage'));
    const run = await runLocally({
      spec: TINY_SPEC,
      sweepId: planned.sweepId,
      repro: { name: REPRO_NAME, baseline: { sweepId: baseline } },
    });
    return { ...run, victim };
  }),
  checkBroken: once(async (): Promise<CliResult> => {
    const [{ sweepId: baseline }, { result }] = await Promise.all([steps.plain(), steps.broken()]);
    return floodsweep(['repro', 'check', result.plan.sweepId, '--baseline', baseline, '--results', store]);
  }),
  history: once(async (): Promise<CliResult> => {
    await Promise.all([steps.same(), steps.broken()]);
    return floodsweep(['repro', 'history', REPRO_NAME, '--results', store]);
  }),
  /**
   * A sweep whose losses are NaN, and `repro baseline` of it. The task's record is what a run with lr 1e6 leaves
   * (NaN losses, finite accuracies), written directly after Plan rather than trained, to save a sweep's time.
   */
  diverged: once(async (): Promise<{ sweepId: string; written: CliResult; out: string }> => {
    const stores = openStores(local);
    const { sweepId } = await plan(stores, { input: { spec: DIVERGING_SPEC }, executionName: 'repro-test-diverging' });
    const [task] = await stores.metrics.listTasks(sweepId);
    const nan = { loss: NaN, acc: 0.5, cleanLoss: NaN, cleanAcc: 0.5 };
    await stores.metrics.updateTask(sweepId, task.taskId, ['PENDING'], {
      status: 'SUCCEEDED',
      epochsDone: 2,
      backend: 'wasm',
      final: { train: nan, val: nan, test: nan },
    });
    const out = file('diverged-baseline.json');
    return { sweepId, written: await floodsweep(['repro', 'baseline', sweepId, '--out', out, '--results', store]), out };
  }),
  /** The project's own pinned sweep and committed baseline, as .ci/run checks it. */
  pinned: once(() =>
    floodsweep(['repro', 'run', join(EXAMPLES, 'repro', 'pinned-small.json'), '--results', file('pinned'), '--workers', '1']),
  ),
};

/** Malformed baseline files given to `repro run`: each has its own (never created) --out dir. */
const BAD_BASELINES = {
  'not-json': { text: 'not json {', problems: [/:1:\d+: invalid JSON: /] },
  'missing-fields': { text: null as string | null, problems: [/: sweepId: /, /: tasks: /] },
  'wrong-format': { text: null as string | null, problems: [/: format: .*floodsweep-baseline\/1/] },
};
const badRuns = Object.fromEntries(
  Object.keys(BAD_BASELINES).map((name) => [
    name,
    once(() => floodsweep(['repro', 'run', file(`${name}.repro.json`), '--results', file(`out-${name}`), '--workers', '1'])),
  ]),
) as Record<keyof typeof BAD_BASELINES, () => Promise<CliResult>>;

function writeFiles(): void {
  writeJson(file('tiny.json'), TINY_SPEC);
  writeJson(file('lr.json'), LR_SPEC);
  writeJson(file('seed.json'), SEED_SPEC);
  writeJson(file('same.repro.json'), { name: REPRO_NAME, spec: 'tiny.json', baseline: { file: 'baseline.json' } });
  writeJson(file('lr.repro.json'), { name: 'tiny-lr', spec: 'lr.json', baseline: { file: 'baseline.json' } });
  writeJson(file('seed.repro.json'), { name: 'tiny-seed', spec: 'seed.json', baseline: { file: 'baseline.json' } });
  // The malformed baselines are edits of a well-formed one.
  const wellFormed = syntheticSnapshot();
  const { tasks: _tasks, sweepId: _sweepId, ...missing } = wellFormed;
  BAD_BASELINES['missing-fields'].text = JSON.stringify(missing);
  BAD_BASELINES['wrong-format'].text = JSON.stringify({ ...wellFormed, format: 'floodsweep-baseline/0' });
  for (const [name, { text }] of Object.entries(BAD_BASELINES)) {
    writeFileSync(file(`${name}.json`), text!);
    writeJson(file(`${name}.repro.json`), { name: `bad-${name}`, spec: 'tiny.json', baseline: { file: `${name}.json` } });
  }
}

// ---------------------------------------------------------------------------------------------

describe('compareSnapshots', () => {
  test('identical snapshots: REPRODUCED, every task reproduced with maxDifference 0', () => {
    const comparison = compareSnapshots(current(), syntheticSnapshot());
    assert.equal(comparison.verdict, 'REPRODUCED');
    assert.equal(comparison.sameBackend, true);
    assert.deepEqual(comparison.counts, { reproduced: 4, drifted: 0, missing: 0 });
    assert.deepEqual(
      comparison.tasks.map((t) => [t.outcome, t.maxDifference, t.drift.length, t.configChanges.length]),
      Array(4).fill(['reproduced', 0, 0, 0]),
    );
    assert.equal(comparison.sweepId, 'synthetic-current');
    assert.equal(comparison.baselineSweepId, 'synthetic-baseline');
  });

  test('same backend: exact by default, a difference of 1e-12 in one metric is drift naming the metric and tolerance 0', () => {
    const comparison = compareSnapshots(
      withMetric(current(), 2, 'test.loss', (x) => x + 1e-12),
      syntheticSnapshot(),
    );
    assert.equal(comparison.verdict, 'DRIFTED');
    assert.deepEqual(comparison.counts, { reproduced: 3, drifted: 1, missing: 0 });
    assert.deepEqual(driftOf(comparison), [[], [], ['test.loss'], []]);
    const [drift] = comparison.tasks[2].drift;
    assert.equal(drift.tolerance, 0);
    assert.ok(drift.difference > 0 && comparison.tasks[2].maxDifference > 0);
    assert.match(describeComparison(comparison).join('\n'), /task task10 \(b=0\.3, seed 0\): test\.loss 0\.5000 -> 0\.5000/);
  });

  test('same backend: sameBackend tolerances loosen loss and acc separately', () => {
    const lossOnly = withMetric(current(), 0, 'val.cleanLoss', (x) => x + 1e-7);
    assert.equal(compareSnapshots(lossOnly, syntheticSnapshot(), { sameBackend: { loss: 1e-6 } }).verdict, 'REPRODUCED');
    const acc = withMetric(lossOnly, 0, 'val.cleanAcc', (x) => x - 1 / 48);
    const comparison = compareSnapshots(acc, syntheticSnapshot(), { sameBackend: { loss: 1e-6 } });
    assert.equal(comparison.verdict, 'DRIFTED');
    assert.deepEqual(
      comparison.tasks[0].drift.map((d) => [d.metric, d.tolerance]),
      [['val.cleanAcc', 0]],
    );
  });

  test('different backends: the crossBackend defaults (acc 0.03, loss 0.1) apply', () => {
    const other = { backends: ['tfjs-node'] };
    const within = withMetric(
      withMetric(current(other), 1, 'test.acc', (x) => x + 0.02),
      3,
      'train.cleanLoss',
      (x) => x + 0.09,
    );
    const comparison = compareSnapshots(within, syntheticSnapshot());
    assert.equal(comparison.sameBackend, false);
    assert.deepEqual(comparison.backends, { baseline: ['wasm'], current: ['tfjs-node'] });
    assert.equal(comparison.verdict, 'REPRODUCED');
    assert.ok(comparison.tasks[1].maxDifference > 0.019, 'the difference is still measured');

    const beyond = withMetric(
      withMetric(current(other), 1, 'test.acc', (x) => x + 0.04),
      3,
      'train.cleanLoss',
      (x) => x + 0.11,
    );
    const drifted = compareSnapshots(beyond, syntheticSnapshot());
    assert.equal(drifted.verdict, 'DRIFTED');
    assert.deepEqual(
      drifted.tasks.map((t) => t.drift.map((d) => [d.metric, d.tolerance])),
      [[], [['test.acc', 0.03]], [], [['train.cleanLoss', 0.1]]],
    );
    assert.match(describeComparison(drifted)[0], /backends wasm -> tfjs-node: cross-backend tolerances/);

    // The crossBackend defaults are overridable.
    assert.equal(compareSnapshots(beyond, syntheticSnapshot(), { crossBackend: { acc: 0.05, loss: 0.2 } }).verdict, 'REPRODUCED');
  });

  test('per-metric overrides (e.g. {"test.cleanAcc": 0.01}) apply on any backend, and only to their metric', () => {
    const both = withMetric(
      withMetric(current(), 0, 'test.cleanAcc', (x) => x - 0.04),
      0,
      'test.acc',
      (x) => x - 0.04,
    );
    const comparison = compareSnapshots(both, syntheticSnapshot(), { metrics: { 'test.cleanAcc': 0.05 } });
    assert.deepEqual(
      comparison.tasks[0].drift.map((d) => [d.metric, d.tolerance]),
      [['test.acc', 0]],
    );

    // Across backends an override can be stricter than the crossBackend default.
    const cross = withMetric(
      withMetric(current({ backends: ['cpu'] }), 2, 'test.loss', (x) => x + 0.05),
      2,
      'val.loss',
      (x) => x + 0.05,
    );
    const strict = compareSnapshots(cross, syntheticSnapshot(), { metrics: { 'test.loss': 0.01 } });
    assert.equal(strict.verdict, 'DRIFTED');
    assert.deepEqual(
      strict.tasks[2].drift.map((d) => [d.metric, d.tolerance]),
      [['test.loss', 0.01]],
    );
  });

  test('tolerances are validated: unknown metric names, negative tolerances and unknown fields are refused', () => {
    const all = Object.fromEntries(METRICS.map((m) => [m, 0.5]));
    assert.throws(() => compareSnapshots(current(), syntheticSnapshot(), { metrics: { ...all, 'test.f1': 0.1 } }), /test\.f1/);
    assert.throws(() => compareSnapshots(current(), syntheticSnapshot(), { sameBackend: { acc: -1 } }));
    assert.throws(() => compareSnapshots(current(), syntheticSnapshot(), { chosenLevel: 'sometimes' }));
    assert.throws(() => compareSnapshots(current(), syntheticSnapshot(), { sameBackends: {} }));
    // A full set of overrides (which the schema does accept) wins over the backend defaults.
    const acc = withMetric(current(), 0, 'test.acc', (x) => x - 0.4);
    assert.equal(compareSnapshots(acc, syntheticSnapshot(), { metrics: all }).verdict, 'REPRODUCED');
    assert.equal(compareSnapshots(acc, syntheticSnapshot(), { metrics: { ...all, 'test.acc': 0.3 } }).verdict, 'DRIFTED');
  });

  test('NaN: NaN vs NaN counts as equal; NaN vs a number (either way) is drift, whatever the tolerance', () => {
    const bothNaN = compareSnapshots(withMetric(current(), 1, 'test.loss', NaN), withMetric(syntheticSnapshot(), 1, 'test.loss', NaN));
    assert.equal(bothNaN.verdict, 'REPRODUCED');
    assert.equal(bothNaN.tasks[1].maxDifference, 0);

    for (const [now, base] of [
      [withMetric(current(), 1, 'test.loss', NaN), syntheticSnapshot()],
      [current(), withMetric(syntheticSnapshot(), 1, 'test.loss', NaN)],
    ]) {
      for (const tolerances of [{}, { sameBackend: { loss: 1e9 } }]) {
        const comparison = compareSnapshots(now, base, tolerances);
        assert.equal(comparison.verdict, 'DRIFTED', JSON.stringify(tolerances));
        assert.deepEqual(driftOf(comparison), [[], ['test.loss'], [], []]);
        assert.equal(comparison.tasks[1].maxDifference, Infinity);
        assert.match(describeComparison(comparison).join('\n'), /test\.loss (NaN -> 0\.6000|0\.6000 -> NaN)/);
      }
    }
    // Across backends too.
    assert.equal(compareSnapshots(withMetric(current({ backends: ['cpu'] }), 0, 'val.acc', NaN), syntheticSnapshot()).verdict, 'DRIFTED');
  });

  test('a changed chosen flood level is DRIFTED (named in the description) unless tolerances.chosenLevel is "ignore"', () => {
    const moved = current({ chosenLevel: 0.3 });
    const comparison = compareSnapshots(moved, syntheticSnapshot());
    assert.equal(comparison.verdict, 'DRIFTED');
    assert.deepEqual(comparison.counts, { reproduced: 4, drifted: 0, missing: 0 }, 'every task itself reproduced');
    assert.deepEqual(comparison.chosenLevels, [{ group: 'base', baseline: 0, current: 0.3, changed: true }]);
    assert.ok(describeComparison(comparison).includes('  chosen flood level of base changed: 0 -> 0.3'));

    const ignored = compareSnapshots(moved, syntheticSnapshot(), { chosenLevel: 'ignore' });
    assert.equal(ignored.verdict, 'REPRODUCED');
    assert.equal(ignored.chosenLevels[0].changed, true, 'still reported');

    assert.equal(compareSnapshots(current({ chosenLevel: null }), syntheticSnapshot()).verdict, 'DRIFTED', 'no level chosen any more');
    assert.equal(compareSnapshots(current(), syntheticSnapshot(), { chosenLevel: 'must-match' }).verdict, 'REPRODUCED');
  });

  test('a config change alone is drift, listed as "path: baseline -> current"', () => {
    const changed = structuredClone(current());
    (changed.tasks[0].config.optimizer as { lr: number }).lr = 0.04;
    const comparison = compareSnapshots(changed, syntheticSnapshot());
    assert.equal(comparison.verdict, 'DRIFTED');
    assert.deepEqual(comparison.tasks[0].configChanges, ['optimizer.lr: 0.05 -> 0.04']);
    assert.equal(comparison.tasks[0].maxDifference, 0);
  });

  test('a task missing from the current sweep, or failed there, is INCOMPLETE (even with drift elsewhere)', () => {
    const fewer = structuredClone(current());
    fewer.tasks.pop();
    const missing = compareSnapshots(fewer, syntheticSnapshot());
    assert.equal(missing.verdict, 'INCOMPLETE');
    assert.deepEqual(missing.tasks[3], { ...missing.tasks[3], outcome: 'missing', taskId: null, baselineTaskId: 'task11' });

    const failed = withMetric(structuredClone(current()), 0, 'test.acc', 0);
    failed.tasks[1] = { ...failed.tasks[1], status: 'FAILED', final: null };
    const comparison = compareSnapshots(failed, syntheticSnapshot());
    assert.equal(comparison.verdict, 'INCOMPLETE');
    assert.deepEqual(comparison.counts, { reproduced: 2, drifted: 1, missing: 1 });
    assert.match(describeComparison(comparison).join('\n'), /task task01 \(b=0, seed 1\): missing or failed/);
  });

  test('METRICS lists the 12 split.metric names the tolerances accept', () => {
    assert.equal(METRICS.length, 12);
    for (const name of ['train.loss', 'val.cleanAcc', 'test.cleanAcc', 'test.cleanLoss']) assert.ok(METRICS.includes(name), name);
  });
});

describe('parseBaseline', () => {
  test('reads back what JSON.stringify wrote', () => {
    const snapshot = syntheticSnapshot();
    assert.deepEqual(parseBaseline(JSON.stringify(snapshot, null, 1), 'b.json'), snapshot);
  });

  test('one problem per bad field, each naming the file and the field', () => {
    const { tasks: _tasks, ...noTasks } = syntheticSnapshot();
    const bad = { ...noTasks, format: 'floodsweep-baseline/2', extra: true };
    assert.throws(
      () => parseBaseline(JSON.stringify(bad), 'b.json'),
      (error: unknown) => {
        assert.ok(error instanceof BaselineError);
        assert.equal(error.problems.length, 3, error.problems.join('\n'));
        assert.ok(error.problems.every((p) => p.startsWith('b.json: ')));
        for (const field of ['format', 'tasks', 'extra'])
          assert.ok(
            error.problems.some((p) => p.startsWith(`b.json: ${field}: `)),
            field,
          );
        return true;
      },
    );
  });

  test('text that is not JSON is one problem naming the file', () => {
    assert.throws(
      () => parseBaseline('not json {', 'b.json'),
      (error: unknown) => {
        assert.ok(error instanceof BaselineError);
        assert.equal(error.problems.length, 1);
        assert.match(error.problems[0], /^b\.json:1:1: invalid JSON: /);
        return true;
      },
    );
  });

  test('text that is not JSON and contains a line break is still one line (the CLI prints a message line by line)', () => {
    for (const text of ['not json {\n', '{"format":\n tru\n}']) {
      assert.throws(
        () => parseBaseline(text, 'b.json'),
        (error: unknown) => {
          assert.ok(error instanceof BaselineError);
          assert.equal(error.problems.length, 1);
          assert.doesNotMatch(error.message, /\n/, JSON.stringify(error.message));
          return true;
        },
      );
    }
  });
});

describe('floodsweep repro (CLI) on the tiny pinned sweep', () => {
  test('repro baseline writes a snapshot of the finished sweep: format tag, 4 finished tasks, backend wasm', async () => {
    const [{ sweepId }, written] = await Promise.all([steps.plain(), steps.baseline()]);
    assert.equal(written.code, 0, show(written));
    assert.match(written.stdout, new RegExp(`^baseline of ${sweepId} \\(4 tasks, backend wasm\\) written to .*baseline\\.json$`, 'm'));
    const snapshot = parseBaseline(readFileSync(file('baseline.json'), 'utf8'), 'baseline.json');
    assert.equal(snapshot.format, BASELINE_FORMAT);
    assert.equal(snapshot.sweepId, sweepId);
    assert.deepEqual(snapshot.backends, ['wasm']);
    assert.deepEqual(snapshot.tasks.map((t) => t.position).sort(), ['0/0/0', '0/0/1', '0/1/0', '0/1/1']);
    assert.ok(snapshot.tasks.every((t) => t.status === 'SUCCEEDED' && t.final));
  });

  test('1. the same spec again (repro run, baseline file from repro baseline): REPRODUCED, every maxDifference 0, exit 0, no alert', async () => {
    const [{ sweepId: first }, run] = await Promise.all([steps.plain(), steps.same()]);
    assert.equal(run.code, 0, show(run));
    assert.match(
      run.stdout,
      /^REPRODUCED: 4 tasks reproduced, 0 drifted, 0 missing \(sweep \S+ vs baseline \S+; same backend wasm: exact match expected\)$/m,
    );
    assert.deepEqual(alerts(run.stderr), []);
    assert.equal(run.comparison.verdict, 'REPRODUCED');
    assert.equal(run.comparison.baselineSweepId, first);
    assert.notEqual(run.sweepId, first, 'a new sweep');
    assert.deepEqual(
      run.comparison.tasks.map((t) => [t.outcome, t.maxDifference]),
      Array(4).fill(['reproduced', 0]),
    );
    assert.match(readFileSync(artifact(run.sweepId, 'report'), 'utf8'), /<h2>Reproducibility: REPRODUCED<\/h2>/);
  });

  test('1. repro check <second> --baseline <first>: REPRODUCED, every maxDifference 0, exit 0', async () => {
    const [{ sweepId: first }, same, check] = await Promise.all([steps.plain(), steps.same(), steps.checkSweeps()]);
    assert.equal(check.code, 0, show(check));
    const comparison = JSON.parse(check.stdout) as Comparison;
    assert.equal(comparison.verdict, 'REPRODUCED');
    assert.equal(comparison.sweepId, same.sweepId);
    assert.equal(comparison.baselineSweepId, first);
    assert.deepEqual(
      comparison.tasks.map((t) => [t.outcome, t.maxDifference]),
      Array(4).fill(['reproduced', 0]),
    );
  });

  test('2. a changed learning rate: DRIFTED naming every task, its drifted metrics and optimizer.lr: 0.05 -> 0.04; exit 1; alert on stderr', async () => {
    const run = await steps.lr();
    assert.equal(run.code, 1, show(run));
    assert.match(run.stdout, /^DRIFTED: 0 tasks reproduced, 4 drifted, 0 missing /m);
    assert.deepEqual(
      alerts(run.stderr).map((l) => l.replace(/ \(.*$/, '')),
      ['alert: floodsweep reproducibility run tiny-lr: DRIFTED'],
    );
    assert.equal(run.comparison.tasks.length, 4);
    for (const task of run.comparison.tasks) {
      const line = run.stdout.split('\n').find((l) => l.startsWith(`  task ${task.taskId} (b=${task.floodLevel}, seed ${task.seed}): `));
      assert.ok(line, `a line names task ${task.taskId}:\n${run.stdout}`);
      assert.match(line, /config changed: optimizer\.lr: 0\.05 -> 0\.04$/);
      assert.match(line, /test\.cleanLoss \d\.\d{4} -> \d\.\d{4}/, 'a loss does not stay bit-identical');
      assert.ok(task.drift.length > 0);
      for (const d of task.drift) assert.ok(line.includes(`${d.metric} `), `${d.metric} named in: ${line}`);
    }
    assert.match(run.stdout, /test\.cleanAcc \d\.\d{4} -> \d\.\d{4}/);
  });

  test('2. a changed seed (seeds [0, 2] vs [0, 1]): the seed-2 tasks drift (seed: 1 -> 2), the seed-0 tasks reproduce; exit 1; alert', async () => {
    const run = await steps.seed();
    assert.equal(run.code, 1, show(run));
    assert.deepEqual(
      alerts(run.stderr).map((l) => l.replace(/ \(.*$/, '')),
      ['alert: floodsweep reproducibility run tiny-seed: DRIFTED'],
    );
    assert.match(run.stdout, /^DRIFTED: 2 tasks reproduced, 2 drifted, 0 missing /m);
    const drifted = run.comparison.tasks.filter((t) => t.outcome === 'drifted');
    assert.deepEqual(
      drifted.map((t) => t.seed),
      [1, 1],
      'the baseline tasks of seed 1 are the ones re-run with seed 2',
    );
    for (const task of drifted) {
      assert.match(
        run.stdout,
        new RegExp(`^  task ${task.taskId} \\(b=${task.floodLevel}, seed 1\\): .*config changed: .*seed: 1 -> 2`, 'm'),
      );
    }
  });

  for (const [name, { problems }] of Object.entries(BAD_BASELINES)) {
    test(`4. repro run with a malformed baseline (${name}): one line per problem naming the file and field, exit 2, --out not created`, async () => {
      const run = await badRuns[name as keyof typeof BAD_BASELINES]();
      assert.equal(run.code, 2, show(run));
      assert.equal(run.stdout, '');
      const lines = run.stderr.trimEnd().split('\n');
      assert.equal(lines.length, problems.length, show(run));
      problems.forEach((problem, i) => {
        assert.ok(lines[i].startsWith(`floodsweep: ${file(`${name}.json`)}:`), lines[i]);
        assert.match(lines[i], problem);
      });
      assert.ok(!existsSync(file(`out-${name}`)), 'the --out dir is not created');
    });
  }

  test('a diverged sweep (NaN losses): the file `repro baseline` writes reads back, NaN and all', async () => {
    const { sweepId, written, out } = await steps.diverged();
    assert.equal(written.code, 0, show(written));
    const snapshot = parseBaseline(readFileSync(out, 'utf8'), out);
    assert.ok(Number.isNaN(snapshot.tasks[0].final!.test.loss));
    const stored = await loadSnapshot(openStores(local), sweepId);
    assert.equal(compareSnapshots(stored, snapshot).verdict, 'REPRODUCED');
  });
});

describe('the workflow runs Compare in process (runWorkflowLocally)', () => {
  test('5. without a repro block: result.compare is undefined, no alert, no repro.json, no Reproducibility section', async () => {
    const { result, alerts: sent, reproJsonWritten, report } = await steps.plain();
    assert.equal(result.aggregate.status, 'SUCCEEDED');
    assert.equal(result.compare, undefined);
    assert.deepEqual(sent, []);
    assert.equal(reproJsonWritten, false);
    assert.match(report, /<footer>/, 'the report itself was written');
    assert.doesNotMatch(report, /Reproducibility/);
  });

  test('5 + 3. with a repro block, one task FAILED (garbage checkpoint): compare.verdict INCOMPLETE naming it, repro.json, report section, alert', async () => {
    const [{ sweepId: baseline }, { result, alerts: sent, victim }] = await Promise.all([steps.plain(), steps.broken()]);
    const { sweepId } = result.plan;
    assert.equal(result.aggregate.status, 'PARTIAL');
    assert.equal((await openStores(local).metrics.getTask(sweepId, victim.taskId))?.status, 'FAILED');
    assert.equal(result.compare?.verdict, 'INCOMPLETE');
    assert.equal(result.compare.sweepId, sweepId);
    assert.equal(result.compare.name, REPRO_NAME);
    assert.match(
      result.compare.message,
      new RegExp(`^INCOMPLETE: 3 tasks reproduced, 0 drifted, 1 missing \\(sweep ${sweepId} vs baseline ${baseline}; `),
    );
    assert.match(result.compare.message, new RegExp(`^  task ${victim.taskId} \\(b=0\\.3, seed 1\\): missing or failed$`, 'm'));
    assert.deepEqual(sent, [{ subject: `floodsweep reproducibility run ${REPRO_NAME}: INCOMPLETE`, message: result.compare.message }]);
    const comparison = readJson<Comparison>(artifact(sweepId, 'repro'));
    assert.equal(comparison.verdict, 'INCOMPLETE');
    assert.deepEqual(comparison.counts, { reproduced: 3, drifted: 0, missing: 1 });
    assert.match(readFileSync(artifact(sweepId, 'report'), 'utf8'), /<h2>Reproducibility: INCOMPLETE<\/h2>/);
  });

  test('3. repro check of that sweep against the baseline sweep: INCOMPLETE naming the failed task, exit 1', async () => {
    const [{ victim }, check] = await Promise.all([steps.broken(), steps.checkBroken()]);
    assert.equal(check.code, 1, show(check));
    assert.match(check.stdout, /^INCOMPLETE: 3 tasks reproduced, 0 drifted, 1 missing /m);
    assert.match(check.stdout, new RegExp(`^  task ${victim.taskId} \\(b=0\\.3, seed 1\\): missing or failed$`, 'm'));
  });

  test('3. a baseline with more seeds than the sweep: INCOMPLETE naming the missing tasks', async () => {
    const [{ sweepId }, baseline] = await Promise.all([steps.plain(), steps.baselineFile()]);
    const extra = baseline.tasks
      .filter((t) => t.seed === 1)
      .map((t) => ({
        ...structuredClone(t),
        position: t.position.replace(/\/1$/, '/2'),
        taskId: `${t.taskId.slice(0, 10)}e2`,
        seed: 2,
        config: { ...t.config, seed: 2 },
      }));
    assert.equal(extra.length, 2);
    const moreSeeds = parseBaseline(JSON.stringify({ ...baseline, tasks: [...baseline.tasks, ...extra] }), 'more-seeds.json');
    const { verdict, message } = await compareAndRecord(openStores(local), {
      sweepId,
      name: 'more-seeds',
      baseline: moreSeeds,
      baselineName: 'more-seeds.json',
    });
    assert.equal(verdict, 'INCOMPLETE');
    assert.match(message, /^INCOMPLETE: 4 tasks reproduced, 0 drifted, 2 missing /);
    for (const task of extra)
      assert.match(message, new RegExp(`^  task ${task.taskId} \\(b=${task.floodLevel}, seed 2\\): missing or failed$`, 'm'));
  });

  test('5. repro history <name> lists the verdicts of both runs (CLI and in process), newest first', async () => {
    const [same, { result: broken }, history] = await Promise.all([steps.same(), steps.broken(), steps.history()]);
    assert.equal(history.code, 0, show(history));
    const records = await openStores(local).metrics.listRepro(REPRO_NAME);
    assert.equal(records.length, 2);
    const lines = history.stdout.trimEnd().split('\n');
    assert.equal(lines.length, 2, history.stdout);
    const expected = [
      { sweepId: same.sweepId, verdict: 'REPRODUCED', baseline: / {2}vs baselines\/cli\/\S+\.json$/ },
      { sweepId: broken.plan.sweepId, verdict: 'INCOMPLETE', baseline: new RegExp(`  vs sweep ${(await steps.plain()).sweepId}$`) },
    ].map((e) => ({ ...e, createdAt: records.find((r) => r.sweepId === e.sweepId)!.createdAt }));
    expected.sort((a, b) => (a.createdAt < b.createdAt ? 1 : -1));
    assert.notEqual(expected[0].createdAt, expected[1].createdAt);
    expected.forEach((e, i) => {
      assert.ok(lines[i].startsWith(`${e.createdAt}  ${e.verdict}`), `line ${i}: ${lines[i]}`);
      assert.ok(lines[i].includes(` ${e.sweepId}  `), lines[i]);
      assert.match(lines[i], e.baseline);
    });
    assert.ok(lines[0] > lines[1], 'newest first');
  });
});

describe('the committed project baseline', () => {
  test('6. repro run examples/repro/pinned-small.json (what .ci/run checks): REPRODUCED, exit 0', async () => {
    const run = await steps.pinned();
    assert.equal(run.code, 0, show(run));
    const committed = readJson(join(EXAMPLES, '..', 'baselines', 'pinned-small-wasm.json')) as { sweepId: string };
    assert.ok(run.stdout.startsWith(`REPRODUCED: 4 tasks reproduced, 0 drifted, 0 missing (sweep pinned-small-`), run.stdout);
    assert.ok(run.stdout.includes(` vs baseline ${committed.sweepId}; `), run.stdout);
    assert.deepEqual(alerts(run.stderr), []);
  });
});

before(() => {
  writeFiles();
  kickOff(steps.pinned, ...Object.values(badRuns), ...Object.values(steps));
});
