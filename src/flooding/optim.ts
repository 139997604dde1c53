import { tf } from './backend.js';
import type { OptimizerConfig } from './config.js';

/**
 * SGD with momentum and Adam, written out (rather than tf.train.*) so that their state is plain
 * tensors a checkpoint can hold and restore exactly. Both follow PyTorch's update rules, weight
 * decay included (added to the gradient, as torch.optim.SGD/Adam do).
 */
export interface Optimizer {
  readonly lr: number;
  /** Applies one update. Takes ownership of `grads` (disposes them). */
  step(variables: tf.Variable[], grads: tf.Tensor[]): void;
  /** State tensors in a fixed order, for checkpoints (`count` is Adam's step counter). */
  exportState(): { tensors: tf.Tensor[]; count: number };
  importState(state: { tensors: Float32Array[]; count: number }): void;
  dispose(): void;
}

export function createOptimizer(config: OptimizerConfig, variables: tf.Variable[]): Optimizer {
  return config.name === 'sgd' ? new Sgd(config.lr, config.momentum, config.weightDecay, variables) : new Adam(config, variables);
}

/** Scales gradients so their global L2 norm is at most `maxNorm` (torch.nn.utils.clip_grad_norm_). */
export function clipByGlobalNorm(grads: tf.Tensor[], maxNorm: number): tf.Tensor[] {
  const total = tf.tidy(() => tf.addN(grads.map((g) => g.square().sum())).sqrt());
  const norm = total.dataSync()[0];
  total.dispose();
  const coefficient = maxNorm / (norm + 1e-6);
  if (coefficient >= 1) return grads;
  const clipped = grads.map((g) => g.mul(coefficient));
  tf.dispose(grads);
  return clipped;
}

function zerosLike(variables: tf.Variable[]): tf.Variable[] {
  return variables.map((v) => {
    const zeros = tf.zerosLike(v);
    const slot = tf.variable(zeros, false);
    zeros.dispose();
    return slot;
  });
}

function withWeightDecay(variable: tf.Tensor, grad: tf.Tensor, weightDecay: number): tf.Tensor {
  return weightDecay > 0 ? grad.add(variable.mul(weightDecay)) : grad;
}

function importInto(slots: tf.Variable[], values: Float32Array[]): void {
  if (values.length !== slots.length) throw new Error(`optimizer state has ${values.length} tensors, expected ${slots.length}`);
  slots.forEach((slot, i) => {
    if (values[i].length !== slot.size) throw new Error(`optimizer state tensor ${i} has ${values[i].length} values, expected ${slot.size}`);
    tf.tidy(() => slot.assign(tf.tensor(values[i], slot.shape)));
  });
}

class Sgd implements Optimizer {
  private readonly velocity: tf.Variable[];

  constructor(
    readonly lr: number,
    private readonly momentum: number,
    private readonly weightDecay: number,
    variables: tf.Variable[],
  ) {
    this.velocity = momentum > 0 ? zerosLike(variables) : [];
  }

  step(variables: tf.Variable[], grads: tf.Tensor[]): void {
    tf.tidy(() => {
      variables.forEach((variable, i) => {
        let direction = withWeightDecay(variable, grads[i], this.weightDecay);
        if (this.momentum > 0) {
          const v = this.velocity[i];
          v.assign(v.mul(this.momentum).add(direction));
          direction = v;
        }
        variable.assign(variable.sub(direction.mul(this.lr)));
      });
    });
    tf.dispose(grads);
  }

  exportState() {
    return { tensors: [...this.velocity], count: 0 };
  }

  importState(state: { tensors: Float32Array[]; count: number }): void {
    importInto(this.velocity, state.tensors);
  }

  dispose(): void {
    tf.dispose(this.velocity);
  }
}

class Adam implements Optimizer {
  readonly lr: number;
  private readonly firstMoment: tf.Variable[];
  private readonly secondMoment: tf.Variable[];
  private count = 0;

  constructor(
    private readonly config: Extract<OptimizerConfig, { name: 'adam' }>,
    variables: tf.Variable[],
  ) {
    this.lr = config.lr;
    this.firstMoment = zerosLike(variables);
    this.secondMoment = zerosLike(variables);
  }

  step(variables: tf.Variable[], grads: tf.Tensor[]): void {
    const { beta1, beta2, epsilon, weightDecay } = this.config;
    this.count += 1;
    const biasCorrection1 = 1 - beta1 ** this.count;
    const biasCorrection2 = 1 - beta2 ** this.count;
    tf.tidy(() => {
      variables.forEach((variable, i) => {
        const g = withWeightDecay(variable, grads[i], weightDecay);
        const m = this.firstMoment[i];
        const v = this.secondMoment[i];
        m.assign(m.mul(beta1).add(g.mul(1 - beta1)));
        v.assign(v.mul(beta2).add(g.square().mul(1 - beta2)));
        const denominator = v.sqrt().div(Math.sqrt(biasCorrection2)).add(epsilon);
        variable.assign(variable.sub(m.div(denominator).mul(this.lr / biasCorrection1)));
      });
    });
    tf.dispose(grads);
  }

  exportState() {
    return { tensors: [...this.firstMoment, ...this.secondMoment], count: this.count };
  }

  importState(state: { tensors: Float32Array[]; count: number }): void {
    importInto([...this.firstMoment, ...this.secondMoment], state.tensors);
    this.count = state.count;
  }

  dispose(): void {
    tf.dispose([...this.firstMoment, ...this.secondMoment]);
  }
}
