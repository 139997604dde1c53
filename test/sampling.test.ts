import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { formatSampledPoints } from '../src/cli/sampled-points.js';
import { ENV_NAMES } from '../src/env-names.js';
import { loadSpecFile } from '../src/input-files.js';
import { runSweep } from '../src/run.js';
import { openStores } from '../src/store/open.js';
import { sweepKeys } from '../src/store/ports.js';
import { expandSpec, sampledPoints } from '../src/sweep/expansion.js';
import { snapshotOf } from '../src/sweep/repro.js';
import { type PlannedTask, SpecError, type SweepSpec, validateSpec } from '../src/sweep/spec.js';
import { taskTable } from '../src/sweep/tables.js';
import { floodsweep, show } from './cli-helpers.js';
import { credentials, type Emulators, region, startEmulators } from './emulators.js';

/** A valid spec plus `overrides`. */
function spec(overrides: Record<string, unknown> = {}): SweepSpec {
  return validateSpec({ name: 'search', floodLevels: [0, 0.1], ...overrides });
}

const lr = (count: number, extra: Record<string, unknown> = {}) => ({ sample: 'loguniform', low: 1e-4, high: 1, count, ...extra });
const valuesOf = (tasks: PlannedTask[], path: (task: PlannedTask) => unknown) => [...new Set(tasks.map(path))];

/** The problems `run` reports; fails if it does not throw a SpecError. */
function problemsOf(run: () => unknown): string[] {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof SpecError, `expected a SpecError, got ${String(error)}`);
    for (const problem of error.problems) assert.ok(!problem.includes('\n'), `one line per problem: ${problem}`);
    return error.problems;
  }
  assert.fail('expected a SpecError');
}

