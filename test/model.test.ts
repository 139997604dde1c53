import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { initBackend, tf } from '../src/flooding/backend.js';
import { Model } from '../src/flooding/model.js';

before(async () => {
  await initBackend('wasm');
});

const EPSILON = 1e-5;

/** The demo MLP written out with plain tf ops (autodiff does the gradient), from the model's variables in their fixed order. */
function reference(model: Model, x: tf.Tensor2D, depth: number, training: boolean): tf.Tensor2D {
  const vars = model.variables;
  let h: tf.Tensor = x;
  for (let i = 0; i < depth; i++) {
    const [kernel, gamma, beta] = vars.slice(3 * i, 3 * i + 3);
    const [runningMean, runningVariance] = vars.slice(3 * depth + 2 + 2 * i, 3 * depth + 4 + 2 * i);
    h = h.matMul(kernel as tf.Tensor2D);
    const { mean, variance } = training ? tf.moments(h, 0) : { mean: runningMean, variance: runningVariance };
    h = tf.relu(h.sub(mean).div(variance.add(EPSILON).sqrt()).mul(gamma).add(beta));
  }
  const [outKernel, outBias] = vars.slice(3 * depth, 3 * depth + 2);
  return h.matMul(outKernel as tf.Tensor2D).add(outBias) as tf.Tensor2D;
}

function maxRelativeDifference(actual: tf.Tensor, expected: tf.Tensor): number {
  return tf.tidy(() => actual.sub(expected).abs().max().div(expected.abs().max()).dataSync()[0]);
}

describe('demo MLP kernels', () => {
  const depth = 3;
  const setup = () => {
    const model = Model.create({ kind: 'mlp', depth, width: 64, batchNorm: true }, 2, 2, 5);
    const x = tf.randomUniform([50, 2], -2, 2, 'float32', 1) as tf.Tensor2D;
    // Non-trivial running statistics and affine parameters, so that folding has something to fold.
    for (let i = 0; i < 3; i++) {
      const stats: Parameters<Model['forwardTraining']>[1] = [];
      tf.tidy(() => model.forwardTraining(x.mul(i + 1) as tf.Tensor2D, stats));
      model.updateRunningStats(stats);
    }
    for (const v of model.trainable) tf.tidy(() => v.assign(v.add(tf.randomUniform(v.shape, -0.3, 0.3, 'float32', v.size))));
    return { model, x };
  };

  test('inference with batch norm folded into the dense weights agrees with batch norm applied after the product', () => {
    const { model, x } = setup();
    const inference = model.forInference();
    try {
      const difference = tf.tidy(() => maxRelativeDifference(inference.predict(x), reference(model, x, depth, false)));
      assert.ok(difference < 1e-5, `max relative difference ${difference}`);
    } finally {
      inference.dispose();
      tf.dispose([x]);
      model.dispose();
    }
  });

  test('training: the hand-written batch norm + ReLU gradient agrees with autodiff of the composite expression', () => {
    const { model, x } = setup();
    const weights = tf.randomUniform([50, 2], -1, 1, 'float32', 2);
    try {
      const stats: Parameters<Model['forwardTraining']>[1] = [];
      const fused = tf.variableGrads(() => model.forwardTraining(x, stats).mul(weights).sum() as tf.Scalar, model.trainable);
      const plain = tf.variableGrads(() => reference(model, x, depth, true).mul(weights).sum() as tf.Scalar, model.trainable);
      assert.ok(Math.abs(fused.value.dataSync()[0] - plain.value.dataSync()[0]) < 1e-4, 'same forward value');
      for (const v of model.trainable) {
        const difference = maxRelativeDifference(fused.grads[v.name], plain.grads[v.name]);
        assert.ok(difference < 1e-4, `${v.shape}: max relative difference ${difference}`);
      }
      assert.equal(stats.length, depth, 'one batch statistic per batch-norm layer');
      tf.dispose([fused.value, plain.value, ...Object.values(fused.grads), ...Object.values(plain.grads)]);
      for (const { mean, variance } of stats) tf.dispose([mean, variance]);
    } finally {
      tf.dispose([x, weights]);
      model.dispose();
    }
  });
});
