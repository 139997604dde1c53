import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { activeBackend, BackendError, initBackend, setTransposeFirstMatMul, tf } from '../src/flooding/backend.js';
import { runTask } from '../src/flooding/trainer.js';
import { liveTensors, smallConfig, timelessResult } from './helpers.js';
import { tfjsNodeInstalled } from './tfjs-node-installed.js';

before(async () => {
  await initBackend('wasm');
});

after(() => {
  setTransposeFirstMatMul(true);
});

/** Deterministic values in [-1, 1) (an LCG), so every run multiplies the same matrices. */
function randomMatrix(rows: number, columns: number, seed: number): tf.Tensor2D {
  const values = new Float32Array(rows * columns);
  let state = seed >>> 0;
  for (let i = 0; i < values.length; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    values[i] = state / 2 ** 31 - 1;
  }
  return tf.tensor2d(values, [rows, columns]);
}

/** The float32 bit patterns of a tensor: equal bits, not merely equal-looking numbers. */
function bitsOf(t: tf.Tensor): Uint32Array {
  const data = t.dataSync() as Float32Array;
  return new Uint32Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
}

function batchMatMulKernel(): tf.KernelFunc {
  return tf.getKernel(tf.BatchMatMul, 'wasm').kernelFunc;
}

/** a (m x k, or k x m when transposeA) times b (k x n, or n x k when transposeB), with the fix on or off. */
function product(a: tf.Tensor2D, b: tf.Tensor2D, transposeA: boolean, transposeB: boolean, fix: boolean): Uint32Array {
  setTransposeFirstMatMul(fix);
  const out = tf.matMul(a, b, transposeA, transposeB);
  const bits = bitsOf(out);
  out.dispose();
  return bits;
}

function valuesOf(a: tf.Tensor2D, b: tf.Tensor2D, transposeA: boolean, transposeB: boolean, fix: boolean): Float32Array {
  setTransposeFirstMatMul(fix);
  const out = tf.matMul(a, b, transposeA, transposeB);
  const values = out.dataSync() as Float32Array;
  out.dispose();
  return values;
}

const FLAGS = [
  [true, false],
  [false, true],
  [true, true],
] as const;

