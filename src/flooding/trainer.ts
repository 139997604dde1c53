import { activeBackend, backendDescription, tf } from './backend.js';
import { allFinite, type Checkpoint, CheckpointError, decodeCheckpoint, encodeCheckpoint } from './checkpoint.js';
import { configHash, EVAL_ROWS_PER_PASS, type TaskConfig } from './config.js';
import type { Dataset, Split } from './datasets.js';
import { FloodsweepError } from './errors.js';
import { LayersNetwork } from './layers-network.js';
import { makeDataset } from './make-dataset.js';
import { type EpochMetrics, SPLITS, type TaskResult } from './metrics.js';
import { type BatchStats, type InferenceModel, Model, type Network } from './model.js';
import { clipByGlobalNorm, createOptimizer, type Optimizer } from './optim.js';
import { Rng } from './rng.js';

/**
 * A run whose training loss or a metric became NaN or infinite. Deterministic (the same config
 * diverges again), so the workflow does not retry it: the task fails.
 */
export class DivergenceError extends FloodsweepError {
  override name = 'DivergenceError';

  constructor(epoch: number, what: string) {
    super('training', `diverged at epoch ${epoch}: ${what}`);
  }
}

interface SplitTensors {
  x: tf.Tensor2D;
  labels: tf.Tensor2D;
  cleanLabels: tf.Tensor2D;
  labelIndices: tf.Tensor1D;
  cleanLabelIndices: tf.Tensor1D;
  n: number;
  /** The split's values in JavaScript, from which mini-batches are cut. */
  values: Split;
  numClasses: number;
}

/**
 * One task's training: mini-batch descent on the flooded mean loss |L - b| + b (plain mean loss
 * when b = 0), evaluated in inference mode at epoch 0, every `evalEvery` epochs and at the last.
 * Stepwise, so that callers can stop at a time budget and checkpoint.
 */
export class TrainingRun {
  private pending = { batches: 0, flooded: 0, objectiveSum: 0, seconds: 0 };
  readonly rows: EpochMetrics[] = [];

  private constructor(
    readonly config: TaskConfig,
    private readonly data: { train: SplitTensors; val: SplitTensors; test: SplitTensors },
    private readonly model: Network,
    private readonly optimizer: Optimizer,
    private shuffleRng: Rng,
    private epochsDone: number,
  ) {}

  /** A fresh run; evaluates epoch 0 (the untrained model) right away. */
  static start(config: TaskConfig, dataset: Dataset = makeDataset(config.dataset, config.seed)): TrainingRun {
    const run = TrainingRun.build(config, dataset, Rng.stream(config.seed, 'shuffle'), 0);
    run.rows.push(run.evaluate());
    return run;
  }

  /** Continues a run from checkpoint bytes, bit for bit as if it had never stopped. */
  static resume(config: TaskConfig, bytes: Uint8Array, dataset: Dataset = makeDataset(config.dataset, config.seed)): TrainingRun {
    const checkpoint = decodeCheckpoint(bytes);
    if (checkpoint.configHash !== configHash(config)) {
      throw new CheckpointError(`checkpoint belongs to task ${checkpoint.configHash}, not ${configHash(config)}`);
    }
    if (checkpoint.backend && checkpoint.backend !== activeBackend()) {
      throw new CheckpointError(
        `checkpoint was written on the ${checkpoint.backend} backend and this run trains on ${activeBackend()}; ` +
          `resume with --backend ${checkpoint.backend}, or retrain the task from scratch with --restart-task`,
      );
    }
    const run = TrainingRun.build(config, dataset, Rng.fromState(checkpoint.shuffleRng), checkpoint.epoch);
    const variables = run.model.variables;
    if (checkpoint.modelTensors.length !== variables.length) {
      run.dispose();
      throw new CheckpointError(`checkpoint holds ${checkpoint.modelTensors.length} model tensors, the model has ${variables.length}`);
    }
    try {
      variables.forEach((v, i) => {
        if (checkpoint.modelTensors[i].length !== v.size) throw new CheckpointError(`checkpoint model tensor ${i} has the wrong size`);
        tf.tidy(() => v.assign(tf.tensor(checkpoint.modelTensors[i], v.shape)));
      });
      run.optimizer.importState({ tensors: checkpoint.optimizerTensors, count: checkpoint.optimizerCount });
    } catch (error) {
      run.dispose();
      throw error instanceof CheckpointError
        ? error
        : new CheckpointError(`checkpoint does not fit the model: ${(error as Error).message}`);
    }
    run.pending = { ...checkpoint.pending };
    run.rows.push(...checkpoint.rows);
    return run;
  }

