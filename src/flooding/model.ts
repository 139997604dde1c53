import { tf } from './backend.js';
import type { ModelConfig } from './config.js';
import { Rng } from './rng.js';

const BATCH_NORM_EPSILON = 1e-5;
/** Weight of the current batch in the running statistics (PyTorch's BatchNorm1d default). */
const BATCH_NORM_MOMENTUM = 0.1;

interface HiddenLayer {
  kernel: tf.Variable;
  /** Present when the layer has no batch norm (batch norm's shift makes a bias redundant). */
  bias?: tf.Variable;
  batchNorm?: { gamma: tf.Variable; beta: tf.Variable; runningMean: tf.Variable; runningVariance: tf.Variable };
}

/** Batch statistics seen in a training forward pass, applied to the running averages afterwards. */
type BatchStats = Array<{ mean: tf.Tensor1D; variance: tf.Tensor1D; count: number }>;

/**
 * The paper's demo MLP (Dense without bias -> BatchNorm -> ReLU, `depth` times, then a Dense output
 * with bias), or a linear model. Initialised like PyTorch's nn.Linear: U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
 */
export class Model {
  private constructor(
    private readonly hidden: HiddenLayer[],
    private readonly outKernel: tf.Variable,
    private readonly outBias: tf.Variable,
  ) {}

  static create(config: ModelConfig, inputDim: number, numClasses: number, seed: number): Model {
    const rng = Rng.stream(seed, 'init');
    const hidden: HiddenLayer[] = [];
    let fanIn = inputDim;
    if (config.kind === 'mlp') {
      for (let i = 0; i < config.depth; i++) {
        const width = config.width;
        const layer: HiddenLayer = { kernel: uniformVariable(rng, [fanIn, width], fanIn) };
        if (config.batchNorm) {
          layer.batchNorm = {
            gamma: variableOf(new Float32Array(width).fill(1), [width], true),
            beta: variableOf(new Float32Array(width), [width], true),
            runningMean: variableOf(new Float32Array(width), [width], false),
            runningVariance: variableOf(new Float32Array(width).fill(1), [width], false),
          };
        } else {
          layer.bias = uniformVariable(rng, [width], fanIn);
        }
        hidden.push(layer);
        fanIn = width;
      }
    }
    const outKernel = uniformVariable(rng, [fanIn, numClasses], fanIn);
    const outBias = uniformVariable(rng, [numClasses], fanIn);
    return new Model(hidden, outKernel, outBias);
  }

  /** Variables the optimizer updates, in a fixed order. */
  get trainable(): tf.Variable[] {
    const vars: tf.Variable[] = [];
    for (const layer of this.hidden) {
      vars.push(layer.kernel);
      if (layer.bias) vars.push(layer.bias);
      if (layer.batchNorm) vars.push(layer.batchNorm.gamma, layer.batchNorm.beta);
    }
    vars.push(this.outKernel, this.outBias);
    return vars;
  }

  /** Every variable, trainable or not: what a checkpoint must hold. */
  get variables(): tf.Variable[] {
    const running = this.hidden.flatMap((l) => (l.batchNorm ? [l.batchNorm.runningMean, l.batchNorm.runningVariance] : []));
    return [...this.trainable, ...running];
  }

  /** Logits in inference mode (batch norm uses its running statistics). */
  predict(x: tf.Tensor2D): tf.Tensor2D {
    return this.forward(x, undefined);
  }

  /**
   * Logits in training mode (batch norm normalises with the batch's own statistics, which are
   * recorded in `stats` for `updateRunningStats`). Call inside a gradient function.
   */
  forwardTraining(x: tf.Tensor2D, stats: BatchStats): tf.Tensor2D {
    return this.forward(x, stats);
  }

  /** Moves the running averages towards the recorded batch statistics, then disposes them. */
  updateRunningStats(stats: BatchStats): void {
    tf.tidy(() => {
      stats.forEach(({ mean, variance, count }, i) => {
        const bn = this.hidden[i].batchNorm!;
        // Like PyTorch: the running variance takes the unbiased batch variance.
        const unbiased = count > 1 ? variance.mul(count / (count - 1)) : variance;
        bn.runningMean.assign(bn.runningMean.mul(1 - BATCH_NORM_MOMENTUM).add(mean.mul(BATCH_NORM_MOMENTUM)));
        bn.runningVariance.assign(bn.runningVariance.mul(1 - BATCH_NORM_MOMENTUM).add(unbiased.mul(BATCH_NORM_MOMENTUM)));
      });
    });
    for (const { mean, variance } of stats) tf.dispose([mean, variance]);
  }

  dispose(): void {
    tf.dispose(this.variables);
  }

  private forward(x: tf.Tensor2D, trainingStats: BatchStats | undefined): tf.Tensor2D {
    return tf.tidy(() => {
      let h: tf.Tensor2D = x;
      for (const layer of this.hidden) {
        h = tf.matMul(h, layer.kernel);
        if (layer.bias) h = h.add(layer.bias);
        if (layer.batchNorm) {
          const bn = layer.batchNorm;
          let mean: tf.Tensor1D = bn.runningMean as tf.Tensor1D;
          let variance: tf.Tensor1D = bn.runningVariance as tf.Tensor1D;
          if (trainingStats) {
            const moments = tf.moments(h, 0);
            mean = moments.mean as tf.Tensor1D;
            variance = moments.variance as tf.Tensor1D;
            trainingStats.push({ mean: tf.keep(mean.clone()), variance: tf.keep(variance.clone()), count: h.shape[0] });
          }
          h = h.sub(mean).div(variance.add(BATCH_NORM_EPSILON).sqrt()).mul(bn.gamma).add(bn.beta);
        }
        h = tf.relu(h);
      }
      return tf.matMul(h, this.outKernel).add(this.outBias) as tf.Tensor2D;
    });
  }
}

function uniformVariable(rng: Rng, shape: number[], fanIn: number): tf.Variable {
  const bound = 1 / Math.sqrt(fanIn);
  const values = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < values.length; i++) values[i] = rng.uniformIn(-bound, bound);
  return variableOf(values, shape, true);
}

// Unnamed: tfjs names must be unique per process, and several models live in one process.
function variableOf(values: Float32Array, shape: number[], trainable: boolean): tf.Variable {
  const initial = tf.tensor(values, shape);
  const variable = tf.variable(initial, trainable);
  initial.dispose();
  return variable;
}
