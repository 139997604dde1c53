import { backendDescription, initBackend, setTransposeFirstMatMul, tf } from '../src/flooding/backend.js';
import { LIMITS, resolveTaskConfig } from '../src/flooding/config.js';
import { Model } from '../src/flooding/model.js';
import type { BackendName } from '../src/flooding/names.js';
import { TrainingRun } from '../src/flooding/trainer.js';
import { denseShapes, type Plan, type Workload } from './plan.js';
import { type Timing, timeRepeats } from './timing.js';

/** What both the tfjs backends and the PyTorch reference report. */
export interface Figures {
  /** One training step (forward, backward, update) on a full batch. */
  trainStep: Timing;
  /** An inference-mode forward pass over `evalSamples` samples, in evaluation-sized chunks. */
  evaluation: Timing;
  evalSamples: number;
  /** One demo epoch without evaluation: a single step on the whole (smaller than a batch) training set. */
  epochTrainOnly: Timing;
  /** One demo epoch followed by the evaluation of train, val and test (absent when the plan skips it). */
  epochWithEval?: Timing;
}

/** One batch size of the training table. */
export interface BatchSizeFigures {
  batchSize: number;
  /** One training step on a full batch. */
  trainStep: Timing;
  /** Backend kernel calls tfjs dispatches per step (counted over one epoch of `countedSteps` steps). */
  kernelCallsPerStep: number;
  /** Reads of tensor data back into JavaScript per step (same epoch). */
  readBacksPerStep: number;
  /**
   * The step's products alone (forward, dX and dW of every dense layer) as plain matMuls on fresh
   * right-hand operands, as in training, where the weights and gradients are new at every step and
   * XNNPACK packs them again: the speed the step's matrix work can reach on this backend.
   */
  products: Timing;
}

export interface TfjsFigures extends Figures {
  backend: BackendName;
  /** As results name it: tfjs-node with its libtensorflow version. */
  description: string;
  /** A plain n x n x n product (n = ceilingSize): the fastest matrix work this backend does here. */
  matMulCeiling: Timing;
  ceilingSize: number;
  batchSizes: BatchSizeFigures[];
  /** The training step with tfjs-backend-wasm's own transposed matmul (wasm only). */
  trainStepWithoutTransposeFirst?: Timing;
}

/**
 * Runs long enough that no benchmark finishes one, within the config's limits: unevaluated (one
 * evaluation, at epoch 0), or evaluated at every epoch (at most LIMITS.evaluatedEpochs of them).
 */
const UNEVALUATED = { epochs: LIMITS.epochs, evalEvery: LIMITS.epochs };
const EVALUATED = { epochs: LIMITS.evaluatedEpochs, evalEvery: 1 };

/** Initialises `backend` and measures it, or says why it cannot start here. */
export async function measureTfjs(
  backend: BackendName,
  workload: Workload,
  plan: Plan,
  progress: (line: string) => void,
): Promise<TfjsFigures | { backend: BackendName; unavailable: string }> {
  try {
    await initBackend(backend);
  } catch (error) {
    return { backend, unavailable: (error as Error).message };
  }
  progress(`${backend}: training step`);
  const stepRun = startRun(workload, { nTrain: workload.batchSize, nVal: 1, nTest: 1 }, UNEVALUATED);
  const trainStep = timeRepeats(() => stepRun.trainEpoch(), plan.step);
  let trainStepWithoutTransposeFirst: Timing | undefined;
  const withoutTransposeFirst = plan.stepWithoutTransposeFirst;
  if (backend === 'wasm' && withoutTransposeFirst) {
    progress(`${backend}: training step without the transpose-first matmul`);
    setTransposeFirstMatMul(false);
    try {
      trainStepWithoutTransposeFirst = timeRepeats(() => stepRun.trainEpoch(), withoutTransposeFirst);
    } finally {
      setTransposeFirstMatMul(true);
    }
  }
  stepRun.dispose();

  const batchSizes: BatchSizeFigures[] = [];
  for (const batchSize of plan.batchSizes) {
    progress(`${backend}: batch ${batchSize}: training step, kernel calls, read-backs, products alone`);
    batchSizes.push(await measureBatchSize({ ...workload, batchSize }, plan));
  }

  progress(`${backend}: inference over ${plan.evalSamples} samples`);
  const evaluation = measureInference(workload, plan);

  progress(`${backend}: demo epoch`);
  // Only the training set matters without evaluation; tiny val and test sets keep the start-up evaluation short.
  const trainOnlyRun = startRun(workload, { nTrain: workload.nTrain, nVal: 1, nTest: 1 }, UNEVALUATED);
  const epochTrainOnly = timeRepeats(() => trainOnlyRun.trainEpoch(), plan.epochTrainOnly);
  trainOnlyRun.dispose();
  let epochWithEval: Timing | undefined;
  if (plan.epochWithEval) {
    const evaluatedRun = startRun(workload, { nTrain: workload.nTrain, nVal: workload.nVal, nTest: workload.nTest }, EVALUATED);
    epochWithEval = timeRepeats(() => evaluatedRun.trainEpoch(), plan.epochWithEval);
    evaluatedRun.dispose();
  }

  progress(`${backend}: matmul ceiling (${plan.ceilingSize} x ${plan.ceilingSize} x ${plan.ceilingSize})`);
  const matMulCeiling = measureCeiling(plan);

  return {
    backend,
    description: backendDescription(),
    matMulCeiling,
    ceilingSize: plan.ceilingSize,
    trainStep,
    trainStepWithoutTransposeFirst,
    batchSizes,
    evaluation,
    evalSamples: plan.evalSamples,
    epochTrainOnly,
    epochWithEval,
  };
}