  private static build(config: TaskConfig, dataset: Dataset, shuffleRng: Rng, epochsDone: number): TrainingRun {
    const data = {
      train: toTensors(dataset.train, dataset.numClasses),
      val: toTensors(dataset.val, dataset.numClasses),
      test: toTensors(dataset.test, dataset.numClasses),
    };
    const model =
      config.model.kind === 'layers'
        ? LayersNetwork.create(config.model, dataset.dim, dataset.numClasses, config.seed)
        : Model.create(config.model, dataset.dim, dataset.numClasses, config.seed);
    const optimizer = createOptimizer(config.optimizer, model.trainable);
    return new TrainingRun(config, data, model, optimizer, shuffleRng, epochsDone);
  }

  get epoch(): number {
    return this.epochsDone;
  }

  get finished(): boolean {
    return this.epochsDone >= this.config.training.epochs;
  }

  /** Trains one epoch; returns the evaluated row when this epoch is evaluated. */
  trainEpoch(): EpochMetrics | undefined {
    const started = performance.now();
    const { batchSize } = this.config.training;
    const floodLevel = this.config.floodLevel;
    const perSample = this.config.training.flooding === 'sample';
    const train = this.data.train;
    const order = this.shuffleRng.permutation(train.n);
    // Each step's mean loss and objective stay on the device; one read-back per epoch.
    const stepScalars: tf.Scalar[] = [];
    for (let start = 0; start < train.n; start += batchSize) {
      const { x, y } = miniBatch(train, order.subarray(start, Math.min(start + batchSize, train.n)));
      const batchStats: BatchStats = [];
      let meanLoss: tf.Scalar | undefined;
      const { value, grads } = tf.variableGrads(() => {
        const logits = this.model.forwardTraining(x, batchStats);
        if (perSample && floodLevel !== 0) {
          // iFlood: each sample's loss flooded as below, then the mean.
          const losses = sampleCrossEntropies(logits, y);
          meanLoss = tf.keep(losses.mean() as tf.Scalar);
          const gap = losses.sub(floodLevel);
          return gap.mul(tf.sign(gap)).mean().add(floodLevel) as tf.Scalar;
        }
        const loss = meanCrossEntropy(logits, y);
        meanLoss = tf.keep(loss);
        if (floodLevel === 0) return loss;
        // |L - b| + b written as (L - b) * sign(L - b) + b: sign has a zero gradient, so the
        // gradient is sign(L - b) dL, which is 0 (not tfjs abs's -1) when L equals b exactly.
        const gap = loss.sub(floodLevel);
        return gap.mul(tf.sign(gap)).add(floodLevel) as tf.Scalar;
      }, this.model.trainable);
      const vars = this.model.trainable;
      let gradList = vars.map((v) => grads[v.name]);
      if (this.config.training.clipNorm !== null) gradList = clipByGlobalNorm(gradList, this.config.training.clipNorm);
      this.optimizer.step(vars, gradList);
      this.model.updateRunningStats(batchStats);
      stepScalars.push(meanLoss!, value);
      tf.dispose([x, y]);
    }
    const values = readScalars(stepScalars);
    tf.dispose(stepScalars);
    const nonFiniteLoss = values.find((value) => !Number.isFinite(value));
    if (nonFiniteLoss !== undefined) throw new DivergenceError(this.epochsDone + 1, `the training loss is ${nonFiniteLoss}`);
    for (let i = 0; i < values.length; i += 2) {
      this.pending.batches += 1;
      if (values[i] < floodLevel) this.pending.flooded += 1;
      this.pending.objectiveSum += values[i + 1];
    }
    this.epochsDone += 1;
    this.pending.seconds += (performance.now() - started) / 1000;
    const { evalEvery, epochs } = this.config.training;
    if (this.epochsDone % evalEvery !== 0 && this.epochsDone !== epochs) return undefined;
    const row = this.evaluate();
    this.rows.push(row);
    return row;
  }