describe('sampled axes', () => {
  test('the same spec expands to the same tasks and ids, also after a round trip through JSON', () => {
    const input = { grid: { 'optimizer.lr': lr(5), 'optimizer.momentum': { sample: 'uniform', low: 0.5, high: 0.99, count: 5 } } };
    const first = expandSpec(spec(input));
    assert.deepEqual(expandSpec(spec(input)), first);
    const stored = validateSpec(JSON.parse(JSON.stringify(spec(input))));
    assert.deepEqual(stored, spec(input));
    assert.deepEqual(expandSpec(stored), first);
  });

  test('search.seed decides the draws: seed 0 is the default, another seed draws other points', () => {
    const drawn = (search?: object) => sampledPoints(spec({ grid: { 'optimizer.lr': lr(6) }, ...(search ? { search } : {}) })).points;
    assert.deepEqual(drawn({ seed: 0 }), drawn());
    assert.deepEqual(drawn({ seed: 7 }), drawn({ seed: 7 }));
    const [a, b] = [drawn({ seed: 0 }).flat(), drawn({ seed: 7 }).flat()];
    assert.equal(
      a.filter((value) => b.includes(value)).length,
      0,
      `seeds 0 and 7 share draws: ${JSON.stringify(a)} / ${JSON.stringify(b)}`,
    );
  });

  test('draws stay within [low, high], rounded to 4 significant digits, and are distinct', () => {
    const { points } = sampledPoints(spec({ grid: { 'optimizer.momentum': { sample: 'uniform', low: 0.25, high: 0.75, count: 500 } } }));
    const values = points.map(([value]) => value as number);
    assert.equal(values.length, 500);
    assert.equal(new Set(values).size, 500);
    for (const value of values) {
      assert.ok(value >= 0.25 && value <= 0.75, `${value} outside [0.25, 0.75]`);
      assert.equal(value, Number(value.toPrecision(4)), `${value} has more than 4 significant digits`);
    }
    // Uniform: about half below the middle.
    const below = values.filter((value) => value < 0.5).length / values.length;
    assert.ok(below > 0.42 && below < 0.58, `${below} of uniform draws below the middle`);
  });

  test('loguniform draws are uniform in log space', () => {
    const values = sampledPoints(spec({ grid: { 'optimizer.lr': lr(1000) } })).points.map(([value]) => value as number);
    assert.ok(values.every((value) => value >= 1e-4 && value <= 1));
    // The geometric middle of [1e-4, 1] is 1e-2: about half the draws lie below it (a linear draw: 1%).
    const below = values.filter((value) => value < 1e-2).length / values.length;
    assert.ok(below > 0.44 && below < 0.56, `${below} of loguniform draws below 1e-2`);
    const decades = [1e-4, 1e-3, 1e-2, 1e-1, 1].slice(1).map((top) => values.filter((value) => value < top && value >= top / 10).length);
    for (const count of decades) assert.ok(count > 180 && count < 320, `decade counts ${decades}: not about 250 each`);
  });

  test('several sampled axes are drawn jointly: count points, not a grid of samples', () => {
    const tasks = expandSpec(
      spec({
        grid: { 'optimizer.lr': lr(6), 'optimizer.weightDecay': { sample: 'uniform', low: 0, high: 0.01, count: 6 } },
        seeds: [0, 1],
      }),
    );
    const groups = valuesOf(tasks, (task) => task.group);
    assert.equal(groups.length, 6);
    assert.equal(tasks.length, 6 * 2 * 2);
    // Each group is one point: one lr with one weight decay, and no lr appears in two groups.
    assert.equal(valuesOf(tasks, (task) => task.config.optimizer.lr).length, 6);
    assert.equal(valuesOf(tasks, (task) => task.config.optimizer.weightDecay).length, 6);
    for (const task of tasks) {
      assert.deepEqual(task.groupLabel, {
        'optimizer.lr': task.config.optimizer.lr,
        'optimizer.weightDecay': task.config.optimizer.weightDecay,
      });
    }
  });

  test('listed axes form a grid crossed with the sampled points', () => {
    const tasks = expandSpec(spec({ grid: { 'model.width': [8, 16], 'optimizer.lr': lr(3) } }));
    assert.equal(tasks.length, 2 * 3 * 2);
    const lrsOf = (width: number) =>
      valuesOf(
        tasks.filter((task) => task.config.model.kind === 'mlp' && task.config.model.width === width),
        (task) => task.config.optimizer.lr,
      );
    assert.equal(lrsOf(8).length, 3);
    assert.deepEqual(lrsOf(16), lrsOf(8));
    assert.deepEqual(lrsOf(8), sampledPoints(spec({ grid: { 'model.width': [8, 16], 'optimizer.lr': lr(3) } })).points.flat());
  });

  test('a sampled floodLevels runs the drawn levels and b = 0, the baseline of the paired statistics', () => {
    const levels = { sample: 'uniform', low: 0.01, high: 0.4, count: 4 };
    const tasks = expandSpec(spec({ floodLevels: levels, grid: { 'model.width': [8, 16] } }));
    const drawn = sampledPoints(spec({ floodLevels: levels })).points.flat() as number[];
    for (const group of valuesOf(tasks, (task) => task.group)) {
      const groupLevels = tasks.filter((task) => task.group === group).map((task) => task.config.floodLevel);
      assert.deepEqual(
        groupLevels,
        [0, ...drawn].sort((a, b) => a - b),
      );
    }
    // Drawn with a sampled lr: each point is a group of its own, with its level and b = 0.
    const joint = expandSpec(spec({ floodLevels: levels, grid: { 'optimizer.lr': lr(4) } }));
    assert.equal(joint.length, 4 * 2);
    assert.ok(joint.filter((task) => task.config.floodLevel === 0).length === 4);
  });

  test('a reproducibility snapshot places each task by group, level and seed, with levels drawn per group', () => {
    const input = spec({
      floodLevels: { sample: 'uniform', low: 0.01, high: 0.4, count: 2 },
      grid: { 'optimizer.lr': lr(2) },
      seeds: [4, 2],
    });
    const { tasks } = snapshotOf({ sweepId: 'search-1', name: 'search', spec: input, planned: expandSpec(input), records: [] });
    // Each drawn lr is a group with b = 0 and its drawn level; seeds in the order listed.
    assert.deepEqual(
      tasks.map((task) => task.position),
      ['0/0/0', '0/0/1', '0/1/0', '0/1/1', '1/0/0', '1/0/1', '1/1/0', '1/1/1'],
    );
    assert.deepEqual(
      tasks.map((task) => task.floodLevel === 0),
      [true, true, false, false, true, true, false, false],
    );
  });

  test('a choice draws only its values, each point once', () => {
    const tasks = expandSpec(spec({ grid: { 'model.width': { sample: 'choice', values: [4, 8, 16], count: 3 } } }));
    assert.deepEqual(valuesOf(tasks, (task) => (task.config.model.kind === 'mlp' ? task.config.model.width : null)).sort(), [16, 4, 8]);
  });

  test('bad distributions: one line naming the field and what is allowed', () => {
    const problems = (input: Record<string, unknown>) => problemsOf(() => expandSpec(spec(input)));
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ grid: { 'optimizer.lr': { sample: 'uniform', low: 0.1, high: 0.1, count: 3 } } }, 'grid.optimizer.lr.low: must be < high'],
      [{ grid: { 'optimizer.lr': lr(3, { low: 0 }) } }, 'grid.optimizer.lr.low: must be > 0 for loguniform (it draws in log space)'],
      [{ grid: { 'optimizer.lr': lr(0) } }, 'grid.optimizer.lr.count: must be >= 1: the number of points to draw'],
      [
        { grid: { 'optimizer.lr': lr(10_001) } },
        'grid.optimizer.lr.count: 10001 points is above the task limit of 10000; lower count or raise --max-tasks',
      ],
      [
        { grid: { 'optimizer.lr': { sample: 'normal', count: 3 } } },
        'grid.optimizer.lr.sample: must be one of uniform, loguniform, choice',
      ],
      [
        { grid: { 'model.width': { sample: 'choice', values: [], count: 3 } } },
        'grid.model.width.values: must not be empty; list at least one value to choose from',
      ],
      [{ grid: { 'optimizer.lr': lr(3, { step: 2 }) } }, 'grid.optimizer.lr.step: unknown field'],
      [{ floodLevels: { sample: 'uniform', low: -0.1, high: 0.3, count: 3 } }, 'floodLevels.low: must be >= 0'],
      [
        { grid: { 'optimizer.lr': lr(3), 'optimizer.momentum': { sample: 'uniform', low: 0, high: 0.9, count: 4 } } },
        'grid.optimizer.momentum.count: must equal grid.optimizer.lr.count (3): sampled axes are drawn jointly, one point per draw',
      ],
      [
        { grid: { 'model.width': { sample: 'choice', values: [4, 8], count: 3 } } },
        'grid.model.width.count: must be <= 2, the number of distinct points the choices allow',
      ],
      [
        { grid: { 'model.width': { sample: 'choice', values: [4, 4], count: 1 } } },
        'grid.model.width.values[1]: duplicate of grid.model.width.values[0]',
      ],
      [
        { grid: { 'optimizer.lr': { sample: 'uniform', low: 0.1, high: 0.1002, count: 50 } } },
        'grid.optimizer.lr.count: only 3 distinct points found at 4 significant digits; lower count or widen the ranges',
      ],
      [
        { grid: { 'training.epochs': { sample: 'uniform', low: 2, high: 9, count: 3 } } },
        'grid.training.epochs: Invalid input: expected int, received number (a value drawn from this distribution)',
      ],
      [{ search: { seed: -1 } }, 'search.seed: must be >= 0'],
    ];
    for (const [input, expected] of cases) {
      const found = (() => {
        try {
          return problems(input);
        } catch (error) {
          assert.fail(`${JSON.stringify(input)}: ${String(error)}`);
        }
      })();
      assert.deepEqual(found, [expected], JSON.stringify(input));
    }
  });
});

