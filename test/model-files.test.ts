/**
 * Models from a file (a TensorFlow.js Layers topology): trained by floodsweep's trainer with the
 * same numbers as the built-in MLP of the same shape, refused before anything runs when the file
 * is not a topology, does not fit the data, or has a layer the backend cannot train. The CNN runs
 * on tfjs-node (skipped where tfjs-node is not installed, as on a fresh clone).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { initBackend, tf } from '../src/flooding/backend.js';
import { resolveTaskConfig, type TaskConfigInput } from '../src/flooding/config.js';
import { loadNetworkTemplate } from '../src/flooding/layers-network.js';
import { runTask, TrainingRun } from '../src/flooding/trainer.js';
import { planTasks } from '../src/planned-tasks.js';
import { loadModelFiles } from '../src/sweep/model-files.js';
import { estimateTask } from '../src/sweep/resources.js';
import { validateSpec } from '../src/sweep/spec.js';
import { floodsweep, show } from './cli-helpers.js';
import { trainToEnd, withoutSeconds } from './helpers.js';

const EXAMPLES = fileURLToPath(new URL('../examples/', import.meta.url));
const FASHION = '/usr/share/datasets/fashion-mnist';
const hasFashion = existsSync(join(FASHION, 't10k-images-idx3-ubyte.gz'));
const tfjsNodeInstalled = (() => {
  try {
    const main = createRequire(import.meta.url).resolve('@tensorflow/tfjs-node');
    return existsSync(join(dirname(main), 'napi-v8', 'tfjs_binding.node'));
  } catch {
    return false;
  }
})();

const dir = mkdtempSync(join(tmpdir(), 'floodsweep-models-'));
after(() => rmSync(dir, { recursive: true, force: true }));

before(async () => {
  await initBackend('wasm');
});

/** Writes a model built with tfjs' layers API as model.save writes model.json (topology only). */
function saveTopology(name: string, model: tf.LayersModel): string {
  const path = join(dir, `${name}.json`);
  writeFileSync(path, JSON.stringify({ format: 'layers-model', modelTopology: model.toJSON(null, false) }));
  model.dispose();
  return path;
}

/** The built-in MLP without batch norm (Dense + ReLU, `depth` times, then a Dense output), as a Layers file. */
function mlpFile(name: string, inputs: number, width: number, depth: number, classes: number, outputActivation: 'linear' | 'softmax') {
  const layers = [
    ...Array.from({ length: depth }, (_, i) =>
      tf.layers.dense({ units: width, activation: 'relu', ...(i === 0 ? { inputShape: [inputs] } : {}) }),
    ),
    tf.layers.dense({ units: classes, activation: outputActivation }),
  ];
  return saveTopology(name, tf.sequential({ layers }));
}

const base = (model: TaskConfigInput['model'], extra: Partial<TaskConfigInput> = {}): TaskConfigInput => ({
  dataset: { name: 'gaussian', dim: 6, nTrain: 96, nVal: 40, nTest: 40, labelNoise: 0.2 },
  model,
  optimizer: { name: 'adam', lr: 0.01 },
  training: { epochs: 6, batchSize: 32, evalEvery: 2 },
  floodLevel: 0.3,
  seed: 7,
  ...extra,
});

async function layersConfig(input: TaskConfigInput) {
  const config = resolveTaskConfig(input);
  await loadModelFiles([{ config }]);
  return config;
}

