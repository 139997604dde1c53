import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { DEFAULT_MAX_TASKS } from '../src/env.js';
import { ConfigError, configHash, resolveTaskConfig } from '../src/flooding/config.js';
import { loadSpecFile } from '../src/input-files.js';
import { planTasks } from '../src/planned-tasks.js';
import { describeSetting } from '../src/sweep/aggregate.js';
import { expandSpec } from '../src/sweep/expansion.js';
import { loadModelFiles } from '../src/sweep/model-files.js';
import { parseSpecText, SpecError, type SweepSpec, validateSpec } from '../src/sweep/spec.js';

const EXAMPLES_DIR = path.join(import.meta.dirname, '..', 'examples');
const FASHION_MNIST = '/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz';

/** A valid spec plus `overrides` (a key set to undefined is removed). */
function spec(overrides: Record<string, unknown> = {}): SweepSpec {
  return validateSpec({ name: 'test', floodLevels: [0, 0.1], ...overrides });
}

/** The problems `run` reports; fails if it does not throw a SpecError. */
function problemsOf(run: () => unknown): string[] {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof SpecError, `expected a SpecError, got ${String(error)}`);
    assert.equal(error.message, error.problems.join('\n'));
    for (const problem of error.problems) assert.ok(!problem.includes('\n'), `one line per problem: ${problem}`);
    return error.problems;
  }
  assert.fail('expected a SpecError');
}

const specProblems = (input: Record<string, unknown>) => problemsOf(() => validateSpec({ name: 'test', floodLevels: [0], ...input }));
const expansionProblems = (input: Record<string, unknown>) => problemsOf(() => expandSpec(spec(input)));

