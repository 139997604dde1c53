import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { initBackend, tf } from '../src/flooding/backend.js';
import { CheckpointError, decodeCheckpoint, encodeCheckpoint } from '../src/flooding/checkpoint.js';
import { resolveTaskConfig, type TaskConfig } from '../src/flooding/config.js';
import type { Split } from '../src/flooding/datasets.js';
import { makeDataset } from '../src/flooding/make-dataset.js';
import type { EpochMetrics, SplitMetrics } from '../src/flooding/metrics.js';
import { Model } from '../src/flooding/model.js';
import { DivergenceError, runTask, TrainingRun } from '../src/flooding/trainer.js';
import { liveTensors, smallConfig, timelessResult, trainToEnd, withoutSeconds } from './helpers.js';

before(async () => {
  await initBackend('wasm');
});

const SPLITS = ['train', 'val', 'test'] as const;

function rowsOf(config: TaskConfig): EpochMetrics[] {
  return runTask(config).epochs;
}

function assertClose(actual: number, expected: number, tolerance: number, message: string): void {
  assert.ok(Math.abs(actual - expected) <= tolerance, `${message}: ${actual} vs ${expected} (tolerance ${tolerance})`);
}

/**
 * Mean cross-entropy (on the noisy labels) and accuracy of a linear model on a split, and the loss after one plain
 * SGD step of size `lr` on that split (descent) and after one step in the opposite direction (ascent). Computed
 * here, independently of the trainer, from the same seeded initialisation.
 */
function linearReference(config: TaskConfig, lr: number) {
  const data = makeDataset(config.dataset, config.seed);
  const model = Model.create(config.model, data.dim, data.numClasses, config.seed);
  try {
    return tf.tidy(() => {
      const [kernel, bias] = model.trainable;
      const tensorsOf = (split: Split) => ({
        x: tf.tensor2d(split.x, [split.n, split.dim]),
        y: tf.oneHot(tf.tensor1d(split.labels, 'int32'), data.numClasses).cast('float32'),
        labels: tf.tensor1d(split.labels, 'int32'),
      });
      const train = tensorsOf(data.train);
      const testSet = tensorsOf(data.test);
      const logitsOf = (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) => x.matMul(w as tf.Tensor2D).add(b);
      const lossOf = (s: typeof train, w: tf.Tensor, b: tf.Tensor) =>
        tf
          .logSoftmax(logitsOf(s.x, w, b))
          .mul(s.y)
          .sum(1)
          .mean()
          .neg() as tf.Scalar;
      const accOf = (s: typeof testSet) => logitsOf(s.x, kernel, bias).argMax(1).equal(s.labels).cast('float32').mean();
      const [gKernel, gBias] = tf.grads((w: tf.Tensor, b: tf.Tensor) => lossOf(train, w, b))([kernel, bias]);
      const after = (direction: number) =>
        lossOf(train, kernel.sub(gKernel.mul(direction * lr)), bias.sub(gBias.mul(direction * lr))).dataSync()[0];
      return {
        trainLoss: lossOf(train, kernel, bias).dataSync()[0],
        testLoss: lossOf(testSet, kernel, bias).dataSync()[0],
        testAcc: accOf(testSet).dataSync()[0],
        afterDescent: after(1),
        afterAscent: after(-1),
      };
    });
  } finally {
    model.dispose();
  }
}