  checkpoint(): Uint8Array {
    const state = this.optimizer.exportState();
    const modelTensors = this.model.variables.map((v) => v.dataSync() as Float32Array);
    const optimizerTensors = state.tensors.map((t) => t.dataSync() as Float32Array);
    // Checked here too, so that no checkpoint holds non-finite weights: reading one back means damage.
    if (![...modelTensors, ...optimizerTensors].every(allFinite)) {
      throw new DivergenceError(this.epochsDone, 'the model or optimizer state is not finite');
    }
    const checkpoint: Checkpoint = {
      configHash: configHash(this.config),
      backend: activeBackend(),
      epoch: this.epochsDone,
      modelTensors,
      optimizerTensors,
      optimizerCount: state.count,
      shuffleRng: this.shuffleRng.state(),
      pending: { ...this.pending },
      rows: this.rows,
    };
    return encodeCheckpoint(checkpoint);
  }

  result(): TaskResult {
    const last = this.rows[this.rows.length - 1];
    return {
      backend: backendDescription(),
      config: this.config,
      final: { train: last.train, val: last.val, test: last.test },
      epochs: this.rows,
    };
  }

  dispose(): void {
    this.model.dispose();
    this.optimizer.dispose();
    for (const split of Object.values(this.data)) {
      tf.dispose([split.x, split.labels, split.cleanLabels, split.labelIndices, split.cleanLabelIndices]);
    }
  }

  private evaluate(): EpochMetrics {
    const { batches, flooded, objectiveSum, seconds } = this.pending;
    const splits = [this.data.train, this.data.val, this.data.test];
    const inference = this.model.forInference();
    const splitSums = splits.flatMap((split) => this.splitSums(inference, split));
    inference.dispose();
    const sums = readScalars(splitSums);
    tf.dispose(splitSums);
    const [train, val, test] = splits.map((split, i) => {
      const [loss, correct, cleanLoss, cleanCorrect] = sums.subarray(4 * i, 4 * i + 4);
      return { loss: loss / split.n, acc: correct / split.n, cleanLoss: cleanLoss / split.n, cleanAcc: cleanCorrect / split.n };
    });
    const row: EpochMetrics = {
      epoch: this.epochsDone,
      train,
      val,
      test,
      floodedFraction: batches > 0 ? flooded / batches : 0,
      objective: batches > 0 ? objectiveSum / batches : 0,
      lr: this.optimizer.lr,
      seconds,
    };
    const nonFinite = nonFiniteMetric(row);
    if (nonFinite) throw new DivergenceError(this.epochsDone, `${nonFinite.name} is ${nonFinite.value}`);
    this.pending = { batches: 0, flooded: 0, objectiveSum: 0, seconds: 0 };
    return row;
  }

  /** Summed loss, correct count, clean loss and clean correct count of a split, left on the device. */
  private splitSums(inference: InferenceModel, split: SplitTensors): tf.Scalar[] {
    return tf.tidy(() => {
      let totals: tf.Scalar[] | undefined;
      for (let start = 0; start < split.n; start += EVAL_ROWS_PER_PASS) {
        const size = Math.min(EVAL_ROWS_PER_PASS, split.n - start);
        const logits = inference.predict(split.x.slice([start, 0], [size, -1]));
        const logProbs = tf.logSoftmax(logits);
        const predicted = logits.argMax(1);
        const lossOf = (labels: tf.Tensor2D) => labels.slice([start, 0], [size, -1]).mul(logProbs).sum().neg() as tf.Scalar;
        const correctOf = (indices: tf.Tensor1D) => predicted.equal(indices.slice(start, size)).sum().cast('float32') as tf.Scalar;
        const chunk = [lossOf(split.labels), correctOf(split.labelIndices), lossOf(split.cleanLabels), correctOf(split.cleanLabelIndices)];
        totals = totals ? totals.map((total, i) => total.add(chunk[i]) as tf.Scalar) : chunk;
      }
      return totals!;
    });
  }
}