function startRun(
  workload: Workload,
  sizes: { nTrain: number; nVal: number; nTest: number },
  length: { epochs: number; evalEvery: number },
): TrainingRun {
  const config = resolveTaskConfig({
    dataset: { name: 'sinusoid2d', ...sizes },
    training: { ...length, batchSize: workload.batchSize },
    floodLevel: workload.floodLevel,
  });
  return TrainingRun.start(config);
}

async function measureBatchSize(workload: Workload, plan: Plan): Promise<BatchSizeFigures> {
  const stepRun = startRun(workload, { nTrain: workload.batchSize, nVal: 1, nTest: 1 }, UNEVALUATED);
  const trainStep = timeRepeats(() => stepRun.trainEpoch(), plan.batchStep);
  stepRun.dispose();

  const countedRun = startRun(workload, { nTrain: workload.batchSize * plan.countedSteps, nVal: 1, nTest: 1 }, UNEVALUATED);
  const backend = tf.engine().backend;
  const readSync = backend.readSync;
  let readBacks = 0;
  backend.readSync = (dataId) => {
    readBacks++;
    return readSync.call(backend, dataId);
  };
  let kernelCalls: number;
  try {
    kernelCalls = (await tf.profile(() => void countedRun.trainEpoch())).kernels.length;
  } finally {
    backend.readSync = readSync;
    countedRun.dispose();
  }
  return {
    batchSize: workload.batchSize,
    trainStep,
    kernelCallsPerStep: kernelCalls / plan.countedSteps,
    readBacksPerStep: readBacks / plan.countedSteps,
    products: measureProducts(workload, plan),
  };
}

function measureProducts(workload: Workload, plan: Plan): Timing {
  const rows = workload.batchSize;
  const random = (shape: [number, number]) => tf.randomUniform(shape, -1, 1, 'float32', shape[0] * 7919 + shape[1]) as tf.Tensor2D;
  // [left, right] operand shapes of y = x W, dX = dY W^T (W^T materialised) and dW = X^T dY, per layer.
  const shapes = denseShapes(workload).flatMap(
    ([inputs, outputs]): Array<[[number, number], [number, number]]> => [
      [
        [rows, inputs],
        [inputs, outputs],
      ],
      [
        [rows, outputs],
        [outputs, inputs],
      ],
      [
        [inputs, rows],
        [rows, outputs],
      ],
    ],
  );
  const lefts = shapes.map(([left]) => random(left));
  const rights = shapes.map(([, right]) => random(right));
  let fresh: tf.Tensor2D[] = [];
  try {
    return timeRepeats(
      () => {
        for (const [i, left] of lefts.entries()) tf.matMul(left, fresh[i]).dispose();
        tf.dispose(fresh);
      },
      plan.batchStep,
      // Untimed: new right-hand tensors (new ids), so that XNNPACK packs them like training's new weights.
      () => (fresh = rights.map((right) => right.add(0) as tf.Tensor2D)),
    );
  } finally {
    tf.dispose([...lefts, ...rights, ...fresh]);
  }
}

function measureCeiling(plan: Plan): Timing {
  const n = plan.ceilingSize;
  const [a, b] = [1, 2].map((seed) => tf.randomUniform([n, n], -1, 1, 'float32', seed) as tf.Tensor2D);
  try {
    return timeRepeats(() => {
      const product = tf.matMul(a, b);
      product.dataSync();
      product.dispose();
    }, plan.ceiling);
  } finally {
    tf.dispose([a, b]);
  }
}

function measureInference(workload: Workload, plan: Plan): Timing {
  const model = Model.create(resolveTaskConfig({}).model, workload.inputDim, workload.numClasses, 0);
  const x = tf.randomUniform([plan.evalSamples, workload.inputDim], -2, 2, 'float32', 0) as tf.Tensor2D;
  try {
    return timeRepeats(() => {
      // Folded once per evaluation, as the trainer does.
      const inference = model.forInference();
      for (let start = 0; start < plan.evalSamples; start += workload.evalChunk) {
        const size = Math.min(workload.evalChunk, plan.evalSamples - start);
        const logits = tf.tidy(() => inference.predict(x.slice([start, 0], [size, -1])));
        logits.dataSync();
        logits.dispose();
      }
      inference.dispose();
    }, plan.evaluation);
  } finally {
    x.dispose();
    model.dispose();
  }
}
