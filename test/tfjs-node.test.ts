/**
 * The tfjs-node backend, wherever @tensorflow/tfjs-node is installed with its addon (skipped, and
 * saying so, where it is not): the addon as users download it, unmodified. Deterministic on its
 * own, close to wasm on the demo's setting, crash-free in sweeps of many workers (each a process:
 * the addon is not thread-safe), and a checkpoint never silently changes backend.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { initBackend } from '../src/flooding/backend.js';
import { CheckpointError } from '../src/flooding/checkpoint.js';
import { resolveTaskConfig } from '../src/flooding/config.js';
import { SPLITS } from '../src/flooding/metrics.js';
import { runTask, TrainingRun } from '../src/flooding/trainer.js';
import { runSweep } from '../src/run.js';
import { LocalMetricsStore } from '../src/store/local.js';
import { toleranceSchema } from '../src/sweep/repro.js';
import { validateSpec } from '../src/sweep/spec.js';
import { smallConfig, timelessResult } from './helpers.js';
import { tfjsNodeInstalled } from './tfjs-node-installed.js';

const skip = !tfjsNodeInstalled && '@tensorflow/tfjs-node is not installed here (.ci/run installs it)';

const scratch = mkdtempSync(join(tmpdir(), 'floodsweep-tfjs-node-test-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** The demo's setting (examples/demo-sgd.json) at its chosen flood level, with the quick demo's 2,000 test samples, evaluated at the end. */
const demoTask = (seed: number) =>
  resolveTaskConfig({
    dataset: { name: 'sinusoid2d', labelNoise: 0.1, nTrain: 100, nVal: 100, nTest: 2000 },
    model: { kind: 'mlp' },
    optimizer: { name: 'sgd', lr: 0.01, momentum: 0.9 },
    training: { epochs: 200, batchSize: 200, evalEvery: 200 },
    floodLevel: 0.26,
    seed,
  });

describe('tfjs-node', { skip, concurrency: 1 }, () => {
  after(async () => {
    await initBackend('wasm');
  });

  test('the same config gives the same numbers, bit for bit', async () => {
    await initBackend('tfjs-node');
    const config = smallConfig({ training: { epochs: 6 }, floodLevel: 0.3 });
    const first = timelessResult(runTask(config));
    assert.notEqual(first.epochs.at(-1)!.train.loss, first.epochs[0].train.loss, 'test assumption: the model trained');
    assert.deepStrictEqual(timelessResult(runTask(config)), first);
  });

  test("agrees with wasm on the demo's setting over 5 seeds, within the cross-backend tolerances of reproducibility runs", async () => {
    const { crossBackend } = toleranceSchema.parse({});
    const onBackend = async (backend: 'tfjs-node' | 'wasm') => {
      await initBackend(backend);
      return [0, 1, 2, 3, 4].map((seed) => runTask(demoTask(seed)).final);
    };
    const native = await onBackend('tfjs-node');
    const wasm = await onBackend('wasm');
    native.forEach((final, seed) => {
      for (const split of SPLITS) {
        for (const metric of ['acc', 'cleanAcc', 'loss', 'cleanLoss'] as const) {
          const tolerance = metric.endsWith('cc') ? crossBackend.acc : crossBackend.loss;
          const [a, b] = [final[split][metric], wasm[seed][split][metric]];
          assert.ok(
            Math.abs(a - b) <= tolerance,
            `seed ${seed} ${split}.${metric}: ${a} (tfjs-node) vs ${b} (wasm), tolerance ${tolerance}`,
          );
        }
      }
    });
  });

  test('a checkpoint written on one backend is refused, naming both, by a run on the other', async () => {
    const config = smallConfig({ training: { epochs: 4 } });
    for (const [writer, reader] of [
      ['tfjs-node', 'wasm'],
      ['wasm', 'tfjs-node'],
    ] as const) {
      await initBackend(writer);
      const run = TrainingRun.start(config);
      run.trainEpoch();
      const bytes = run.checkpoint();
      run.dispose();
      await initBackend(reader);
      assert.throws(
        () => TrainingRun.resume(config, bytes),
        (error: unknown) => {
          assert.ok(error instanceof CheckpointError, String(error));
          assert.equal(
            error.message,
            `checkpoint was written on the ${writer} backend and this run trains on ${reader}; resume with --backend ${writer}, or retrain the task from scratch with --restart-task`,
          );
          return true;
        },
      );
      await initBackend(writer);
      TrainingRun.resume(config, bytes).dispose();
    }
  });

  test('a sweep on 4 worker processes, run 10 times: it never crashes and always gives the same numbers', async () => {
    const spec = validateSpec({
      name: 'tfjs-node-workers',
      dataset: { name: 'sinusoid2d', nTrain: 64, nVal: 32, nTest: 256 },
      model: { kind: 'mlp', depth: 2, width: 32 },
      training: { epochs: 10, batchSize: 16, evalEvery: 5 },
      floodLevels: [0, 0.1, 0.2, 0.3],
      seeds: [0, 1],
    });
    let first: unknown;
    for (let run = 0; run < 10; run++) {
      const rootDir = join(scratch, `workers-${run}`);
      let where: string | undefined;
      const { sweepId, summary } = await runSweep(spec, {
        stores: { kind: 'local', rootDir },
        backend: 'tfjs-node',
        workers: 4,
        oversubscribe: true,
        onEvent: (event) => {
          if (event.type === 'started') where = `${event.where} x ${event.workers}`;
        },
      });
      assert.match(where ?? '', /^tfjs-node \(libtensorflow \d+\.\d+\.\d+\) x 4$/);
      assert.equal(summary.status, 'SUCCEEDED', `run ${run + 1}`);
      const tasks = await new LocalMetricsStore(rootDir).listTasks(sweepId);
      assert.equal(
        tasks.reduce((calls, task) => calls + task.attempts, 0),
        8,
        `run ${run + 1}: every task trained in one Train call (no worker died)`,
      );
      const numbers = Object.fromEntries(tasks.map((task) => [task.taskId, task.final]));
      first ??= numbers;
      assert.deepStrictEqual(numbers, first, `run ${run + 1}`);
    }
  });
});