describe('validateSpec', () => {
  test('fills in the defaults and keeps the base as written', () => {
    const parsed = validateSpec({ name: 'defaults', floodLevels: [0.2], optimizer: { name: 'adam' } });
    assert.deepEqual(parsed, {
      name: 'defaults',
      optimizer: { name: 'adam' },
      floodLevels: [0.2],
      seeds: [0],
      grid: {},
      selection: { metric: 'val.acc', epoch: 'last' },
      execution: { maxConcurrency: 10 },
    });
  });

  test('is idempotent, so a stored spec validates to itself', () => {
    const parsed = spec({ floodLevels: { from: 0, to: 0.2, step: 0.1 }, grid: { 'optimizer.lr': [0.1, 0.01] }, seeds: [3, 1] });
    assert.deepEqual(validateSpec(JSON.parse(JSON.stringify(parsed))), parsed);
  });

  test('expands {from, to, step}, inclusive of `to`, without float noise', () => {
    const levels = (range: object) => spec({ floodLevels: range }).floodLevels;
    assert.deepEqual(levels({ from: 0, to: 0.35, step: 0.05 }), [0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35]);
    assert.deepEqual(levels({ from: 0.1, to: 0.3, step: 0.1 }), [0.1, 0.2, 0.3]);
    assert.deepEqual(levels({ from: 0, to: 0.25, step: 0.1 }), [0, 0.1, 0.2]);
    assert.deepEqual(levels({ from: 0.26, to: 0.28, step: 0.01 }), [0.26, 0.27, 0.28]);
    assert.deepEqual(levels({ from: 0.2, to: 0.2, step: 1 }), [0.2]);
  });

  test('names the field path of every problem, all at once, one line each', () => {
    const problems = problemsOf(() =>
      validateSpec({
        name: 'bad name!',
        colour: 'red',
        optimizer: { name: 'adam', lr: 0.001, momentum: 0.9 },
        floodLevels: [0, 0.1, -0.2, 0.1],
        seeds: [0, 1, 0],
        grid: { 'optimizer.lr': [], 'training.epochs': ['many'], 'optimizer.foo': [1] },
        selection: { metric: 'accuracy' },
        execution: { maxConcurrency: 0 },
      }),
    );
    const expected = [
      "name: must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit",
      'colour: unknown field',
      'optimizer.momentum: unknown field',
      'floodLevels[2]: must be >= 0',
      'floodLevels[3]: duplicate of floodLevels[1]',
      'seeds[2]: duplicate of seeds[0]',
      'grid.optimizer.lr: must not be empty; list at least one value',
      'grid.optimizer.foo: unknown field',
      'selection.metric: must be one of val.acc, val.cleanAcc, val.loss, val.cleanLoss',
      'execution.maxConcurrency: must be >= 1',
    ];
    assert.deepEqual([...problems].sort(), [...expected].sort());
  });

  test('reports required fields, wrong types and a non-object spec', () => {
    assert.deepEqual(
      problemsOf(() => validateSpec({})),
      [
        "name: required; 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit",
        'floodLevels: required; a list of flood levels (numbers >= 0) or {from, to, step}',
      ],
    );
    assert.deepEqual(specProblems({ name: 7, floodLevels: 'all', seeds: 'abc', dataset: 'spiral' }), [
      "name: must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit",
      'floodLevels: must be a list of flood levels (numbers >= 0) or {from, to, step}',
      'seeds: Invalid input: expected array, received string',
      'dataset: Invalid input: expected object, received string',
    ]);
    assert.deepEqual(specProblems({ seeds: [0.5, -1] }), [
      'seeds[0]: Invalid input: expected int, received number',
      'seeds[1]: must be >= 0',
    ]);
    assert.deepEqual(specProblems({ execution: { maxConcurrency: 1001 } }), ['execution.maxConcurrency: must be <= 1000']);
    assert.deepEqual(
      problemsOf(() => validateSpec([1, 2])),
      ['(root): must be an object with the sweep settings (name, floodLevels, seeds, grid, ...)'],
    );
  });

  test('reports empty axes', () => {
    assert.deepEqual(specProblems({ floodLevels: [], seeds: [], grid: { 'optimizer.lr': [] } }), [
      'floodLevels: must not be empty; list at least one flood level',
      'seeds: must not be empty; list at least one seed',
      'grid.optimizer.lr: must not be empty; list at least one value',
    ]);
  });

  test('reports a bad range', () => {
    assert.deepEqual(specProblems({ floodLevels: { from: 0.3, to: 0.1, step: 0 } }), [
      'floodLevels.step: must be >= 1e-10',
      'floodLevels.to: must be >= from',
    ]);
    assert.deepEqual(specProblems({ floodLevels: { from: -0.1, to: 0.1, step: 0.1, by: 2 } }), [
      'floodLevels.from: must be >= 0',
      'floodLevels.by: unknown field',
    ]);
    assert.match(
      specProblems({ floodLevels: { from: 0, to: 1, step: 1e-9 } })[0],
      /^floodLevels: \{from, to, step\} gives \d+ levels, above the limit/,
    );
  });

  test('refuses grid keys that are not task config fields, or that have their own axis', () => {
    assert.deepEqual(
      specProblems({ grid: { 'optimizer.foo.bar': [1], 'training.epochs.max': [1], floodLevel: [0.1], seed: [1], 'dataset.dim': [2] } }),
      [
        'grid.optimizer.foo.bar: unknown field',
        'grid.training.epochs.max: unknown field',
        'grid.floodLevel: not allowed in grid; list the values in floodLevels',
        'grid.seed: not allowed in grid; list the values in seeds',
      ],
    );
  });
});

