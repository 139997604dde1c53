/**
 * The training image's build check (Dockerfile): trains one epoch of a tiny flooded model through
 * the product's own trainer (forward passes, gradients, optimizer updates, evaluation) on the named
 * backend, and exits non-zero if anything throws or the weights did not move. `getBackend()` alone
 * runs no kernel: tfjs-node 4.22 loads on Node 24 and then fails in every op.
 *
 *   node check-training.mjs tfjs-node
 */
import { readEnvironment } from '../src/env.js';
import { initBackend, tf } from '../src/flooding/backend.js';
import { resolveTaskConfig } from '../src/flooding/config.js';
import { BACKENDS, type BackendName } from '../src/flooding/names.js';
import { TrainingRun } from '../src/flooding/trainer.js';

async function checkTraining(backend: BackendName): Promise<string> {
  await initBackend(backend, { wasmDir: readEnvironment().wasmDir });
  // A flood level and gradient clipping, so the check runs every kernel a real task's step does.
  const config = resolveTaskConfig({
    dataset: { name: 'sinusoid2d', nTrain: 64, nVal: 32, nTest: 64 },
    model: { kind: 'mlp', depth: 2, width: 16 },
    training: { epochs: 1, batchSize: 32, evalEvery: 1, clipNorm: 1 },
    floodLevel: 0.05,
  });
  const run = TrainingRun.start(config);
  try {
    run.trainEpoch();
    const [before, after] = run.result().epochs.map((row) => row.train.loss);
    if (!Number.isFinite(before) || !Number.isFinite(after) || before === after) {
      throw new Error(`training check: the train loss went from ${before} to ${after} in one epoch`);
    }
    return `training check passed: ${backend} (tfjs ${tf.version_core}), train loss ${before.toFixed(4)} -> ${after.toFixed(4)} after one epoch`;
  } finally {
    run.dispose();
  }
}

const backend = process.argv[2];
if (!BACKENDS.includes(backend as BackendName)) {
  console.error(`usage: node check-training.mjs <${BACKENDS.join('|')}>`);
  process.exit(2);
}
console.log(await checkTraining(backend as BackendName));
