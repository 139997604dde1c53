/** The resource estimator (sweep/resources.ts) against the real model and trainer, and the worker bound. */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { initBackend } from '../src/flooding/backend.js';
import { ConfigError, resolveTaskConfig, type TaskConfigInput } from '../src/flooding/config.js';
import { makeDataset } from '../src/flooding/make-dataset.js';
import { Model } from '../src/flooding/model.js';
import { runTask } from '../src/flooding/trainer.js';
import { runSweep } from '../src/run.js';
import {
  checkMemory,
  estimateSweep,
  estimateTask,
  localMemoryBudget,
  MEMORY_OVERRIDE_FLAG,
  parameterCount,
  syntheticShape,
} from '../src/sweep/resources.js';
import { SpecError, validateSpec } from '../src/sweep/spec.js';
import { workerCount } from '../src/workflow/workers.js';

before(async () => {
  await initBackend('wasm');
});

const MiB = 2 ** 20;
const config = (input: TaskConfigInput) => resolveTaskConfig(input);

describe('estimateTask', () => {
  test('counts the parameters the model really has', () => {
    const cases: TaskConfigInput[] = [
      {},
      { model: { kind: 'mlp', depth: 2, width: 7, batchNorm: false } },
      { model: { kind: 'linear' }, dataset: { name: 'gaussian', dim: 5 } },
      { model: { kind: 'mlp', depth: 3, width: 11 }, dataset: { name: 'sinusoid', dim: 6 } },
    ];
    for (const input of cases) {
      const task = config(input);
      const data = makeDataset(task.dataset, 0);
      const model = Model.create(task.model, data.dim, data.numClasses, 0);
      const real = model.variables.reduce((sum, v) => sum + v.size, 0);
      model.dispose();
      assert.equal(parameterCount(task, syntheticShape(task.dataset)!), real, JSON.stringify(input));
    }
  });

  test('counts the evaluated epochs the trainer really stores', () => {
    for (const training of [
      { epochs: 6, evalEvery: 2 },
      { epochs: 7, evalEvery: 3 },
      { epochs: 1, evalEvery: 5 },
    ]) {
      const task = config({
        dataset: { name: 'sinusoid2d', nTrain: 16, nVal: 16, nTest: 16 },
        model: { kind: 'mlp', depth: 1, width: 4 },
        training: { ...training, batchSize: 8 },
      });
      assert.equal(estimateTask(task).evaluatedEpochs, runTask(task).epochs.length, JSON.stringify(training));
    }
  });

  test('grows with what takes memory: width, samples, optimizer state', () => {
    const base = estimateTask(config({}));
    assert.ok(base.memory.total > 100 * MiB && base.memory.total < 400 * MiB, `the paper's demo task: ${base.memory.total / MiB} MiB`);
    const wide = estimateTask(config({ model: { kind: 'mlp', width: 40_000 } }));
    assert.ok(wide.memory.model > 30 * 2 ** 30, 'a 40,000-wide MLP has over 30 GiB of weights');
    const many = estimateTask(config({ dataset: { name: 'sinusoid2d', nTest: 40_000_000 } }));
    assert.ok(many.memory.data > 1.5 * 2 ** 30 && many.memory.model === base.memory.model);
    const adam = estimateTask(config({ optimizer: { name: 'adam' } }));
    assert.ok(adam.memory.optimizer > base.memory.optimizer);
    assert.equal(base.epochSamples, 200 * 100);
  });

  test('a CSV task without its shape counts no data, and says so', () => {
    const task = config({ dataset: { name: 'csv', path: 'x.csv', labelColumn: 'y' } });
    assert.equal(estimateTask(task).dataKnown, false);
    const shaped = estimateTask(task, { features: 3, classes: 4, rows: { train: 60, val: 20, test: 20 } });
    assert.equal(shaped.dataKnown, true);
    assert.ok(shaped.memory.data > 0);
  });
});

describe('checkMemory', () => {
  const tasks = (input: TaskConfigInput) => [{ taskId: 'abc123', config: config(input) }];

  test('refuses the largest task when it does not fit its share, naming the task, the share and the override', () => {
    const sweep = estimateSweep([...tasks({}), { taskId: 'wide01', config: config({ model: { kind: 'mlp', width: 40_000 } }) }]);
    assert.equal(sweep.largest.taskId, 'wide01');
    assert.throws(
      () => checkMemory(sweep, localMemoryBudget(16 * 2 ** 30, 2)),
      (error: unknown) => {
        assert.ok(error instanceof SpecError && error instanceof ConfigError);
        assert.equal(error.problems.length, 1);
        assert.match(
          error.message,
          /task wide01 needs about .* GiB .*above the 8\.0 GiB it would get \(16\.0 GiB available memory \/ 2 workers\)/,
        );
        assert.ok(error.message.includes(MEMORY_OVERRIDE_FLAG));
        return true;
      },
    );
  });

  test('lets a task through that fits', () => {
    checkMemory(estimateSweep(tasks({})), localMemoryBudget(16 * 2 ** 30, 2));
  });

  test('sums the work over the tasks', () => {
    const sweep = estimateSweep([...tasks({ training: { epochs: 10 } }), { taskId: 'b', config: config({ training: { epochs: 30 } }) }]);
    assert.equal(sweep.epochs, 40);
    assert.equal(sweep.epochSamples, 40 * 100);
  });
});

describe('workerCount', () => {
  test('at most the tasks and the cores, unless oversubscribed; at least one', () => {
    assert.equal(workerCount({ requested: 48, tasks: 4, cores: 8 }), 4);
    assert.equal(workerCount({ requested: 48, tasks: 100, cores: 8 }), 8);
    assert.equal(workerCount({ requested: 48, tasks: 100, cores: 8, oversubscribe: true }), 48);
    assert.equal(workerCount({ requested: 48, tasks: 4, cores: 8, oversubscribe: true }), 4);
    assert.equal(workerCount({ tasks: 100, cores: 8 }), 8);
    assert.equal(workerCount({ tasks: 3, cores: 8 }), 3);
    assert.equal(workerCount({ requested: 2, tasks: 100, cores: 8 }), 2);
    assert.equal(workerCount({ tasks: 0, cores: 8 }), 1);
  });
});

describe('config bounds', () => {
  test('sizes far beyond any machine are refused by field', () => {
    for (const [input, field] of [
      [{ dataset: { name: 'sinusoid2d', nTest: 4e8 } }, 'dataset.nTest'],
      [{ model: { kind: 'mlp', width: 1e6 } }, 'model.width'],
      [{ training: { epochs: 1e6, evalEvery: 1 } }, 'training.epochs'],
    ] as const) {
      assert.throws(
        () => config(input as TaskConfigInput),
        (error: unknown) => error instanceof ConfigError && error.problems[0].startsWith(`${field}: `),
      );
    }
  });
});

describe('runSweep refuses a task that cannot fit before it starts anything', () => {
  const wide = validateSpec({ name: 'wide', model: { kind: 'mlp', width: 40_000 }, floodLevels: [0] });

  test('in the cloud: against the train function memory the stack reports', async () => {
    // No AWS endpoint exists here: the refusal must come before any call.
    const target = {
      stackName: 'Floodsweep',
      stateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:none',
      stores: { kind: 'aws' as const, table: 'none', bucket: 'none', region: 'us-east-1' },
      trainMemoryMb: 1769,
    };
    await assert.rejects(runSweep(wide, { cloud: { target } }), (error: unknown) => {
      assert.ok(error instanceof SpecError, String(error));
      assert.match(error.message, /above the 1\.7 GiB it would get \(the train function of stack Floodsweep\)/);
      return true;
    });
  });
});