describe('expandSpec', () => {
  test('without a grid: one group of flood levels x seeds, resolved with the task defaults', () => {
    const tasks = expandSpec(spec({ floodLevels: [0, 0.25], seeds: [7, 3] }));
    assert.deepEqual(
      tasks.map((task) => [task.config.floodLevel, task.config.seed]),
      [
        [0, 7],
        [0, 3],
        [0.25, 7],
        [0.25, 3],
      ],
    );
    assert.deepEqual(tasks[0].config, resolveTaskConfig({ floodLevel: 0, seed: 7 }));
    assert.equal(new Set(tasks.map((task) => task.group)).size, 1);
    assert.deepEqual(tasks[0].groupLabel, {});
  });

  test('task count = groups x flood levels x seeds, in a fixed order', () => {
    const sweep = spec({
      floodLevels: [0, 0.1, 0.2],
      seeds: [0, 1],
      grid: { 'optimizer.lr': [0.1, 0.01, 0.001], 'dataset.labelNoise': [0.1, 0.2] },
    });
    const tasks = expandSpec(sweep);
    assert.equal(tasks.length, 3 * 2 * 3 * 2);
    assert.equal(new Set(tasks.map((task) => task.taskId)).size, tasks.length);
    assert.equal(new Set(tasks.map((task) => task.group)).size, 6);
    // Groups outer (first grid key outermost), then flood level, then seed.
    const order = tasks.map((t) => [t.config.optimizer.lr, t.config.dataset.labelNoise, t.config.floodLevel, t.config.seed]);
    assert.deepEqual(order.slice(0, 7), [
      [0.1, 0.1, 0, 0],
      [0.1, 0.1, 0, 1],
      [0.1, 0.1, 0.1, 0],
      [0.1, 0.1, 0.1, 1],
      [0.1, 0.1, 0.2, 0],
      [0.1, 0.1, 0.2, 1],
      [0.1, 0.2, 0, 0],
    ]);
    assert.deepEqual(order.at(-1), [0.001, 0.2, 0.2, 1]);
    assert.deepEqual(tasks[6].groupLabel, { 'optimizer.lr': 0.1, 'dataset.labelNoise': 0.2 });
    assert.deepEqual(expandSpec(sweep), tasks);
  });

  test('ids are hashes of the resolved config; a group is everything but flood level and seed', () => {
    const tasks = expandSpec(spec({ floodLevels: [0, 0.1], seeds: [0, 1], grid: { 'optimizer.lr': [0.1, 0.01] } }));
    for (const task of tasks) assert.equal(task.taskId, configHash(task.config));
    assert.match(tasks[0].group, /^[0-9a-f]{12}$/);
    const [first, , otherLevel] = tasks;
    assert.equal(otherLevel.config.floodLevel, 0.1);
    assert.equal(otherLevel.group, first.group);
    assert.notEqual(otherLevel.taskId, first.taskId);
    assert.notEqual(tasks[4].group, first.group);
    // The same config written differently (defaults spelled out) gets the same ids and groups.
    const explicit = expandSpec(
      spec({
        floodLevels: [0, 0.1],
        seeds: [0, 1],
        optimizer: { name: 'sgd', lr: 0.5, momentum: 0.9, weightDecay: 0 },
        grid: { 'optimizer.lr': [0.1, 0.01] },
      }),
    );
    assert.deepEqual(
      explicit.map((task) => [task.taskId, task.group]),
      tasks.map((task) => [task.taskId, task.group]),
    );
  });

  test('a grid path sets one field and keeps the rest of the base section', () => {
    const tasks = expandSpec(spec({ floodLevels: [0], optimizer: { name: 'sgd', momentum: 0.5 }, grid: { 'optimizer.lr': [0.2] } }));
    assert.deepEqual(tasks[0].config.optimizer, { name: 'sgd', lr: 0.2, momentum: 0.5, weightDecay: 0 });
    // Into a section the base leaves out: the section's default variant.
    const [task] = expandSpec(spec({ floodLevels: [0], grid: { 'model.width': [8] } }));
    assert.deepEqual(task.config.model, { kind: 'mlp', depth: 4, width: 8, batchNorm: true });
    // A variant key switches variants; the new one gets its own defaults.
    const byOptimizer = expandSpec(spec({ floodLevels: [0], grid: { 'optimizer.name': ['sgd', 'adam'] } }));
    assert.deepEqual(
      byOptimizer.map((t) => [t.config.optimizer.name, t.config.optimizer.lr]),
      [
        ['sgd', 0.01],
        ['adam', 0.001],
      ],
    );
  });

  test('a whole section in the grid replaces the base section; nested paths refine it', () => {
    const tasks = expandSpec(
      spec({
        floodLevels: [0],
        dataset: { name: 'sinusoid2d', nTrain: 50 },
        // The nested key comes first but applies after the whole section.
        grid: { 'dataset.labelNoise': [0.2], dataset: [{ name: 'sinusoid2d' }, { name: 'spiral', inputNoise: 0.5 }] },
      }),
    );
    assert.deepEqual(
      tasks.map((task) => task.config.dataset),
      [
        { name: 'sinusoid2d', labelNoise: 0.2, nTrain: 100, nVal: 100, nTest: 20000 },
        { name: 'spiral', inputNoise: 0.5, labelNoise: 0.2, nTrain: 100, nVal: 100, nTest: 20000 },
      ],
    );
    assert.deepEqual(tasks[1].groupLabel, { 'dataset.labelNoise': 0.2, dataset: { name: 'spiral', inputNoise: 0.5 } });
  });

  test('names the grid value behind each problem of the expanded configs, all at once', () => {
    const problems = expansionProblems({
      optimizer: { name: 'sgd', momentum: 0.5 },
      grid: {
        'optimizer.name': ['sgd', 'adam'],
        'optimizer.lr': [0.1, -1],
        dataset: [{ name: 'spiral', labelNoise: 0.7 }, { name: 'sinusoid2d' }, { name: 'sinusoid2d', labelNoise: 0.1 }],
      },
    });
    assert.deepEqual(problems, [
      'grid.dataset[0].labelNoise: must be < 0.5',
      'grid.dataset[2]: gives the same task configs as grid.dataset[1]',
      'grid.optimizer.lr[1]: must be > 0',
      'optimizer.momentum: unknown field (with grid.optimizer.name[1] = "adam")',
    ]);
  });

  test('a grid field that the chosen variant lacks names the grid key', () => {
    assert.deepEqual(expansionProblems({ grid: { 'dataset.name': ['gaussian', 'spiral'], 'dataset.dim': [5, 10] } }), [
      'grid.dataset.dim: unknown field (with grid.dataset.name[1] = "spiral")',
    ]);
  });

  test(`refuses more than ${DEFAULT_MAX_TASKS} tasks unless maxTasks raises the limit`, () => {
    const overLimit = {
      floodLevels: { from: 0, to: 1, step: 0.01 },
      seeds: Array.from({ length: 100 }, (_, i) => i),
      grid: { 'optimizer.lr': [-1] },
    };
    assert.deepEqual(
      problemsOf(() => expandSpec(spec(overLimit))),
      ['the sweep expands to 10100 tasks, above the limit of 10000; raise it with --max-tasks'],
    );
    // Past the raised limit, expansion goes on to the configs (invalid here, so no 10,100 tasks are built).
    assert.deepEqual(
      problemsOf(() => expandSpec(spec(overLimit), { maxTasks: 20_000 })),
      ['grid.optimizer.lr[0]: must be > 0'],
    );
    const small = spec({ floodLevels: [0, 0.1], seeds: [0, 1] });
    assert.deepEqual(
      problemsOf(() => expandSpec(small, { maxTasks: 3 })),
      ['the sweep expands to 4 tasks, above the limit of 3; raise it with --max-tasks'],
    );
    assert.equal(expandSpec(small, { maxTasks: 4 }).length, 4);
  });

  test('SpecError is a ConfigError, so the CLI treats it as bad input', () => {
    assert.ok(new SpecError(['x: y']) instanceof ConfigError);
  });
});