describe('flooding: |L - b| + b', () => {
  // A linear model has no batch norm, so the rows (inference mode) see exactly the loss the step saw; one
  // batch of the whole training set gives exactly one step per epoch.
  const LR = 0.5;
  const linear = (floodLevel: number) =>
    smallConfig({
      model: { kind: 'linear' },
      optimizer: { name: 'sgd', lr: LR, momentum: 0 },
      training: { epochs: 3, batchSize: 64, evalEvery: 1 },
      floodLevel,
    });

  test('b above the loss: one step is gradient ascent (the exact mirror of the plain step), every batch is flooded', () => {
    const b = 5;
    const reference = linearReference(linear(b), LR);
    const rows = rowsOf(linear(b));
    assert.deepEqual(
      rows.map((r) => r.epoch),
      [0, 1, 2, 3],
    );
    assertClose(rows[0].train.loss, reference.trainLoss, 1e-5, 'epoch-0 train loss');
    assert.ok(reference.afterAscent - reference.trainLoss > 1e-3, 'the reference ascent step must move the loss measurably');
    assertClose(rows[1].train.loss, reference.afterAscent, 1e-5, 'train loss after one flooded step = after one ascent step');
    for (let i = 1; i < rows.length; i++) {
      assert.ok(
        rows[i].train.loss > rows[i - 1].train.loss,
        `epoch ${i}: loss must increase (${rows[i - 1].train.loss} -> ${rows[i].train.loss})`,
      );
      assert.ok(rows[i].train.loss < b, 'test assumption: the loss stays below b');
      assert.equal(rows[i].floodedFraction, 1, `epoch ${i}: every batch is below b`);
      // One batch per epoch, and that batch is the whole training set: L is the previous row's train loss.
      assertClose(rows[i].objective, Math.abs(rows[i - 1].train.loss - b) + b, 1e-5, `epoch ${i}: objective = |L - b| + b`);
    }
  });

  test('b below the loss: one step is gradient descent, nothing is flooded', () => {
    const b = 0.3;
    const reference = linearReference(linear(b), LR);
    const rows = rowsOf(linear(b));
    assert.ok(reference.trainLoss - reference.afterDescent > 1e-3, 'the reference descent step must move the loss measurably');
    assertClose(rows[1].train.loss, reference.afterDescent, 1e-5, 'train loss after one step = after one plain descent step');
    for (let i = 1; i < rows.length; i++) {
      assert.ok(
        rows[i].train.loss < rows[i - 1].train.loss,
        `epoch ${i}: loss must decrease (${rows[i - 1].train.loss} -> ${rows[i].train.loss})`,
      );
      assert.ok(rows[i].train.loss > b, 'test assumption: the loss stays above b');
      assert.equal(rows[i].floodedFraction, 0, `epoch ${i}: no batch is below b`);
      assertClose(rows[i].objective, Math.abs(rows[i - 1].train.loss - b) + b, 1e-5, `epoch ${i}: objective = |L - b| + b`);
    }
  });

  test('b = 0 is plain training: plain descent steps, floodedFraction 0, objective = the mean loss', () => {
    const reference = linearReference(linear(0), LR);
    const rows = rowsOf(linear(0));
    assertClose(rows[1].train.loss, reference.afterDescent, 1e-5, 'train loss after one step = after one plain descent step');
    for (let i = 1; i < rows.length; i++) {
      assert.ok(rows[i].train.loss < rows[i - 1].train.loss, `epoch ${i}: loss must decrease`);
      assert.equal(rows[i].floodedFraction, 0);
      assertClose(rows[i].objective, rows[i - 1].train.loss, 1e-5, `epoch ${i}: objective = L`);
    }
  });

  test('with mini-batches and batch norm: b = 0 trains exactly like a flood level below every batch loss', () => {
    const plain = rowsOf(smallConfig({ floodLevel: 0 }));
    const below = rowsOf(smallConfig({ floodLevel: 0.2 }));
    assert.equal(plain.length, below.length);
    plain.forEach((row, i) => {
      assert.equal(below[i].floodedFraction, 0, `test assumption: no batch below 0.2 at epoch ${row.epoch}`);
      assert.equal(row.floodedFraction, 0);
      // The step sees gradient sign(L - b) * dL = dL: bit for bit the same parameters.
      for (const split of SPLITS) assert.deepEqual(below[i][split], row[split], `epoch ${row.epoch} ${split}`);
      assertClose(below[i].objective, row.objective, 1e-6, `epoch ${row.epoch} objective`);
      if (row.epoch > 0) assert.ok(row.objective > 0, 'the objective of plain training is the mean loss');
    });
  });

  test('with mini-batches: a flood level above every batch loss floods every batch and its objective is 2b - L > b', () => {
    // The untrained MLP's loss is about ln 2 = 0.69; a small ascent keeps every batch below 0.9.
    const b = 0.9;
    const config = (floodLevel: number) =>
      smallConfig({
        model: { kind: 'mlp', depth: 2, width: 32, batchNorm: false },
        optimizer: { name: 'sgd', lr: 0.01, momentum: 0 },
        floodLevel,
      });
    const rows = rowsOf(config(b));
    const plain = rowsOf(config(0));
    for (const row of rows.slice(1)) {
      assert.equal(row.floodedFraction, 1, `epoch ${row.epoch}`);
      assert.ok(row.objective > b && row.objective < 2 * b, `epoch ${row.epoch}: objective ${row.objective} in (b, 2b)`);
    }
    // Ascent vs descent from the same start: the flooded run's training loss ends above the plain run's.
    assert.ok(rows.at(-1)!.train.loss > rows[0].train.loss, 'ascent raises the training loss');
    assert.ok(plain.at(-1)!.train.loss < plain[0].train.loss, 'descent lowers the training loss');
  });
});