/** The first metric of a row that is NaN or infinite, named by its path (`val.loss`). */
function nonFiniteMetric(row: EpochMetrics): { name: string; value: number } | undefined {
  for (const split of SPLITS) {
    for (const [metric, value] of Object.entries(row[split])) {
      if (!Number.isFinite(value)) return { name: `${split}.${metric}`, value };
    }
  }
  if (!Number.isFinite(row.objective)) return { name: 'objective', value: row.objective };
  return undefined;
}

/** The values of scalar tensors in one read-back. */
function readScalars(scalars: tf.Scalar[]): Float32Array {
  const stacked = tf.stack(scalars);
  const values = stacked.dataSync() as Float32Array;
  stacked.dispose();
  return values;
}

/** Mean cross-entropy of softmax(logits) against one-hot labels, with the gradient (softmax - labels) / n. */
function meanCrossEntropy(logits: tf.Tensor2D, oneHot: tf.Tensor2D): tf.Scalar {
  const n = logits.shape[0];
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [z, save] = args as [tf.Tensor, tf.GradSaveFunc];
    const logProbs = tf.logSoftmax(z);
    save([logProbs]);
    return {
      value: logProbs
        .mul(oneHot)
        .sum()
        .mul(-1 / n) as tf.Scalar,
      gradFunc: (dy: tf.Tensor, [saved]: tf.Tensor[]) => saved.exp().sub(oneHot).mul(dy.div(n)),
    };
  });
  return op(logits) as tf.Scalar;
}

/** Cross-entropy of softmax(logits) against one-hot labels, one per row, with the gradient (softmax - labels) per row. */
function sampleCrossEntropies(logits: tf.Tensor2D, oneHot: tf.Tensor2D): tf.Tensor1D {
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [z, save] = args as [tf.Tensor, tf.GradSaveFunc];
    const logProbs = tf.logSoftmax(z);
    save([logProbs]);
    return {
      value: logProbs.mul(oneHot).sum(1).neg() as tf.Tensor1D,
      gradFunc: (dy: tf.Tensor, [saved]: tf.Tensor[]) => saved.exp().sub(oneHot).mul(dy.expandDims(1)),
    };
  });
  return op(logits) as tf.Tensor1D;
}

/**
 * The rows of a mini-batch and their one-hot labels, cut in JavaScript and uploaded: tf.gather on
 * wasm reads its indices back from the device to check their bounds, twice a step.
 */
function miniBatch({ values, numClasses }: SplitTensors, rows: Int32Array): { x: tf.Tensor2D; y: tf.Tensor2D } {
  const { dim } = values;
  const x = new Float32Array(rows.length * dim);
  const y = new Float32Array(rows.length * numClasses);
  rows.forEach((row, i) => {
    x.set(values.x.subarray(row * dim, (row + 1) * dim), i * dim);
    y[i * numClasses + values.labels[row]] = 1;
  });
  return { x: tf.tensor2d(x, [rows.length, dim]), y: tf.tensor2d(y, [rows.length, numClasses]) };
}

function toTensors(split: Split, numClasses: number): SplitTensors {
  const tensors = tf.tidy(() => {
    const labelIndices = tf.tensor1d(split.labels, 'int32');
    const cleanLabelIndices = tf.tensor1d(split.cleanLabels, 'int32');
    return {
      x: tf.tensor2d(split.x, [split.n, split.dim]),
      labels: tf.oneHot(labelIndices, numClasses).cast('float32') as tf.Tensor2D,
      cleanLabels: tf.oneHot(cleanLabelIndices, numClasses).cast('float32') as tf.Tensor2D,
      labelIndices,
      cleanLabelIndices,
    };
  });
  return { ...tensors, n: split.n, values: split, numClasses };
}

/** Trains a task from start to finish; `onEpoch` hears of every trained epoch (with its row when evaluated). */
export function runTask(
  config: TaskConfig,
  hooks: { onEpoch?: (epoch: number, row: EpochMetrics | undefined) => void; dataset?: Dataset } = {},
): TaskResult {
  const run = TrainingRun.start(config, hooks.dataset);
  try {
    while (!run.finished) {
      const row = run.trainEpoch();
      hooks.onEpoch?.(run.epoch, row);
    }
    return run.result();
  } finally {
    run.dispose();
  }
}