describe('parseSpecText', () => {
  const yaml = [
    'name: yaml-sweep',
    'optimizer: {name: sgd, lr: 0.05}',
    'floodLevels: {from: 0, to: 0.1, step: 0.05}',
    'seeds: [0, 1]',
    'grid:',
    '  dataset.labelNoise: [0.1, 0.2]',
    'selection:',
    '  metric: val.cleanAcc',
  ].join('\n');
  const json = JSON.stringify({
    name: 'yaml-sweep',
    optimizer: { name: 'sgd', lr: 0.05 },
    floodLevels: { from: 0, to: 0.1, step: 0.05 },
    seeds: [0, 1],
    grid: { 'dataset.labelNoise': [0.1, 0.2] },
    selection: { metric: 'val.cleanAcc' },
  });

  test('reads YAML from .yaml and .yml sources, and JSON otherwise', () => {
    const fromJson = parseSpecText(json, 'sweep.json');
    assert.deepEqual(parseSpecText(yaml, 'sweep.yaml'), fromJson);
    assert.deepEqual(parseSpecText(yaml, 'dir/Sweep.YML'), fromJson);
    assert.deepEqual(fromJson.floodLevels, [0, 0.05, 0.1]);
    assert.equal(expandSpec(fromJson).length, 2 * 3 * 2);
  });

  test('names the source and line of a syntax error', () => {
    // The position is the first character that cannot continue the JSON text.
    const jsonProblem = (text: string) => {
      const problems = problemsOf(() => parseSpecText(text, 'bad.json'));
      assert.equal(problems.length, 1);
      return /^bad\.json:(\d+):(\d+): invalid JSON: \S/.exec(problems[0])?.slice(1, 3);
    };
    assert.deepEqual(jsonProblem('{\n  "name": "x",\n  "floodLevels": [0,]\n}'), ['3', '21']);
    assert.deepEqual(jsonProblem('{\n  "name": "x",\n  "seeds": [0] "grid": {}\n}'), ['3', '16']);
    assert.deepEqual(jsonProblem('{\n  "seeds": [0],\n  "name": "x\ny"\n}'), ['3', '11']);
    assert.deepEqual(jsonProblem('{"name": "x",\n'), ['2', '1']);
    assert.deepEqual(
      problemsOf(() => parseSpecText('name: x\nfloodLevels: [0, 1\nseeds: [1]\n', 'bad.yaml')),
      ['bad.yaml:3:1: invalid YAML: Flow sequence in block collection must be sufficiently indented and end with a ]'],
    );
    assert.deepEqual(
      problemsOf(() => parseSpecText('name: x\nname: y\n', 'twice.yml')),
      ['twice.yml:2:1: invalid YAML: Map keys must be unique'],
    );
  });

  test('refuses duplicate keys and deep nesting by position, quoting no content', () => {
    assert.deepEqual(
      problemsOf(() => parseSpecText('{"name": "x",\n "seeds": [0],\n "name": "y"}', 'a.json')),
      ['a.json:3:2: invalid JSON: duplicate key "name"'],
    );
    const deep = `{"name": "x", "floodLevels": [0], "grid": {"dataset": [${'['.repeat(70)}${']'.repeat(70)}]}}`;
    assert.deepEqual(
      problemsOf(() => parseSpecText(deep, 'a.json')),
      ['a.json:1:117: invalid JSON: nested deeper than 64 levels'],
    );
    const yamlDeep = `name: x\nfloodLevels: [0]\ngrid:\n  dataset: ${'['.repeat(70)}${']'.repeat(70)}\n`;
    assert.deepEqual(
      problemsOf(() => parseSpecText(yamlDeep, 'a.yaml')),
      ['a.yaml:4:74: invalid YAML: nested deeper than 64 levels'],
    );
    const secret = problemsOf(() => parseSpecText('{"name": "x", "token": "s3cr3t" "more": 1}', 'a.json'));
    assert.deepEqual(secret, ["a.json:1:33: invalid JSON: expected ',' or '}'"]);
  });

  test('refuses a range whose levels merge once rounded, and never goes past `to`', () => {
    assert.match(
      problemsOf(() => validateSpec({ name: 'x', floodLevels: { from: 1e6, to: 1e6 + 1e-6, step: 1e-10 } }))[0],
      /^floodLevels: \{from, to, step\} gives levels \d+ and \d+ that are both .* once rounded to 10 decimals; use a larger step$/,
    );
    assert.deepEqual((validateSpec({ name: 'x', floodLevels: { from: 0, to: 1e-9, step: 1e-10 } }).floodLevels as number[]).at(-1), 1e-9);
    assert.equal((validateSpec({ name: 'x', floodLevels: { from: 0, to: 1e-9, step: 1e-10 } }).floodLevels as number[]).length, 11);
  });

  test('validates what it parsed', () => {
    assert.deepEqual(
      problemsOf(() => parseSpecText('name: x\nfloodLevels: [0.1, -1]\n', 'sweep.yaml')),
      ['floodLevels[1]: must be >= 0'],
    );
  });
});