describe('transpose-first BatchMatMul on wasm', () => {
  after(() => setTransposeFirstMatMul(true));

  test('the switch really swaps the kernel, and initBackend("wasm") installs the fix by default', async () => {
    setTransposeFirstMatMul(false);
    const original = batchMatMulKernel();
    setTransposeFirstMatMul(true);
    const fixed = batchMatMulKernel();
    assert.notEqual(fixed, original, 'the fix registers a different kernel');
    setTransposeFirstMatMul(false);
    assert.equal(batchMatMulKernel(), original, 'switching off restores the original kernel');
    await initBackend('wasm');
    assert.notEqual(batchMatMulKernel(), original, 'initBackend("wasm") turns the fix on');
    await initBackend('wasm', { transposeFirstMatMul: false });
    assert.equal(batchMatMulKernel(), original, 'initBackend("wasm", { transposeFirstMatMul: false }) leaves it off');
    await initBackend('wasm');
  });

  test('tf.matMul with transposeA / transposeB: the fix agrees with the fallback within float32 rounding (shared dims not multiples of 48)', () => {
    // [m, k, n]: k = the shared dimension, summed in blocks of 48 by the wasm fallback and in one run by XNNPACK.
    const shapes = [
      [100, 130, 70],
      [16, 100, 2],
      [100, 16, 100],
      [64, 96, 100],
      [200, 500, 500],
      [3, 49, 5],
      [7, 1, 9],
    ] as const;
    let differing = 0;
    for (const [m, k, n] of shapes) {
      for (const [transposeA, transposeB] of FLAGS) {
        const a = randomMatrix(transposeA ? k : m, transposeA ? m : k, m * 1000 + k);
        const b = randomMatrix(transposeB ? n : k, transposeB ? k : n, n * 1000 + k + 1);
        const off = valuesOf(a, b, transposeA, transposeB, false);
        const on = valuesOf(a, b, transposeA, transposeB, true);
        // Each float32 sum of k products is within k * 2^-24 * sum |a_i b_i| of the exact value, so two of them
        // are within twice that of each other.
        const magnitude = tf.tidy(() => tf.matMul(a.abs(), b.abs(), transposeA, transposeB).dataSync());
        assert.equal(on.length, m * n);
        for (let i = 0; i < on.length; i++) {
          const bound = 2 * k * 2 ** -24 * magnitude[i];
          assert.ok(Math.abs(on[i] - off[i]) <= bound, `${m}x${k}x${n} tA=${transposeA} tB=${transposeB} [${i}]: ${on[i]} vs ${off[i]}`);
          if (on[i] !== off[i]) differing++;
        }
        tf.dispose([a, b]);
      }
    }
    assert.ok(differing > 0, 'test assumption: the two kernels round differently somewhere');
  });

  test('a shared dimension of 0 gives zeros with the fix on, as with it off', () => {
    for (const [aShape, bShape, transposeA, transposeB] of [
      [[0, 3], [0, 2], true, false],
      [[3, 0], [2, 0], false, true],
    ] as const) {
      const a = tf.zeros([...aShape]) as tf.Tensor2D;
      const b = tf.zeros([...bShape]) as tf.Tensor2D;
      try {
        assert.deepStrictEqual(product(a, b, transposeA, transposeB, true), product(a, b, transposeA, transposeB, false));
      } finally {
        tf.dispose([a, b]);
        setTransposeFirstMatMul(true);
      }
    }
  });

  test('setTransposeFirstMatMul(true) before the first initBackend("wasm") leaves matMul working', async () => {
    // A fresh process: in this one the wasm backend is already initialised.
    const backendUrl = new URL('../src/flooding/backend.ts', import.meta.url).href;
    const script = [
      `import { initBackend, setTransposeFirstMatMul, tf } from ${JSON.stringify(backendUrl)};`,
      'setTransposeFirstMatMul(true);',
      "await initBackend('wasm');",
      'try {',
      '  const plain = tf.matMul(tf.ones([2, 3]), tf.ones([3, 2]));',
      '  const transposed = tf.matMul(tf.ones([3, 2]), tf.ones([3, 2]), true, false);',
      '  console.log(JSON.stringify([...plain.dataSync(), ...transposed.dataSync()]));',
      '} catch (error) {',
      '  console.log(JSON.stringify(String(error)));',
      '}',
    ].join('\n');
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: fileURLToPath(new URL('..', import.meta.url)),
      timeout: 30_000,
    });
    assert.deepEqual(JSON.parse(stdout.trim()), [3, 3, 3, 3, 3, 3, 3, 3]);
  });

  test('the fix is one plain product of the transposed operands, and the same bits on every call', () => {
    const a = randomMatrix(130, 100, 3);
    const b = randomMatrix(70, 130, 4);
    const plain = tf.tidy(() => tf.matMul(a.transpose() as tf.Tensor2D, b.transpose() as tf.Tensor2D));
    const plainBits = bitsOf(plain);
    const first = product(a, b, true, true, true);
    assert.deepStrictEqual(first, plainBits, 'transpose, then one XNNPACK product');
    assert.deepStrictEqual(product(a, b, true, true, true), first, 'deterministic');
    tf.dispose([a, b, plain]);
  });

  test('the fix leaks no tensors or data buffers (forward and gradient)', () => {
    const a = randomMatrix(100, 130, 1);
    const b = randomMatrix(130, 70, 2);
    const aT = a.transpose() as tf.Tensor2D;
    const bT = b.transpose() as tf.Tensor2D;
    const before = liveTensors();
    for (const [transposeA, transposeB] of FLAGS) product(transposeA ? aT : a, transposeB ? bT : b, transposeA, transposeB, true);
    // The gradient of a plain matMul asks for both transposed products.
    const grads = tf.grads((x: tf.Tensor, y: tf.Tensor) =>
      tf
        .matMul(x as tf.Tensor2D, y as tf.Tensor2D)
        .square()
        .sum(),
    )([a, b]);
    for (const g of grads) g.dataSync();
    tf.dispose(grads);
    assert.deepEqual(liveTensors(), before);
    tf.dispose([a, b, aT, bT]);
  });

  test('training the demo-shaped MLP (width 100 > 48): the fix on and off agree closely; on twice is identical', () => {
    // Batches of 64 make dW = X^T dY share a dimension of 64; width 100 makes dX = dY W^T share 100: both blocked.
    const config = smallConfig({
      dataset: { nTrain: 128 },
      model: { kind: 'mlp', depth: 2, width: 100 },
      training: { epochs: 3, batchSize: 64, evalEvery: 1 },
      floodLevel: 0.3,
    });
    setTransposeFirstMatMul(false);
    const off = timelessResult(runTask(config));
    setTransposeFirstMatMul(true);
    const on = timelessResult(runTask(config));
    assert.deepStrictEqual(timelessResult(runTask(config)), on, 'same config and seed, same numbers');
    assert.ok(on.epochs.at(-1)!.train.loss !== on.epochs[0].train.loss, 'test assumption: the model trained');
    on.epochs.forEach((row, i) => {
      for (const split of ['train', 'val', 'test'] as const) {
        for (const metric of ['loss', 'cleanLoss', 'acc', 'cleanAcc'] as const) {
          const [x, y] = [row[split][metric], off.epochs[i][split][metric]];
          assert.ok(Math.abs(x - y) <= 1e-4, `epoch ${row.epoch} ${split}.${metric}: ${x} (on) vs ${y} (off)`);
        }
      }
    });
  });
});