describe('a model file trains like a built-in model', () => {
  test('the same numbers as the built-in MLP of the same shape (weights from the seed, flooding, Adam)', async () => {
    const path = mlpFile('mlp', 6, 24, 2, 2, 'softmax');
    const fromFile = runTask(await layersConfig(base({ kind: 'layers', path })));
    const builtIn = runTask(resolveTaskConfig(base({ kind: 'mlp', depth: 2, width: 24, batchNorm: false })));
    assert.deepEqual(withoutSeconds(fromFile.epochs), withoutSeconds(builtIn.epochs));
    assert.ok(fromFile.final.train.loss < fromFile.epochs[0].train.loss, 'it learns');
    assert.ok(fromFile.epochs.some((row) => row.floodedFraction > 0) || fromFile.final.train.loss > 0.3, 'the flood level is in play');
  });

  test('per-sample flooding, SGD with momentum, clipping and a checkpoint resumed bit for bit', async () => {
    const path = mlpFile('mlp-sgd', 6, 16, 1, 2, 'linear');
    const config = await layersConfig(
      base(
        { kind: 'layers', path },
        {
          optimizer: { name: 'sgd', lr: 0.05, momentum: 0.9 },
          training: { epochs: 6, batchSize: 16, evalEvery: 1, clipNorm: 1, flooding: 'sample' },
        },
      ),
    );
    const whole = runTask(config);
    const first = TrainingRun.start(config);
    for (let i = 0; i < 3; i++) first.trainEpoch();
    const bytes = first.checkpoint();
    first.dispose();
    const resumed = TrainingRun.resume(config, bytes);
    const rows = trainToEnd(resumed);
    resumed.dispose();
    assert.deepEqual(withoutSeconds(rows), withoutSeconds(whole.epochs));
  });

  test("the file's content is part of the task id; parameters and activations are counted", async () => {
    const path = mlpFile('mlp-id', 6, 8, 1, 2, 'linear');
    const spec = (file: string) =>
      validateSpec({
        name: 'ids',
        dataset: base({ kind: 'mlp' }).dataset,
        model: { kind: 'layers', path: file },
        floodLevels: [0],
        seeds: [0],
      });
    const [before] = planTasks(spec(path));
    const other = mlpFile('mlp-id-wider', 6, 9, 1, 2, 'linear');
    const [after] = planTasks(spec(other));
    assert.match((before.config.model as { sha256: string }).sha256, /^[0-9a-f]{64}$/);
    assert.notEqual(before.taskId, after.taskId);
    await loadModelFiles([before]);
    const estimate = estimateTask(before.config);
    assert.equal(estimate.parameters, 6 * 8 + 8 + 8 * 2 + 2);
    assert.ok(estimate.memory.activations > 0);
  });
});

describe('model files refused before anything runs (exit 2, one line)', () => {
  const CASES: Array<{ name: string; model: () => string; message: RegExp; args?: string[] }> = [
    {
      name: 'not JSON',
      model: () => {
        writeFileSync(join(dir, 'weights.bin'), Buffer.from([0, 1, 2, 250, 251]));
        return join(dir, 'weights.bin');
      },
      message: /^model\.path: "[^"]*weights\.bin" is not a TensorFlow\.js Layers topology \(.*\): not JSON$/,
    },
    {
      name: 'JSON that is not a topology',
      model: () => {
        writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'secret-content', version: '1.0.0' }));
        return join(dir, 'package.json');
      },
      message: /^model\.path: "[^"]*package\.json" is not a TensorFlow\.js Layers topology/,
    },
    {
      name: 'an input shape that does not fit the data',
      model: () => mlpFile('wrong-input', 10, 8, 1, 2, 'linear'),
      message:
        /^model\.path: "[^"]*wrong-input\.json" takes inputs of shape \[10\] \(10 values per sample\); the dataset's samples have 6$/,
    },
    {
      name: 'an output width that does not fit the classes',
      model: () => mlpFile('wrong-output', 6, 8, 1, 5, 'softmax'),
      message: /^model\.path: "[^"]*wrong-output\.json" outputs 5 values per sample; the dataset has 2 classes$/,
    },
    {
      name: 'an unknown layer class',
      model: () => {
        const path = mlpFile('unknown-layer', 6, 8, 1, 2, 'linear');
        const json = JSON.parse(readFileSync(path, 'utf8'));
        json.modelTopology.config.layers[0].class_name = 'NoSuchLayer';
        writeFileSync(path, JSON.stringify(json));
        return path;
      },
      message: /^model\.path: "[^"]*unknown-layer\.json": TensorFlow\.js cannot build it: ".*NoSuchLayer.*"$/,
    },
    {
      name: 'a convolution on wasm (no gradient kernels)',
      model: () =>
        saveTopology(
          'conv',
          tf.sequential({
            layers: [
              tf.layers.reshape({ inputShape: [6], targetShape: [3, 2, 1] }),
              tf.layers.conv2d({ filters: 2, kernelSize: 2, name: 'my_conv' }),
              tf.layers.flatten(),
              tf.layers.dense({ units: 2 }),
            ],
          }),
        ),
      args: ['sweep', 'run', '--backend', 'wasm', '--workers', '1'],
      message:
        /^model\.path: "[^"]*conv\.json": layer "my_conv" \(Conv2D\) needs the kernel Conv2DBackpropFilter, which the wasm backend lacks; it trains on tfjs-node or cpu \(--backend\)$/,
    },
  ];
  for (const { name, model, message, args } of CASES) {
    test(name, async () => {
      const specPath = join(dir, `spec-${name.replaceAll(' ', '-')}.json`);
      const results = join(dir, `results-${name.replaceAll(' ', '-')}`);
      const spec = {
        name: 'refused',
        dataset: base({ kind: 'mlp' }).dataset,
        model: { kind: 'layers', path: model() },
        floodLevels: [0],
        seeds: [0],
      };
      writeFileSync(specPath, JSON.stringify(spec));
      const command = args ? [...args, specPath, '--results', results] : ['sweep', 'validate', specPath];
      const result = await floodsweep(command);
      assert.equal(result.code, 2, show(result));
      const lines = result.stderr.trimEnd().split('\n');
      assert.equal(lines.length, 1, show(result));
      assert.match(lines[0].replace(/^floodsweep: /, ''), message, show(result));
      assert.doesNotMatch(result.stderr, /secret-content/);
      assert.equal(existsSync(results), false, 'nothing written');
    });
  }
});