describe('examples', () => {
  const example = (name: string) => {
    const file = path.join(EXAMPLES_DIR, name);
    return parseSpecText(fs.readFileSync(file, 'utf8'), file);
  };

  test('every example validates and expands', () => {
    const counts = Object.fromEntries(
      fs
        .readdirSync(EXAMPLES_DIR)
        .filter((file) => file.endsWith('.json') && !file.startsWith('fashion-mnist'))
        .map((file) => [file, expandSpec(example(file)).length]),
    );
    assert.deepEqual(counts, {
      'demo-adam.json': 4,
      'demo-sgd.json': 4,
      'paper-synthetic.json': 120,
      'pinned-small.json': 4,
      'random-search.json': 32,
      'tiny.json': 4,
    });
  });

  test('the Fashion-MNIST examples validate and expand with their data and model files', {
    skip: fs.existsSync(FASHION_MNIST) ? false : 'needs dataset-fashion-mnist',
  }, async () => {
    const counts: Record<string, number> = {};
    for (const name of ['fashion-mnist-mlp.json', 'fashion-mnist-cnn.json']) {
      const tasks = planTasks(loadSpecFile(path.join(EXAMPLES_DIR, name)));
      await loadModelFiles(tasks);
      counts[name] = tasks.length;
    }
    assert.deepEqual(counts, { 'fashion-mnist-mlp.json': 30, 'fashion-mnist-cnn.json': 15 });
  });

  test("the demo examples are the original demo's two settings", () => {
    const [sgd] = expandSpec(example('demo-sgd.json'));
    assert.deepEqual(sgd.config, {
      dataset: { name: 'sinusoid2d', labelNoise: 0.1, nTrain: 100, nVal: 100, nTest: 20000 },
      model: { kind: 'mlp', depth: 4, width: 500, batchNorm: true },
      optimizer: { name: 'sgd', lr: 0.01, momentum: 0.9, weightDecay: 0 },
      training: { epochs: 200, batchSize: 200, evalEvery: 5, clipNorm: null },
      floodLevel: 0,
      seed: 0,
    });
    assert.deepEqual(example('demo-sgd.json').floodLevels, [0, 0.26, 0.27, 0.28]);
    assert.deepEqual(example('demo-sgd.json').selection, { metric: 'val.cleanAcc', epoch: 'last' });
    const adam = example('demo-adam.json');
    assert.deepEqual(adam.floodLevels, [0, 0.24, 0.25, 0.26]);
    assert.deepEqual(expandSpec(adam)[0].config.optimizer, {
      name: 'adam',
      lr: 0.001,
      weightDecay: 0,
      beta1: 0.9,
      beta2: 0.999,
      epsilon: 1e-8,
    });
  });

  test('paper-synthetic: three datasets x 8 flood levels x 5 seeds', () => {
    const paper = example('paper-synthetic.json');
    assert.deepEqual(paper.floodLevels, [0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35]);
    assert.equal(paper.execution.maxConcurrency, 50);
    const tasks = expandSpec(paper);
    const groups = [...new Map(tasks.map((task) => [task.group, task.config.dataset])).values()];
    assert.deepEqual(
      groups.map((dataset) => [dataset.name, dataset.labelNoise]),
      [
        ['sinusoid2d', 0.1],
        ['spiral', 0.1],
        ['gaussian', 0.1],
      ],
    );
  });
});