describe('backend selection (holds with and without tfjs-node installed)', () => {
  after(async () => {
    await initBackend('wasm');
  });

  test(`initBackend("tfjs-node") ${tfjsNodeInstalled ? 'runs a product and its gradient on TensorFlow' : 'rejects naming tfjs-node (no silent fallback) and leaves tfjs usable on wasm'}`, async () => {
    if (tfjsNodeInstalled) {
      assert.equal(await initBackend('tfjs-node'), 'tfjs-node');
      assert.equal(tf.getBackend(), 'tensorflow');
      assert.equal(activeBackend(), 'tfjs-node');
      const [gradA] = tf.grads((a: tf.Tensor) => tf.matMul(a as tf.Tensor2D, tf.ones([3, 2])).sum())([tf.ones([2, 3])]);
      assert.deepEqual([...gradA.dataSync()], [2, 2, 2, 2, 2, 2]);
    } else {
      await assert.rejects(initBackend('tfjs-node'), (error: unknown) => {
        assert.ok(error instanceof BackendError, `expected a BackendError, got ${String(error)}`);
        assert.match(error.message, /tfjs-node/);
        return true;
      });
      assert.equal(tf.getBackend(), 'wasm', 'a failed request does not move tfjs off wasm');
      assert.equal(activeBackend(), 'wasm');
    }
    assert.equal(await initBackend('wasm'), 'wasm');
    assert.equal(tf.getBackend(), 'wasm');
    assert.equal(activeBackend(), 'wasm');
  });

  test(`initBackend("auto") picks ${tfjsNodeInstalled ? 'tfjs-node (installed here)' : 'wasm (tfjs-node is not installed here)'}; unknown names are rejected`, async () => {
    const expected = tfjsNodeInstalled ? 'tfjs-node' : 'wasm';
    assert.equal(await initBackend('auto'), expected);
    assert.equal(tf.getBackend(), tfjsNodeInstalled ? 'tensorflow' : 'wasm');
    await assert.rejects(initBackend('gpu' as never), (error: unknown) => {
      assert.ok(error instanceof BackendError);
      assert.match(error.message, /gpu/);
      assert.match(error.message, /wasm/, 'names the allowed values');
      return true;
    });
    assert.equal(activeBackend(), expected, 'a rejected name leaves the backend as it was');
  });

  test('a task result records the backend it ran on, for tfjs-node with the libtensorflow version', async () => {
    await initBackend('wasm');
    assert.equal(runTask(smallConfig({ training: { epochs: 1 } })).backend, 'wasm');
    if (tfjsNodeInstalled) {
      await initBackend('tfjs-node');
      assert.match(runTask(smallConfig({ training: { epochs: 1 } })).backend, /^tfjs-node \(libtensorflow \d+\.\d+\.\d+\)$/);
    }
  });
});
