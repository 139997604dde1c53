import { resolveTaskConfig } from '../src/flooding/config.js';

/** The shapes the benchmark measures, taken from the demo's defaults so that they follow src/. */
export interface Workload {
  inputDim: number;
  numClasses: number;
  width: number;
  depth: number;
  batchSize: number;
  lr: number;
  momentum: number;
  /** Train/val/test sizes of one demo task. */
  nTrain: number;
  nVal: number;
  nTest: number;
  /** Rows per inference forward pass, as the trainer evaluates. */
  evalChunk: number;
  /** A nonzero flood level, so that the flooded objective is part of every measured step. */
  floodLevel: number;
}

export interface Repeats {
  warmup: number;
  repeats: number;
}

/** How often each figure is measured; the torch reference receives the same plan. */
export interface Plan {
  step: Repeats;
  /** The same step with tfjs-backend-wasm's own transposed matmul (measured on wasm only; about 4x slower). */
  stepWithoutTransposeFirst?: Repeats;
  evaluation: Repeats;
  /** Samples in the inference measurement. */
  evalSamples: number;
  epochTrainOnly: Repeats;
  /** Null where an evaluation of the demo's 20,200 samples would take minutes. */
  epochWithEval: Repeats | null;
  /** Batch sizes of the per-batch-size table: training step, kernel calls, read-backs, matmul ceiling (none on cpu). */
  batchSizes: number[];
  /** Each batch size's training step and its products alone (the ceiling). */
  batchStep: Repeats;
  /** Steps per epoch of the run whose kernel calls and read-backs are counted (one epoch, not timed). */
  countedSteps: number;
  /** n of the n x n x n product whose speed is the backend's matmul ceiling. */
  ceilingSize: number;
  ceiling: Repeats;
}

/** The trainer's EVAL_CHUNK (src/flooding/trainer.ts). */
const TRAINER_EVAL_CHUNK = 4096;

export function demoWorkload(): Workload {
  const demo = resolveTaskConfig({});
  if (demo.dataset.name !== 'sinusoid2d' || demo.model.kind !== 'mlp' || demo.optimizer.name !== 'sgd') {
    throw new Error('bench: the demo defaults are no longer sinusoid2d / mlp / sgd; update bench/plan.ts');
  }
  return {
    inputDim: 2,
    numClasses: 2,
    width: demo.model.width,
    depth: demo.model.depth,
    batchSize: demo.training.batchSize,
    lr: demo.optimizer.lr,
    momentum: demo.optimizer.momentum,
    nTrain: demo.dataset.nTrain,
    nVal: demo.dataset.nVal,
    nTest: demo.dataset.nTest,
    evalChunk: TRAINER_EVAL_CHUNK,
    floodLevel: 0.05,
  };
}

export function evalSamplesPerEpoch(w: Workload): number {
  return w.nTrain + w.nVal + w.nTest;
}

/** Multiply-adds of the dense layers, times two: 2 * sum(in * out) per sample. */
export function forwardFlopsPerSample(w: Workload): number {
  const widths = [w.inputDim, ...Array<number>(w.depth).fill(w.width), w.numClasses];
  let multiplyAdds = 0;
  for (let i = 1; i < widths.length; i++) multiplyAdds += widths[i - 1] * widths[i];
  return 2 * multiplyAdds;
}

/** The dense layers' [inputs, outputs], first to last. */
export function denseShapes(w: Workload): Array<[number, number]> {
  const widths = [w.inputDim, ...Array<number>(w.depth).fill(w.width), w.numClasses];
  return widths.slice(1).map((out, i) => [widths[i], out]);
}

/** Forward plus backward, the backward counted as twice the forward (dX and dW products). */
export function trainFlopsPerSample(w: Workload): number {
  return 3 * forwardFlopsPerSample(w);
}

// Sized to finish in about a minute on wasm on an idle 2-core machine. The first figure gets the
// long warm-up: the step time keeps falling for about the first 50 steps (V8 tiering the wasm code up).
export const FULL_PLAN: Plan = {
  step: { warmup: 30, repeats: 15 },
  stepWithoutTransposeFirst: { warmup: 1, repeats: 5 },
  evaluation: { warmup: 1, repeats: 3 },
  evalSamples: 20_000,
  epochTrainOnly: { warmup: 3, repeats: 15 },
  // TrainingRun.start evaluates epoch 0, which warms the evaluation up.
  epochWithEval: { warmup: 0, repeats: 3 },
  batchSizes: [100, 200, 1000],
  batchStep: { warmup: 10, repeats: 10 },
  countedSteps: 10,
  ceilingSize: 1024,
  ceiling: { warmup: 2, repeats: 5 },
};

/**
 * The pure-JS cpu backend is 30-50x slower than wasm (a 200-sample step takes seconds, evaluating
 * the demo's 20,200 samples minutes): fewer repeats and a smaller inference set keep it near a minute.
 */
export const CPU_PLAN: Plan = {
  step: { warmup: 1, repeats: 2 },
  evaluation: { warmup: 0, repeats: 1 },
  evalSamples: 1_000,
  epochTrainOnly: { warmup: 1, repeats: 2 },
  epochWithEval: null,
  batchSizes: [],
  batchStep: { warmup: 0, repeats: 0 },
  countedSteps: 0,
  ceilingSize: 256,
  ceiling: { warmup: 0, repeats: 1 },
};

/** `--smoke`: every measurement once, on tiny sizes, so that CI sees the benchmark run end to end (no figure means anything). */
export const SMOKE_PLAN: Plan = {
  step: { warmup: 0, repeats: 1 },
  stepWithoutTransposeFirst: { warmup: 0, repeats: 1 },
  evaluation: { warmup: 0, repeats: 1 },
  evalSamples: 500,
  epochTrainOnly: { warmup: 0, repeats: 1 },
  epochWithEval: { warmup: 0, repeats: 1 },
  batchSizes: [100],
  batchStep: { warmup: 0, repeats: 1 },
  countedSteps: 2,
  ceilingSize: 64,
  ceiling: { warmup: 0, repeats: 1 },
};