describe('per-sample flooding (iFlood): mean(|l_i - b| + b)', () => {
  const LR = 0.5;
  const linear = (floodLevel: number, flooding: 'batch' | 'sample') =>
    smallConfig({
      model: { kind: 'linear' },
      optimizer: { name: 'sgd', lr: LR, momentum: 0 },
      training: { epochs: 1, batchSize: 64, evalEvery: 1, flooding },
      floodLevel,
    });

  /** Per-sample losses at the seeded initialisation, and the train loss after one step on the iFlood objective, computed here. */
  function iFloodReference(config: TaskConfig, b: number) {
    const data = makeDataset(config.dataset, config.seed);
    const model = Model.create(config.model, data.dim, data.numClasses, config.seed);
    try {
      return tf.tidy(() => {
        const [kernel, bias] = model.trainable;
        const x = tf.tensor2d(data.train.x, [data.train.n, data.train.dim]);
        const y = tf.oneHot(tf.tensor1d(data.train.labels, 'int32'), data.numClasses).cast('float32');
        const lossesOf = (w: tf.Tensor, c: tf.Tensor) =>
          tf
            .logSoftmax(x.matMul(w as tf.Tensor2D).add(c))
            .mul(y)
            .sum(1)
            .neg();
        const objective = (w: tf.Tensor, c: tf.Tensor) => lossesOf(w, c).sub(b).abs().add(b).mean() as tf.Scalar;
        const [gKernel, gBias] = tf.grads(objective)([kernel, bias]);
        const after = lossesOf(kernel.sub(gKernel.mul(LR)), bias.sub(gBias.mul(LR))).mean();
        return { losses: Array.from(lossesOf(kernel, bias).dataSync()), afterStep: after.dataSync()[0] };
      });
    } finally {
      model.dispose();
    }
  }

  test('the step descends on samples above b and ascends on samples below; the objective is the mean of the flooded losses', () => {
    const [epoch0] = rowsOf(linear(0, 'batch'));
    const reference = iFloodReference(linear(0, 'sample'), epoch0.train.loss);
    // A level inside the spread of the per-sample losses floods some samples, not all.
    const sorted = [...reference.losses].sort((a, b) => a - b);
    const b = sorted[Math.floor(sorted.length / 2)] + 1e-4;
    const { losses, afterStep } = iFloodReference(linear(b, 'sample'), b);
    const rows = rowsOf(linear(b, 'sample'));
    const flooded = losses.reduce((sum, l) => sum + Math.abs(l - b) + b, 0) / losses.length;
    assertClose(rows[1].objective, flooded, 1e-5, 'objective = mean(|l_i - b| + b)');
    assertClose(rows[1].train.loss, afterStep, 1e-5, 'train loss after one step on the iFlood objective');
    const batch = rowsOf(linear(b, 'batch'));
    assert.ok(rows[1].objective > batch[1].objective + 1e-3, 'with b inside the spread, mean |l_i - b| exceeds |mean l_i - b|');
    assert.notEqual(rows[1].train.loss, batch[1].train.loss, 'the two variants take different steps');
  });

  test('b = 0: per-sample flooding is plain training, bit for bit', () => {
    assert.deepEqual(withoutSeconds(rowsOf(linear(0, 'sample'))), withoutSeconds(rowsOf(linear(0, 'batch'))));
  });
});

