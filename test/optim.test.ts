import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { initBackend, tf } from '../src/flooding/backend.js';
import { resolveTaskConfig } from '../src/flooding/config.js';
import { createOptimizer } from '../src/flooding/optim.js';

before(async () => {
  await initBackend('wasm');
});

/** Deterministic values in [-1, 1) (an LCG). */
function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let state = seed >>> 0;
  for (let i = 0; i < n; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    out[i] = state / 2 ** 31 - 1;
  }
  return out;
}

/** The update rules of PyTorch's SGD and Adam, written op by op with tf ops, independently of src/flooding/optim.ts. */
function referenceSteps(optimizer: Record<string, number | string>, start: Float32Array, grads: Float32Array[]): Float32Array {
  return tf.tidy(() => {
    const config = resolveTaskConfig({ optimizer }).optimizer;
    let w: tf.Tensor = tf.tensor(start);
    let first: tf.Tensor = tf.zerosLike(w);
    let second: tf.Tensor = tf.zerosLike(w);
    grads.forEach((values, step) => {
      let g: tf.Tensor = tf.tensor(values);
      if (config.weightDecay > 0) g = g.add(w.mul(config.weightDecay));
      if (config.name === 'sgd') {
        if (config.momentum > 0) {
          first = first.mul(config.momentum).add(g);
          g = first;
        }
        w = w.sub(g.mul(config.lr));
      } else {
        const count = step + 1;
        first = first.mul(config.beta1).add(g.mul(1 - config.beta1));
        second = second.mul(config.beta2).add(g.square().mul(1 - config.beta2));
        const denominator = second
          .sqrt()
          .div(Math.sqrt(1 - config.beta2 ** count))
          .add(config.epsilon);
        w = w.sub(first.div(denominator).mul(config.lr / (1 - config.beta1 ** count)));
      }
    });
    return w.dataSync() as Float32Array;
  });
}

describe('optimizer: one fused kernel per variable on wasm', () => {
  const settings = {
    'sgd, momentum, weight decay': { name: 'sgd', lr: 0.05, momentum: 0.9, weightDecay: 0.01 },
    'sgd, momentum': { name: 'sgd', lr: 0.05, momentum: 0.9 },
    'sgd, plain': { name: 'sgd', lr: 0.05, momentum: 0 },
    'adam, weight decay': { name: 'adam', lr: 0.01, weightDecay: 0.01 },
    adam: { name: 'adam', lr: 0.001 },
  };
  for (const [name, optimizer] of Object.entries(settings)) {
    test(`${name}: 3 steps give the same bits as the update rule written op by op, in one kernel call per variable`, async () => {
      const n = 1000;
      const start = values(n, 1);
      const grads = [2, 3, 4].map((seed) => values(n, seed));
      const variable = tf.variable(tf.tensor(start));
      const config = resolveTaskConfig({ optimizer }).optimizer;
      const stepper = createOptimizer(config, [variable]);
      try {
        const before = tf.memory().numTensors;
        const profile = await tf.profile(() => stepper.step([variable], [tf.tensor(grads[0])]));
        assert.equal(profile.kernels.length, 1, `kernels: ${profile.kernels.map((k) => k.name).join(', ')}`);
        for (const g of grads.slice(1)) stepper.step([variable], [tf.tensor(g)]);
        assert.equal(tf.memory().numTensors, before, 'no tensors left behind');
        assert.deepStrictEqual(variable.dataSync(), referenceSteps(optimizer, start, grads));
      } finally {
        stepper.dispose();
        variable.dispose();
      }
    });
  }
});