describe('the paper benchmark examples', () => {
  test('the CNN example trains on a Fashion-MNIST subset through `sweep run` on tfjs-node', {
    skip: !hasFashion || !tfjsNodeInstalled ? 'needs tfjs-node and dataset-fashion-mnist' : false,
  }, async () => {
    const spec = {
      name: 'cnn-subset',
      dataset: {
        name: 'idx',
        inputs: join(FASHION, 't10k-images-idx3-ubyte.gz'),
        labels: join(FASHION, 't10k-labels-idx1-ubyte.gz'),
        samples: 600,
      },
      model: { kind: 'layers', path: join(EXAMPLES, 'models/fashion-cnn.json') },
      optimizer: { name: 'adam', lr: 0.001 },
      training: { epochs: 2, batchSize: 60, evalEvery: 1 },
      floodLevels: [0, 0.3],
      seeds: [0],
    };
    const specPath = join(dir, 'cnn.json');
    writeFileSync(specPath, JSON.stringify(spec));
    const result = await floodsweep([
      'sweep',
      'run',
      specPath,
      '--results',
      join(dir, 'cnn-results'),
      '--backend',
      'tfjs-node',
      '--workers',
      '1',
      '--json',
    ]);
    assert.equal(result.code, 0, show(result));
    assert.match(result.stderr + result.stdout, /SUCCEEDED/);
  });

  test('`sweep run` trains a model file on an .npz file (wasm)', async () => {
    const model = mlpFile('npz-mlp', 4, 16, 1, 4, 'softmax');
    const spec = {
      name: 'npz-model',
      dataset: { name: 'npz', path: fileURLToPath(new URL('./fixtures/arrays/blobs.npz', import.meta.url)) },
      model: { kind: 'layers', path: model },
      training: { epochs: 4, batchSize: 16, evalEvery: 2, flooding: 'sample' },
      floodLevels: [0, 0.2],
      seeds: [0],
    };
    const specPath = join(dir, 'npz.json');
    writeFileSync(specPath, JSON.stringify(spec));
    const result = await floodsweep([
      'sweep',
      'run',
      specPath,
      '--results',
      join(dir, 'npz-results'),
      '--backend',
      'wasm',
      '--workers',
      '1',
    ]);
    assert.equal(result.code, 0, show(result));
    assert.match(result.stdout, /SUCCEEDED · 2\/2 tasks succeeded · backend wasm/);
  });

  test('the MLP example file is the built-in shape: 784 -> 500 -> 500 -> 10', async () => {
    const template = await loadNetworkTemplate({ kind: 'layers', path: join(EXAMPLES, 'models/fashion-mlp.json') });
    assert.deepEqual(template.inputShape, [28, 28]);
    assert.equal(template.outputWidth, 10);
    assert.equal(template.parameters, 784 * 500 + 500 + 500 * 500 + 500 + 500 * 10 + 10);
  });
});