describe('determinism', () => {
  const settings = {
    sgd: { name: 'sgd', lr: 0.05, momentum: 0.9, weightDecay: 0.01 },
    adam: { name: 'adam', lr: 0.01, weightDecay: 0.01 },
  } as const;

  for (const [name, optimizer] of Object.entries(settings)) {
    test(`${name} with weight decay and clipNorm: same config and seed -> identical numbers; another seed -> different`, () => {
      const config = (overrides: { seed?: number; clipNorm?: number | null; weightDecay?: number } = {}) =>
        smallConfig({
          optimizer: { ...optimizer, weightDecay: overrides.weightDecay ?? optimizer.weightDecay },
          training: { epochs: 3, clipNorm: overrides.clipNorm === undefined ? 0.2 : overrides.clipNorm },
          floodLevel: 0.3,
          seed: overrides.seed ?? 7,
        });
      const first = timelessResult(runTask(config()));
      const second = timelessResult(runTask(config()));
      assert.deepStrictEqual(second, first);

      const otherSeed = withoutSeconds(runTask(config({ seed: 8 })).epochs);
      for (let i = 0; i < first.epochs.length; i++) {
        assert.notDeepStrictEqual(otherSeed[i].train, first.epochs[i].train, `epoch ${first.epochs[i].epoch}: seed 8 vs 7`);
      }
      // The settings under test are live: without them the numbers change.
      const lastTrain = (rows: EpochMetrics[]) => rows.at(-1)!.train;
      assert.notDeepStrictEqual(
        lastTrain(runTask(config({ clipNorm: null })).epochs),
        first.epochs.at(-1)!.train,
        'clipNorm has an effect',
      );
      assert.notDeepStrictEqual(
        lastTrain(runTask(config({ weightDecay: 0 })).epochs),
        first.epochs.at(-1)!.train,
        'weightDecay has an effect',
      );
    });
  }

  test('two runs trained in alternation give the same numbers as each alone', () => {
    const a = smallConfig({ seed: 3 });
    const b = smallConfig({ seed: 4, optimizer: { name: 'adam', lr: 0.01 }, floodLevel: 0.5 });
    const aloneA = withoutSeconds(runTask(a).epochs);
    const aloneB = withoutSeconds(runTask(b).epochs);
    const runA = TrainingRun.start(a);
    const runB = TrainingRun.start(b);
    try {
      while (!runA.finished || !runB.finished) {
        if (!runA.finished) runA.trainEpoch();
        if (!runB.finished) runB.trainEpoch();
      }
      assert.deepStrictEqual(withoutSeconds(runA.rows), aloneA);
      assert.deepStrictEqual(withoutSeconds(runB.rows), aloneB);
    } finally {
      runA.dispose();
      runB.dispose();
    }
  });
});

