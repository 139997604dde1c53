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
export type BatchStats = Array<{ mean: tf.Tensor1D; variance: tf.Tensor1D; count: number }>;

/** What the trainer needs of a model: the built-in ones (Model) and models from a file (LayersNetwork). */
export interface Network {
  /** Variables the optimizer updates, in a fixed order. */
  readonly trainable: tf.Variable[];
  /** Every variable, trainable or not: what a checkpoint must hold. */
  readonly variables: tf.Variable[];
  forInference(): InferenceModel;
  /** Logits in training mode; call inside a gradient function. */
  forwardTraining(x: tf.Tensor2D, stats: BatchStats): tf.Tensor2D;
  updateRunningStats(stats: BatchStats): void;
  dispose(): void;
}

/**
 * The paper's demo MLP (Dense without bias -> BatchNorm -> ReLU, `depth` times, then a Dense output
 * with bias), or a linear model. Initialised like PyTorch's nn.Linear: U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
 */
export class Model implements Network {
  private constructor(
    private readonly hidden: HiddenLayer[],
    private readonly outKernel: tf.Variable,
    private readonly outBias: tf.Variable,
  ) {}

  static create(config: ModelConfig, inputDim: number, numClasses: number, seed: number): Model {
    if (config.kind === 'layers') throw new Error('Model builds the built-in models; LayersNetwork builds models from files');
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

  /**
   * The model in inference mode with batch norm folded into the dense weights (inference-mode batch
   * norm is affine): one fused matMul + bias + ReLU per layer. It holds its own copies of the
   * weights, valid until the next update; dispose it after use.
   */
  forInference(): InferenceModel {
    const layers: FoldedLayer[] = this.hidden.map((layer) => {
      const [kernel, bias] = tf.tidy(() => {
        if (!layer.batchNorm) return [layer.kernel.clone(), layer.bias!.clone()];
        const { gamma, beta, runningMean, runningVariance } = layer.batchNorm;
        const scale = gamma.mul(runningVariance.add(BATCH_NORM_EPSILON).rsqrt());
        return [layer.kernel.mul(scale), beta.sub(runningMean.mul(scale))];
      });
      return { kernel: kernel as tf.Tensor2D, bias: bias as tf.Tensor1D, relu: true };
    });
    layers.push({ kernel: this.outKernel.clone() as tf.Tensor2D, bias: this.outBias.clone() as tf.Tensor1D, relu: false });
    return {
      predict: (x) =>
        tf.tidy(() => {
          let h = x;
          for (const { kernel, bias, relu } of layers)
            h = tf.fused.matMul({ a: h, b: kernel, bias, activation: relu ? 'relu' : 'linear' }) as tf.Tensor2D;
          return h;
        }),
      dispose: () => tf.dispose(layers.flatMap(({ kernel, bias }) => [kernel, bias])),
    };
  }

  /**
   * Logits in training mode (batch norm normalises with the batch's own statistics, which are
   * recorded in `stats` for `updateRunningStats`). Call inside a gradient function.
   */
  forwardTraining(x: tf.Tensor2D, stats: BatchStats): tf.Tensor2D {
    let h: tf.Tensor2D = x;
    for (const layer of this.hidden) {
      if (layer.batchNorm) {
        h = batchNormRelu(tf.matMul(h, layer.kernel as tf.Tensor2D), layer.batchNorm.gamma, layer.batchNorm.beta, stats);
      } else {
        h = tf.fused.matMul({ a: h, b: layer.kernel as tf.Tensor2D, bias: layer.bias, activation: 'relu' }) as tf.Tensor2D;
      }
    }
    return tf.fused.matMul({ a: h, b: this.outKernel as tf.Tensor2D, bias: this.outBias }) as tf.Tensor2D;
  }

  /** Moves the running averages towards the recorded batch statistics, then disposes them. */
  updateRunningStats(stats: BatchStats): void {
    tf.tidy(() => {
      stats.forEach(({ mean, variance, count }, i) => {
        const bn = this.hidden[i].batchNorm!;
        // Like PyTorch: the running variance takes the unbiased batch variance.
        const unbiasedWeight = count > 1 ? (BATCH_NORM_MOMENTUM * count) / (count - 1) : BATCH_NORM_MOMENTUM;
        bn.runningMean.assign(bn.runningMean.mul(1 - BATCH_NORM_MOMENTUM).add(mean.mul(BATCH_NORM_MOMENTUM)));
        bn.runningVariance.assign(bn.runningVariance.mul(1 - BATCH_NORM_MOMENTUM).add(variance.mul(unbiasedWeight)));
      });
    });
    for (const { mean, variance } of stats) tf.dispose([mean, variance]);
  }

  dispose(): void {
    tf.dispose(this.variables);
  }
}

interface FoldedLayer {
  kernel: tf.Tensor2D;
  bias: tf.Tensor1D;
  relu: boolean;
}

export interface InferenceModel {
  /** Logits of `x`. */
  predict(x: tf.Tensor2D): tf.Tensor2D;
  dispose(): void;
}

/**
 * ReLU(batch norm(h)) with the batch's own statistics, as one op with a hand-written gradient:
 * about 20 kernels forward and backward instead of the 60-odd that autodiff of the composite
 * expression takes. Records the batch mean and (biased) variance in `stats`.
 */
function batchNormRelu(h: tf.Tensor2D, gamma: tf.Variable, beta: tf.Variable, stats: BatchStats): tf.Tensor2D {
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [input, scale, shift] = args as tf.Tensor[];
    const save = args[3] as tf.GradSaveFunc;
    const mean = input.mean(0);
    const centered = input.sub(mean);
    const variance = centered.square().mean(0);
    const invStd = variance.add(BATCH_NORM_EPSILON).rsqrt();
    const normalized = centered.mul(invStd);
    const out = tf.relu(normalized.mul(scale).add(shift));
    stats.push({ mean: tf.keep(mean.clone()) as tf.Tensor1D, variance: tf.keep(variance.clone()) as tf.Tensor1D, count: input.shape[0] });
    save([normalized, invStd, scale, out]);
    return {
      value: out,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [normalizedSaved, invStdSaved, scaleSaved, outSaved] = saved;
        const n = normalizedSaved.shape[0];
        const dz = dy.mul(tf.step(outSaved));
        const dShift = dz.sum(0);
        const dScale = dz.mul(normalizedSaved).sum(0);
        // d/dh of batch norm: (gamma / sigma) * (dz - mean(dz) - x_hat * mean(dz * x_hat)).
        const dInput = scaleSaved.mul(invStdSaved).mul(dz.sub(normalizedSaved.mul(dScale).add(dShift).div(n)));
        return [dInput, dScale, dShift];
      },
    };
  });
  return op(h, gamma, beta) as tf.Tensor2D;
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
