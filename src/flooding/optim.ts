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

/**
 * Scales gradients so their global L2 norm is at most `maxNorm` (torch.nn.utils.clip_grad_norm_),
 * on the device: no read-back. Below the limit the coefficient is exactly 1, which leaves them as they are.
 */
export function clipByGlobalNorm(grads: tf.Tensor[], maxNorm: number): tf.Tensor[] {
  const clipped = tf.tidy(() => {
    const norm = tf.addN(grads.map((g) => g.square().sum())).sqrt();
    const coefficient = tf.minimum(tf.scalar(maxNorm).div(norm.add(1e-6)), 1);
    return grads.map((g) => g.mul(coefficient));
  });
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

function importInto(slots: tf.Variable[], values: Float32Array[]): void {
  if (values.length !== slots.length) throw new Error(`optimizer state has ${values.length} tensors, expected ${slots.length}`);
  slots.forEach((slot, i) => {
    if (values[i].length !== slot.size)
      throw new Error(`optimizer state tensor ${i} has ${values[i].length} values, expected ${slot.size}`);
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
    const attrs = { lr: this.lr, momentum: this.momentum, weightDecay: this.weightDecay };
    variables.forEach((variable, i) => {
      if (this.momentum > 0) {
        const [updated, velocity] = fusedUpdate(SGD_STEP, { variable, grad: grads[i], velocity: this.velocity[i] }, attrs);
        assignAndDispose(this.velocity[i], velocity);
        assignAndDispose(variable, updated);
      } else {
        const [updated] = fusedUpdate(SGD_STEP, { variable, grad: grads[i] }, attrs);
        assignAndDispose(variable, updated);
      }
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
    const attrs = {
      lr: this.lr / (1 - beta1 ** this.count),
      beta1,
      beta2,
      epsilon,
      weightDecay,
      rootBiasCorrection2: Math.sqrt(1 - beta2 ** this.count),
    };
    variables.forEach((variable, i) => {
      const inputs = { variable, grad: grads[i], firstMoment: this.firstMoment[i], secondMoment: this.secondMoment[i] };
      const [updated, firstMoment, secondMoment] = fusedUpdate(ADAM_STEP, inputs, attrs);
      assignAndDispose(this.firstMoment[i], firstMoment);
      assignAndDispose(this.secondMoment[i], secondMoment);
      assignAndDispose(variable, updated);
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

/* ---------------------------------------------------------------------------------------------
 * The update of one variable as one kernel. Written as tf ops, SGD with momentum takes 4 kernel
 * calls per variable and Adam 13, each allocating a full-size intermediate. On wasm one kernel,
 * written here in JS over the backend's heap, computes the same float32 operations in the same
 * order (Math.fround after each, as the separate kernels round), so it gives the same bits as the
 * op-by-op expression (test/optim.test.ts). Elsewhere the op-by-op expression runs.
 * ------------------------------------------------------------------------------------------- */
const SGD_STEP = 'FloodsweepSgdStep';
const ADAM_STEP = 'FloodsweepAdamStep';
type Attrs = Record<string, number>;
type HeapBackend = tf.KernelBackend & {
  makeOutput(shape: number[], dtype: 'float32'): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array;
};

function fusedUpdate(kernelName: string, inputs: Record<string, tf.Tensor>, attrs: Attrs): tf.Tensor[] {
  if (tf.getBackend() === 'wasm') {
    return tf.engine().runKernel(kernelName, inputs, attrs) as unknown as tf.Tensor[];
  }
  return tf.tidy(() => (kernelName === SGD_STEP ? sgdOps(inputs, attrs) : adamOps(inputs, attrs)));
}

function assignAndDispose(target: tf.Variable, value: tf.Tensor): void {
  target.assign(value);
  value.dispose();
}

function sgdOps({ variable, grad, velocity }: Record<string, tf.Tensor>, { lr, momentum, weightDecay }: Attrs): tf.Tensor[] {
  let direction = weightDecay > 0 ? grad.add(variable.mul(weightDecay)) : grad;
  const outputs: tf.Tensor[] = [];
  if (velocity) {
    direction = velocity.mul(momentum).add(direction);
    outputs.push(direction);
  }
  return [variable.sub(direction.mul(lr)), ...outputs];
}

function adamOps({ variable, grad, firstMoment, secondMoment }: Record<string, tf.Tensor>, a: Attrs): tf.Tensor[] {
  const g = a.weightDecay > 0 ? grad.add(variable.mul(a.weightDecay)) : grad;
  const m = firstMoment.mul(a.beta1).add(g.mul(1 - a.beta1));
  const v = secondMoment.mul(a.beta2).add(g.square().mul(1 - a.beta2));
  const denominator = v.sqrt().div(a.rootBiasCorrection2).add(a.epsilon);
  return [variable.sub(m.div(denominator).mul(a.lr)), m, v];
}

const f32 = Math.fround;

tf.registerKernel({
  kernelName: SGD_STEP,
  backendName: 'wasm',
  kernelFunc: ({ inputs, backend, attrs }) => {
    const { lr, momentum, weightDecay } = attrs as unknown as Attrs;
    const heap = backend as HeapBackend;
    const { variable, grad, velocity } = inputs as Record<string, tf.TensorInfo>;
    const outputs = [heap.makeOutput(variable.shape, 'float32')];
    if (velocity) outputs.push(heap.makeOutput(variable.shape, 'float32'));
    // Views after every allocation: an allocation may grow the wasm memory and detach older views.
    const [w, g, wOut] = [variable, grad, outputs[0]].map((t) => heap.typedArrayFromHeap(t));
    if (weightDecay > 0) addWeightDecay(g, w, f32(weightDecay), wOut);
    const direction = weightDecay > 0 ? wOut : g;
    if (velocity)
      sgdMomentumLoop(w, direction, heap.typedArrayFromHeap(velocity), f32(lr), f32(momentum), wOut, heap.typedArrayFromHeap(outputs[1]));
    else sgdLoop(w, direction, f32(lr), wOut);
    return outputs;
  },
});

// Separate monomorphic loops: V8 optimises each to straight float32 arithmetic.
function addWeightDecay(g: Float32Array, w: Float32Array, weightDecay: number, out: Float32Array): void {
  for (let i = 0; i < w.length; i++) out[i] = f32(g[i] + f32(w[i] * weightDecay));
}

function sgdLoop(w: Float32Array, direction: Float32Array, lr: number, wOut: Float32Array): void {
  for (let i = 0; i < w.length; i++) wOut[i] = f32(w[i] - f32(direction[i] * lr));
}

function sgdMomentumLoop(
  w: Float32Array,
  direction: Float32Array,
  v: Float32Array,
  lr: number,
  momentum: number,
  wOut: Float32Array,
  vOut: Float32Array,
): void {
  for (let i = 0; i < w.length; i++) {
    const step = f32(f32(v[i] * momentum) + direction[i]);
    vOut[i] = step;
    wOut[i] = f32(w[i] - f32(step * lr));
  }
}

tf.registerKernel({
  kernelName: ADAM_STEP,
  backendName: 'wasm',
  kernelFunc: ({ inputs, backend, attrs }) => {
    const a = attrs as unknown as Attrs;
    const heap = backend as HeapBackend;
    const { variable, grad, firstMoment, secondMoment } = inputs as Record<string, tf.TensorInfo>;
    const outputs = [0, 1, 2].map(() => heap.makeOutput(variable.shape, 'float32'));
    const [w, g, m, v, wOut, mOut, vOut] = [variable, grad, firstMoment, secondMoment, ...outputs].map((t) => heap.typedArrayFromHeap(t));
    if (a.weightDecay > 0) addWeightDecay(g, w, f32(a.weightDecay), wOut);
    adamLoop(w, a.weightDecay > 0 ? wOut : g, m, v, a, wOut, mOut, vOut);
    return outputs;
  },
});

function adamLoop(
  w: Float32Array,
  g: Float32Array,
  m: Float32Array,
  v: Float32Array,
  a: Attrs,
  wOut: Float32Array,
  mOut: Float32Array,
  vOut: Float32Array,
): void {
  const [beta1, beta2, oneMinusBeta1, oneMinusBeta2] = [f32(a.beta1), f32(a.beta2), f32(1 - a.beta1), f32(1 - a.beta2)];
  const [rootBiasCorrection2, epsilon, lr] = [f32(a.rootBiasCorrection2), f32(a.epsilon), f32(a.lr)];
  for (let i = 0; i < w.length; i++) {
    const gi = g[i];
    const mi = f32(f32(m[i] * beta1) + f32(gi * oneMinusBeta1));
    const vi = f32(f32(v[i] * beta2) + f32(f32(gi * gi) * oneMinusBeta2));
    const denominator = f32(f32(f32(Math.sqrt(vi)) / rootBiasCorrection2) + epsilon);
    mOut[i] = mi;
    vOut[i] = vi;
    wOut[i] = f32(w[i] - f32(f32(mi / denominator) * lr));
  }
}
