import { type BackendName, initBackend, setTransposeFirstMatMul, tf } from '../src/flooding/backend.js';
import { resolveTaskConfig } from '../src/flooding/config.js';
import { Model } from '../src/flooding/model.js';
import { TrainingRun } from '../src/flooding/trainer.js';
import type { Plan, Workload } from './plan.js';
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

export interface TfjsFigures extends Figures {
  backend: BackendName;
  /** The training step with tfjs-backend-wasm's own transposed matmul (wasm only). */
  trainStepWithoutTransposeFirst?: Timing;
}

/** An epoch count no benchmark reaches, so that the runs never finish or evaluate unless asked to. */
const ENDLESS = 1_000_000_000;

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
  const stepRun = startRun(workload, { nTrain: workload.batchSize, nVal: 1, nTest: 1 }, ENDLESS);
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

  progress(`${backend}: inference over ${plan.evalSamples} samples`);
  const evaluation = measureInference(workload, plan);

  progress(`${backend}: demo epoch`);
  // Only the training set matters without evaluation; tiny val and test sets keep the start-up evaluation short.
  const trainOnlyRun = startRun(workload, { nTrain: workload.nTrain, nVal: 1, nTest: 1 }, ENDLESS);
  const epochTrainOnly = timeRepeats(() => trainOnlyRun.trainEpoch(), plan.epochTrainOnly);
  trainOnlyRun.dispose();
  let epochWithEval: Timing | undefined;
  if (plan.epochWithEval) {
    const evaluatedRun = startRun(workload, { nTrain: workload.nTrain, nVal: workload.nVal, nTest: workload.nTest }, 1);
    epochWithEval = timeRepeats(() => evaluatedRun.trainEpoch(), plan.epochWithEval);
    evaluatedRun.dispose();
  }

  return { backend, trainStep, trainStepWithoutTransposeFirst, evaluation, evalSamples: plan.evalSamples, epochTrainOnly, epochWithEval };
}

function startRun(workload: Workload, sizes: { nTrain: number; nVal: number; nTest: number }, evalEvery: number): TrainingRun {
  const config = resolveTaskConfig({
    dataset: { name: 'sinusoid2d', ...sizes },
    training: { epochs: ENDLESS, evalEvery, batchSize: workload.batchSize },
    floodLevel: workload.floodLevel,
  });
  return TrainingRun.start(config);
}

function measureInference(workload: Workload, plan: Plan): Timing {
  const model = Model.create(resolveTaskConfig({}).model, workload.inputDim, workload.numClasses, 0);
  const x = tf.randomUniform([plan.evalSamples, workload.inputDim], -2, 2, 'float32', 0) as tf.Tensor2D;
  const inference = model.forInference();
  try {
    return timeRepeats(() => {
      for (let start = 0; start < plan.evalSamples; start += workload.evalChunk) {
        const size = Math.min(workload.evalChunk, plan.evalSamples - start);
        const logits = tf.tidy(() => inference.predict(x.slice([start, 0], [size, -1])));
        logits.dataSync();
        logits.dispose();
      }
    }, plan.evaluation);
  } finally {
    tf.dispose(x);
    inference.dispose();
    model.dispose();
  }
}