describe('checkpoint and resume', () => {
  const optimizers = {
    'sgd+momentum': { name: 'sgd', lr: 0.05, momentum: 0.9, weightDecay: 0.001 },
    adam: { name: 'adam', lr: 0.01 },
  } as const;
  // evalEvery 3 over 7 epochs: rows 0, 3, 6, 7; a checkpoint after epoch 4 carries pending training statistics.
  const configOf = (optimizer: Record<string, unknown>) =>
    smallConfig({ optimizer, training: { epochs: 7, evalEvery: 3, clipNorm: 1 }, floodLevel: 0.4 });

  for (const [name, optimizer] of Object.entries(optimizers)) {
    test(`${name}: train 7 epochs = train 4, checkpoint, dispose, resume, train 3 (every number but seconds)`, () => {
      const config = configOf(optimizer);
      const uninterrupted = timelessResult(runTask(config));
      assert.deepEqual(
        uninterrupted.epochs.map((r) => r.epoch),
        [0, 3, 6, 7],
      );

      const before = liveTensors();
      const first = TrainingRun.start(config);
      for (let i = 0; i < 4; i++) first.trainEpoch();
      const bytes = first.checkpoint();
      first.dispose();

      const resumed = TrainingRun.resume(config, bytes);
      try {
        assert.equal(resumed.epoch, 4);
        assert.equal(resumed.finished, false);
        assert.deepStrictEqual(withoutSeconds(resumed.rows), uninterrupted.epochs.slice(0, 2), 'rows so far are restored');
        // Nothing is lost or added in a round trip.
        assert.deepStrictEqual(Buffer.from(resumed.checkpoint()), Buffer.from(bytes), 'checkpoint of the resumed run = the checkpoint');
        trainToEnd(resumed);
        assert.deepStrictEqual(timelessResult(resumed.result()), uninterrupted);
      } finally {
        resumed.dispose();
      }
      assert.deepEqual(liveTensors(), before, 'no tensor leaks across checkpoint/resume');
    });
  }

  test('resume reads checkpoint bytes that sit at an unaligned offset inside a larger buffer', () => {
    const config = configOf(optimizers.adam);
    const uninterrupted = timelessResult(runTask(config));
    const first = TrainingRun.start(config);
    for (let i = 0; i < 5; i++) first.trainEpoch();
    const bytes = first.checkpoint();
    first.dispose();
    const padded = Buffer.alloc(bytes.length + 8, 0xee);
    padded.set(bytes, 3);
    const resumed = TrainingRun.resume(config, padded.subarray(3, 3 + bytes.length));
    try {
      trainToEnd(resumed);
      assert.deepStrictEqual(timelessResult(resumed.result()), uninterrupted);
    } finally {
      resumed.dispose();
    }
  });

  test('truncated, foreign or other-task checkpoints are rejected with a CheckpointError, leaking nothing', () => {
    const config = configOf(optimizers['sgd+momentum']);
    const run = TrainingRun.start(config);
    run.trainEpoch();
    const bytes = run.checkpoint();
    run.dispose();
    const before = liveTensors();

    const rejects = (input: Uint8Array, taskConfig: TaskConfig, message: RegExp) =>
      assert.throws(
        () => TrainingRun.resume(taskConfig, input),
        (error: unknown) => {
          assert.ok(error instanceof CheckpointError, `expected a CheckpointError, got ${String(error)}`);
          assert.match(error.message, message);
          assert.ok(!error.message.includes('\n'), 'one line');
          return true;
        },
      );
    rejects(bytes.subarray(0, bytes.length - 3), config, /truncated/);
    rejects(bytes.subarray(0, 30), config, /truncated/);
    rejects(Buffer.concat([bytes, Buffer.from([0, 0, 0, 0])]), config, /corrupt|truncated/);
    rejects(Buffer.from('{"not": "a checkpoint"}'), config, /not a floodsweep checkpoint/);
    rejects(bytes, resolveTaskConfig({ ...config, floodLevel: 0.5 }), /belongs to task/);
    rejects(bytes, resolveTaskConfig({ ...config, seed: config.seed + 1 }), /belongs to task/);
    assert.deepEqual(liveTensors(), before, 'a rejected checkpoint leaks no tensors');
  });

  test('a diverged run (non-finite loss) stops with a DivergenceError naming the epoch, the same at every attempt', () => {
    const config = smallConfig({
      model: { kind: 'mlp', depth: 2, width: 32, batchNorm: false },
      optimizer: { name: 'sgd', lr: 1e6, momentum: 0.9 },
      training: { epochs: 6, evalEvery: 2 },
    });
    const divergence = () => {
      try {
        runTask(config);
      } catch (error) {
        return error;
      }
      assert.fail('lr 1e6 trains to the end');
    };
    const first = divergence();
    assert.ok(first instanceof DivergenceError, String(first));
    assert.equal(first.kind, 'training');
    assert.match(first.message, /^diverged at epoch [1-6]: (the training loss|[a-z]+\.[a-zA-Z]+) is (NaN|-?Infinity)$/);
    assert.equal((divergence() as Error).message, first.message, 'deterministic');
  });

  test('a checkpoint with non-finite weights is damaged, even behind a valid checksum', () => {
    const config = smallConfig();
    const run = TrainingRun.start(config);
    run.trainEpoch();
    const checkpoint = decodeCheckpoint(run.checkpoint());
    run.dispose();
    checkpoint.modelTensors[1][0] = Number.POSITIVE_INFINITY;
    assert.throws(() => TrainingRun.resume(config, encodeCheckpoint(checkpoint)), /damaged: model tensor 1 holds non-finite values/);
  });
});