describe('sampled axes in the cloud', () => {
  let emulators: Emulators;
  before(async () => {
    emulators = await startEmulators();
  });
  after(async () => {
    await emulators?.close();
  });

  test('the Plan Lambda handler, on DynamoDB + S3, plans the tasks of the local expansion', async () => {
    const input = {
      name: 'search-plan',
      floodLevels: { sample: 'uniform', low: 0, high: 0.3, count: 4 },
      grid: { 'optimizer.lr': lr(4), 'model.width': [8, 16] },
      search: { seed: 3 },
    };
    const expected = expandSpec(validateSpec(input));
    const aws = await emulators.newAwsStores();
    // The environment the stack gives the function, pointed at the emulators.
    const environment = {
      [ENV_NAMES.table]: aws.tableName,
      [ENV_NAMES.bucket]: aws.bucket,
      AWS_ENDPOINT_URL_DYNAMODB: emulators.endpoints.dynamodbEndpointUrl,
      AWS_ENDPOINT_URL_S3: emulators.endpoints.s3EndpointUrl,
      AWS_REGION: region,
      AWS_ACCESS_KEY_ID: credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    };
    const saved = Object.fromEntries(Object.keys(environment).map((name) => [name, process.env[name]]));
    Object.assign(process.env, environment);
    try {
      const { handler } = await import('../functions/plan.js');
      // A spec travels as JSON in the execution input.
      const planned = await handler({ input: { spec: JSON.parse(JSON.stringify(input)) }, executionName: 'search-plan-1' });
      const manifest = JSON.parse((await aws.artifacts.get(planned.manifestKey))!.toString());
      assert.deepEqual(
        manifest.map((item: { taskId: string }) => item.taskId),
        expected.map((task) => task.taskId),
      );
      const records = new Map((await aws.metrics.listTasks(planned.sweepId)).map((task) => [task.taskId, task]));
      assert.equal(records.size, expected.length);
      for (const task of expected) assert.deepEqual(records.get(task.taskId)?.config, task.config);
    } finally {
      for (const [name, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
      await aws.cleanup();
    }
  });
});

describe('a sweep with a sampled learning rate', () => {
  test('runs locally; its report, summary and exports show the sampled axis as numbers', async () => {
    const rootDir = await mkdtemp(join(tmpdir(), 'floodsweep-sampled-run-'));
    const input = spec({
      name: 'sampled-lr',
      dataset: { name: 'sinusoid2d', nTrain: 32, nVal: 32, nTest: 64 },
      model: { kind: 'mlp', depth: 1, width: 8 },
      training: { epochs: 2, batchSize: 16, evalEvery: 1 },
      grid: { 'optimizer.lr': lr(3) },
    });
    const result = await runSweep(input, { stores: { kind: 'local', rootDir }, workers: 2, backend: 'wasm' });
    assert.equal(result.summary.status, 'SUCCEEDED');
    assert.deepEqual(result.summary.sampledAxes, [{ path: 'optimizer.lr', scale: 'log' }]);
    const drawn = sampledPoints(input).points.flat();
    assert.deepEqual(result.summary.groups.map((group) => group.label['optimizer.lr']).sort(), [...drawn].sort());

    const stores = openStores({ kind: 'local', rootDir });
    const keys = sweepKeys(result.sweepId);
    const report = (await stores.artifacts.get(keys.report))!.toString();
    const section = report.slice(report.indexOf('<h2>Sampled axes</h2>'));
    assert.ok(section.length < report.length, 'the report has a section on the sampled axes');
    const chart = JSON.parse(/data-chart-for="sampled-axes">(.*?)<\/script>/s.exec(section)![1]);
    assert.equal(chart.concat[0].encoding.x.scale.type, 'log');
    assert.equal(chart.concat[0].mark.type, 'circle');
    // One dot per task, at its drawn lr.
    assert.deepEqual(chart.data.values.map((row: Record<string, number>) => row['axis:optimizer.lr']).sort(), [...drawn, ...drawn].sort());
    const png = await stores.artifacts.get(keys.plot('sampled-1-optimizer-lr.png'));
    assert.ok(png && png.subarray(1, 4).toString() === 'PNG', 'the scatter is drawn as a PNG too');
    assert.ok(section.includes('sampled-1-optimizer-lr.png'));

    const tasks = await stores.metrics.listTasks(result.sweepId);
    const table = taskTable(tasks, Object.keys(input.grid), () => []);
    assert.ok(table.columns.includes('optimizer.lr'));
    for (const row of table.rows) assert.equal(typeof row['optimizer.lr'], 'number');
    assert.deepEqual([...new Set(table.rows.map((row) => row['optimizer.lr']))].sort(), [...drawn].sort());
  });
});

// These run bin/floodsweep.js, which runs dist/: `npm run build` first.
describe('floodsweep sweep validate and run with sampled axes', () => {
  const example = join(import.meta.dirname, '..', 'examples', 'random-search.json');

  test('validate prints the drawn points, one line each', async () => {
    const result = await floodsweep(['sweep', 'validate', example]);
    assert.equal(result.code, 0, show(result));
    const lines = result.stdout.trimEnd().split('\n');
    const header = lines.findIndex((line) => /^point\s+floodLevel\s+optimizer\.lr$/.test(line));
    assert.ok(header > 0, show(result));
    const { points } = sampledPoints(loadSpecFile(example));
    const rows = lines.slice(header + 1, header + 1 + points.length).map((line) => line.split(/\s+/));
    assert.deepEqual(
      rows,
      points.map((point, index) => [String(index + 1), ...point.map(String)]),
    );
  });

  test('drawn values reach the terminal escaped, one point per line', () => {
    const text = formatSampledPoints({ axes: ['dataset.labelColumn'], points: [['red\u009b31m'], ['line\nbreak\u001b[2J']] }, 5);
    assert.equal(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/.test(text), false, JSON.stringify(text));
    assert.deepEqual(text.split('\n'), [
      '2 sampled points (search.seed 5):',
      'point  dataset.labelColumn',
      '1      "red\\u009b31m"',
      '2      "line\\nbreak\\u001b[2J"',
      '',
    ]);
  });

  test('a bad distribution: one line naming the field, exit 2, nothing written', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'floodsweep-sampled-bad-'));
    const file = join(dir, 'bad.json');
    await writeFile(
      file,
      JSON.stringify({ name: 'bad', floodLevels: [0], grid: { 'optimizer.lr': { sample: 'uniform', low: 0.1, high: 0.01, count: 4 } } }),
    );
    const results = join(dir, 'results');
    const result = await floodsweep(['sweep', 'run', file, '--results', results]);
    assert.equal(result.code, 2, show(result));
    assert.equal(result.stderr, 'floodsweep: grid.optimizer.lr.low: must be < high\n');
    assert.equal(existsSync(results), false, 'nothing written');
  });
});
