import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  activeBackend,
  BackendError,
  initBackend,
  setTransposeFirstMatMul,
  tf,
} from '../src/flooding/backend.js';
import { runTask } from '../src/flooding/trainer.js';
import { liveTensors, smallConfig, timelessResult } from './helpers.js';

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

  test('tf.matMul with transposeA / transposeB: bit-identical with the fix on and off (shared dims not multiples of 48)', () => {
    // [m, k, n]: k = the shared dimension, summed in blocks of 48 by the wasm fallback.
    const shapes = [
      [100, 130, 70],
      [16, 100, 2],
      [100, 16, 100],
      [64, 96, 100],
      [3, 49, 5],
      [7, 1, 9],
    ] as const;
    for (const [m, k, n] of shapes) {
      for (const [transposeA, transposeB] of FLAGS) {
        const a = randomMatrix(transposeA ? k : m, transposeA ? m : k, m * 1000 + k);
        const b = randomMatrix(transposeB ? n : k, transposeB ? k : n, n * 1000 + k + 1);
        const off = product(a, b, transposeA, transposeB, false);
        const on = product(a, b, transposeA, transposeB, true);
        assert.equal(on.length, m * n);
        assert.deepStrictEqual(on, off, `${m}x${k}x${n} transposeA=${transposeA} transposeB=${transposeB}`);
        tf.dispose([a, b]);
      }
    }
  });

  test(
    'a shared dimension of 0 gives zeros with the fix on, as with it off',
    () => {
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
    },
  );

  test(
    'setTransposeFirstMatMul(true) before the first initBackend("wasm") leaves matMul working',
    async () => {
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
    },
  );

  test('the fix reproduces the fallback block by block, where a plain transpose + matMul would round differently', () => {
    // Rows of +1 (first 48 columns) and -1 (the rest) against 1/48 and 1/12: the rounding depends on where the
    // partial sums are taken, so only a block-exact kernel matches the fallback bit for bit.
    const [m, k, n] = [5, 60, 4];
    const aValues = new Float32Array(m * k).map((_, i) => (i % k < 48 ? 1 : -1));
    const bValues = new Float32Array(k * n).map((_, i) => (Math.floor(i / n) < 48 ? 1 / 48 : 1 / 12));
    const a = tf.tensor2d(aValues, [m, k]);
    const b = tf.tensor2d(bValues, [k, n]);
    const aT = a.transpose() as tf.Tensor2D;
    const bT = b.transpose() as tf.Tensor2D;
    setTransposeFirstMatMul(true);
    const plain = tf.matMul(a, b);
    const plainBits = bitsOf(plain);
    for (const [transposeA, transposeB] of FLAGS) {
      const left = transposeA ? aT : a;
      const right = transposeB ? bT : b;
      const off = product(left, right, transposeA, transposeB, false);
      const on = product(left, right, transposeA, transposeB, true);
      assert.deepStrictEqual(on, off, `transposeA=${transposeA} transposeB=${transposeB}`);
      assert.notDeepStrictEqual(off, plainBits, 'test assumption: the fallback rounds differently from one sequential sum');
    }
    tf.dispose([a, b, aT, bT, plain]);
    setTransposeFirstMatMul(true);
  });

  test('the fix leaks no tensors or data buffers (forward and gradient)', () => {
    const a = randomMatrix(100, 130, 1);
    const b = randomMatrix(130, 70, 2);
    const aT = a.transpose() as tf.Tensor2D;
    const bT = b.transpose() as tf.Tensor2D;
    const before = liveTensors();
    for (const [transposeA, transposeB] of FLAGS) product(transposeA ? aT : a, transposeB ? bT : b, transposeA, transposeB, true);
    // The gradient of a plain matMul asks for both transposed products.
    const grads = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.matMul(x as tf.Tensor2D, y as tf.Tensor2D).square().sum())([a, b]);
    grads.forEach((g) => g.dataSync());
    tf.dispose(grads);
    assert.deepEqual(liveTensors(), before);
    tf.dispose([a, b, aT, bT]);
  });

  test('training the demo-shaped MLP (width 100 > 48) gives identical metrics with the fix on and off', () => {
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
    assert.deepStrictEqual(on, off);
    assert.ok(on.epochs.at(-1)!.train.loss !== on.epochs[0].train.loss, 'test assumption: the model trained');
  });
});

describe('backend selection', () => {
  test('initBackend("tfjs-node") rejects naming tfjs-node (no silent fallback) and leaves tfjs usable on wasm', async () => {
    await assert.rejects(initBackend('tfjs-node'), (error: unknown) => {
      assert.ok(error instanceof BackendError, `expected a BackendError, got ${String(error)}`);
      assert.match(error.message, /tfjs-node/);
      return true;
    });
    assert.equal(tf.getBackend(), 'wasm', 'a failed request does not move tfjs off wasm');
    assert.equal(activeBackend(), 'wasm');
    assert.equal(await initBackend('wasm'), 'wasm');
    assert.equal(tf.getBackend(), 'wasm');
    assert.equal(activeBackend(), 'wasm');
  });

  test('initBackend("auto") picks wasm where tfjs-node is missing; unknown names are rejected', async () => {
    assert.equal(await initBackend('auto'), 'wasm');
    assert.equal(tf.getBackend(), 'wasm');
    await assert.rejects(initBackend('gpu' as never), (error: unknown) => {
      assert.ok(error instanceof BackendError);
      assert.match(error.message, /gpu/);
      assert.match(error.message, /wasm/, 'names the allowed values');
      return true;
    });
    assert.equal(tf.getBackend(), 'wasm');
  });

  test('a task result records the backend it ran on', () => {
    const result = runTask(smallConfig({ training: { epochs: 1 } }));
    assert.equal(result.backend, 'wasm');
  });
});