describe('tensor memory', () => {
  const configs = {
    'sgd, batch norm, flooding, clipNorm': smallConfig({ floodLevel: 0.5, training: { epochs: 6, clipNorm: 0.5 } }),
    'adam, weight decay, partial last batch': smallConfig({
      optimizer: { name: 'adam', lr: 0.01, weightDecay: 0.01 },
      dataset: { nTrain: 70 },
      training: { epochs: 6, evalEvery: 2 },
    }),
  };
  for (const [name, config] of Object.entries(configs)) {
    test(`${name}: live tensors are constant across epochs and return to the start after dispose()`, () => {
      const before = liveTensors();
      const run = TrainingRun.start(config);
      const counts: Array<ReturnType<typeof liveTensors>> = [];
      try {
        while (!run.finished) {
          run.trainEpoch();
          counts.push(liveTensors());
        }
        run.checkpoint();
        run.result();
        assert.deepEqual(liveTensors(), counts[1]);
      } finally {
        run.dispose();
      }
      assert.deepEqual(counts[4], counts[1], 'after epoch 5 as after epoch 2');
      for (const count of counts) assert.deepEqual(count, counts[0], 'every epoch');
      assert.deepEqual(liveTensors(), before, 'dispose() frees everything');
    });
  }

  test('runTask leaves no tensors behind', () => {
    const before = liveTensors();
    let epochs = 0;
    runTask(configs['sgd, batch norm, flooding, clipNorm'], { onEpoch: () => epochs++ });
    assert.equal(epochs, 6);
    assert.deepEqual(liveTensors(), before);
  });
});