test('a group is described in one line by its setting', () => {
  assert.equal(describeSetting({}), 'base');
  assert.equal(
    describeSetting({ 'optimizer.lr': 0.01, 'optimizer.name': 'adam', 'model.batchNorm': false }),
    'optimizer.lr=0.01, optimizer.name=adam, model.batchNorm=false',
  );
});

describe('parsing stays iterative on any size', () => {
  test('a string of 10 million characters (a name, a grid value) is one problem naming the field, not a stack overflow', () => {
    const huge = 'x'.repeat(10_000_000);
    const cases: Array<[unknown, RegExp]> = [
      [{ name: huge, floodLevels: [0] }, /^name: must be 1-64 letters/],
      [{ name: 'n', floodLevels: [0], grid: { 'optimizer.name': [huge] } }, /^grid\.optimizer\.name\[0\]: must be one of sgd, adam$/],
    ];
    for (const [spec, message] of cases) {
      assert.throws(
        () => expandSpec(parseSpecText(JSON.stringify(spec), 'huge.json')),
        (error: unknown) => {
          assert.ok(error instanceof SpecError, String(error));
          assert.equal(error.problems.length, 1, error.problems.join('\n').slice(0, 500));
          assert.match(error.problems[0], message);
          assert.ok(error.problems[0].length < 400, 'the line does not quote the string');
          return true;
        },
      );
    }
  });

  test('flood levels and real-valued fields beyond float32 are refused by name', () => {
    assert.throws(
      () => validateSpec({ name: 'n', floodLevels: [0, 1e39] }),
      /floodLevels\[1\]: must be at most 3\.4e38 \(float32, which training uses\)/,
    );
    assert.throws(() => resolveTaskConfig({ optimizer: { name: 'sgd', lr: 1e-50 } }), /optimizer\.lr: must be 0 or at least 1\.2e-38/);
  });
});