describe('epoch rows', () => {
  test('epoch 0 (before training), every evalEvery epochs and always the last epoch', () => {
    const config = smallConfig({ training: { epochs: 7, evalEvery: 3 } });
    const run = TrainingRun.start(config);
    try {
      assert.deepEqual(
        run.rows.map((r) => r.epoch),
        [0],
        'epoch 0 is evaluated at start',
      );
      const returned: Array<number | undefined> = [];
      while (!run.finished) returned.push(run.trainEpoch()?.epoch);
      assert.deepEqual(returned, [undefined, undefined, 3, undefined, undefined, 6, 7], 'trainEpoch returns the row when evaluated');
      assert.deepEqual(
        run.rows.map((r) => r.epoch),
        [0, 3, 6, 7],
      );
      const result = run.result();
      assert.deepEqual(result.final, { train: run.rows[3].train, val: run.rows[3].val, test: run.rows[3].test });
      assert.equal(result.epochs.length, 4);
    } finally {
      run.dispose();
    }

    const seen: Array<[number, number | undefined]> = [];
    runTask(smallConfig({ training: { epochs: 4, evalEvery: 10 } }), { onEpoch: (epoch, row) => seen.push([epoch, row?.epoch]) });
    assert.deepEqual(seen, [
      [1, undefined],
      [2, undefined],
      [3, undefined],
      [4, 4],
    ]);
    assert.deepEqual(
      rowsOf(smallConfig({ training: { epochs: 3, evalEvery: 1 } })).map((r) => r.epoch),
      [0, 1, 2, 3],
    );
  });

  test('rows are well formed: accuracies in [0, 1] in steps of 1/n, finite losses, epoch 0 has no training statistics', () => {
    const config = smallConfig({ training: { epochs: 4, evalEvery: 2 }, floodLevel: 0.6 });
    const rows = rowsOf(config);
    const sizes = { train: 64, val: 32, test: 256 };
    assert.equal(rows[0].floodedFraction, 0);
    assert.equal(rows[0].objective, 0);
    for (const row of rows) {
      assert.equal(row.lr, 0.05);
      assert.ok(row.seconds >= 0);
      assert.ok(row.floodedFraction >= 0 && row.floodedFraction <= 1);
      // 4 batches per epoch, 2 epochs per row: a fraction of 8 batches.
      assert.ok(Number.isInteger(row.floodedFraction * (row.epoch === 0 ? 1 : 8)), `floodedFraction ${row.floodedFraction}`);
      for (const split of SPLITS) {
        const m: SplitMetrics = row[split];
        for (const acc of [m.acc, m.cleanAcc]) {
          assert.ok(acc >= 0 && acc <= 1, `${split} accuracy ${acc}`);
          assert.ok(Number.isInteger(Math.round(acc * sizes[split] * 1e6) / 1e6), `${split} accuracy ${acc} is a count / n`);
        }
        for (const loss of [m.loss, m.cleanLoss]) assert.ok(Number.isFinite(loss) && loss > 0, `${split} loss ${loss}`);
      }
    }
  });

  test('labelNoise 0: noisy and clean metrics are equal; labelNoise 0.3: they differ', () => {
    for (const row of rowsOf(smallConfig({ dataset: { labelNoise: 0 }, training: { epochs: 2 } }))) {
      for (const split of SPLITS) {
        assert.equal(row[split].loss, row[split].cleanLoss, `epoch ${row.epoch} ${split} loss`);
        assert.equal(row[split].acc, row[split].cleanAcc, `epoch ${row.epoch} ${split} acc`);
      }
    }
    const noisy = rowsOf(smallConfig({ dataset: { labelNoise: 0.3 }, training: { epochs: 2 } }));
    for (const row of noisy) {
      for (const split of SPLITS) assert.notEqual(row[split].loss, row[split].cleanLoss, `epoch ${row.epoch} ${split}`);
    }
  });

  test('epoch-0 metrics match an independent computation, across evaluation chunks (nTest 5000)', () => {
    const config = smallConfig({
      model: { kind: 'linear' },
      dataset: { nTest: 5000 },
      training: { epochs: 1 },
    });
    const reference = linearReference(config, 0.1);
    const run = TrainingRun.start(config);
    try {
      const row = run.rows[0];
      assertClose(row.train.loss, reference.trainLoss, 1e-5, 'train loss');
      assertClose(row.test.loss, reference.testLoss, 1e-5, 'test loss');
      assertClose(row.test.acc, reference.testAcc, 1e-6, 'test accuracy');
    } finally {
      run.dispose();
    }
  });
});

describe('learning sanity on the demo data', () => {
  test('sinusoid2d, demo MLP at width 64, 60 epochs of SGD: clean test accuracy > 0.8', () => {
    const config = resolveTaskConfig({
      dataset: { name: 'sinusoid2d', nTest: 2000 },
      model: { kind: 'mlp', width: 64 },
      optimizer: { name: 'sgd', lr: 0.01, momentum: 0.9 },
      training: { epochs: 60, evalEvery: 60 },
    });
    assert.equal(config.model.kind === 'mlp' && config.model.depth, 4, 'the demo MLP has 4 hidden layers');
    assert.equal(config.dataset.name === 'sinusoid2d' && config.dataset.labelNoise, 0.1, 'the demo data has 10% label noise');
    const result = runTask(config);
    const [start, end] = [result.epochs[0], result.epochs.at(-1)!];
    assert.equal(end.epoch, 60);
    assert.ok(end.test.cleanAcc > 0.8, `clean test accuracy ${end.test.cleanAcc}`);
    assert.ok(end.test.cleanAcc > start.test.cleanAcc + 0.1, `learned: ${start.test.cleanAcc} -> ${end.test.cleanAcc}`);
    assert.ok(end.train.loss < start.train.loss, 'training loss went down');
  });
});
