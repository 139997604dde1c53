import { inspectArrays, isArrayDataset } from '../flooding/array-datasets.js';
import { type DatasetConfig, EVAL_ROWS_PER_PASS, type ModelConfig, type TaskConfig } from '../flooding/config.js';
import { splitSizes } from '../flooding/datasets.js';
import { networkTemplate } from '../flooding/network-templates.js';
import { SpecError } from './spec.js';

/**
 * What a task will take, counted from its config before anything runs: parameters, bytes of
 * memory by kind, and samples trained. Estimates, not measurements: they decide whether a task
 * can fit the memory it will get (the machine's share locally, the train function's in the cloud).
 */

/** A float32 value. */
const FLOAT = 4;
/**
 * One worker: a Node worker thread, tfjs and the compiled wasm backend, before any tensor. With it
 * the estimate was within 15% of the peak RSS of `floodsweep train` (wasm) at widths 500 and 2000.
 */
export const RUNTIME_BYTES = 128 * 2 ** 20;
/**
 * Per hidden unit of a mini-batch row kept for the backward pass: the dense output, the batch
 * norm's normalised value and output, the ReLU output, and the gradient of each.
 */
const ACTIVATIONS_PER_UNIT = 8;

/** The data a task trains on, as the trainer holds it. */
export interface DataShape {
  features: number;
  classes: number;
  rows: { train: number; val: number; test: number };
}

/** Synthetic datasets have their shape in the config (datasets.ts generates 2 classes); a CSV file's needs reading it. */
export function syntheticShape(dataset: DatasetConfig): DataShape | undefined {
  if (dataset.name === 'csv' || isArrayDataset(dataset)) return undefined;
  const features = dataset.name === 'sinusoid' || dataset.name === 'gaussian' ? dataset.dim : 2;
  return { features, classes: 2, rows: { train: dataset.nTrain, val: dataset.nVal, test: dataset.nTest } };
}

/** The shape of the data a task trains on: synthetic data's from the config, array files' from the files (read once). */
export function dataShape(dataset: DatasetConfig): DataShape | undefined {
  if (!isArrayDataset(dataset)) return syntheticShape(dataset);
  const { samples, sampleShape, classes } = inspectArrays(dataset);
  const { nTrain, nVal } = splitSizes(dataset.split, samples, 'samples');
  return { features: sampleShape.reduce((a, b) => a * b, 1), classes, rows: { train: nTrain, val: nVal, test: samples - nTrain - nVal } };
}

export interface TaskResources {
  parameters: number;
  /** Bytes: weights (and their inference copy), optimizer (gradients and state), data, activations, checkpoint, runtime. */
  memory: { model: number; optimizer: number; data: number; activations: number; checkpoint: number; runtime: number; total: number };
  /** Known only when the data's shape is (always for synthetic data). */
  dataKnown: boolean;
  /** Epochs times training samples: the work of the task. */
  epochSamples: number;
  /** Rows of metrics the task stores: epoch 0, every evalEvery-th epoch and the last. */
  evaluatedEpochs: number;
}

/** Multiply-adds of one sample's forward pass (a model file's counted from its layers, once loaded). */
export function multiplyAddsPerSample(model: ModelConfig, features: number, classes: number): number {
  if (model.kind === 'layers') return networkTemplate(model).multiplyAddsPerSample;
  if (model.kind === 'linear') return (features + 1) * classes;
  return features * model.width + (model.depth - 1) * model.width ** 2 + (model.width + 1) * classes;
}

/** Parameters of the model (trainable and batch norm statistics); model.ts builds the same layers. */
export function parameterCount(config: TaskConfig, shape: Pick<DataShape, 'features' | 'classes'>): number {
  if (config.model.kind === 'layers') return networkTemplate(config.model).parameters;
  let fanIn = shape.features;
  let count = 0;
  if (config.model.kind === 'mlp') {
    const { depth, width, batchNorm } = config.model;
    for (let layer = 0; layer < depth; layer++) {
      count += fanIn * width + (batchNorm ? 4 * width : width);
      fanIn = width;
    }
  }
  return count + fanIn * shape.classes + shape.classes;
}

export function evaluatedEpochs({ epochs, evalEvery }: TaskConfig['training']): number {
  return Math.floor(epochs / evalEvery) + (epochs % evalEvery === 0 ? 1 : 2);
}

/** Estimates one task; without a shape (a CSV file not read), its data counts as nothing and `dataKnown` is false. */
export function estimateTask(config: TaskConfig, shape: DataShape | undefined = dataShape(config.dataset)): TaskResources {
  const known = shape ?? { features: 1, classes: 2, rows: { train: 0, val: 0, test: 0 } };
  const parameters = parameterCount(config, known);
  const slots = config.optimizer.name === 'adam' ? 2 : config.optimizer.momentum > 0 ? 1 : 0;
  const { train, val, test } = known.rows;
  const rows = train + val + test;
  // Features and labels in JavaScript and as tensors: x, one-hot noisy and clean labels, and both as indices.
  const data = rows * (2 * known.features * FLOAT + 2 * known.classes * FLOAT + 4 * FLOAT);
  const { model } = config;
  const network = model.kind === 'layers' ? networkTemplate(model) : undefined;
  // A model file's layers: each output and its gradient.
  const activationValues = network
    ? 2 * network.activationsPerSample
    : model.kind === 'mlp'
      ? ACTIVATIONS_PER_UNIT * model.depth * model.width
      : 0;
  const batch = Math.min(config.training.batchSize, Math.max(train, 1));
  const training = batch * (known.features + activationValues + 2 * known.classes) * FLOAT;
  // Inference keeps no tape: about two layers' outputs at a time.
  const widest = network ? network.widestActivation : model.kind === 'mlp' ? model.width : 0;
  const evaluation = Math.min(EVAL_ROWS_PER_PASS, Math.max(rows, 1)) * (known.features + 2 * widest + known.classes) * FLOAT;
  const memory = {
    model: 2 * parameters * FLOAT,
    optimizer: (1 + slots) * parameters * FLOAT,
    data,
    activations: Math.max(training, evaluation),
    // Weights and optimizer state copied out of the backend to be encoded.
    checkpoint: (1 + slots) * parameters * FLOAT,
    runtime: RUNTIME_BYTES,
  };
  const total = Object.values(memory).reduce((sum, bytes) => sum + bytes, 0);
  return {
    parameters,
    memory: { ...memory, total },
    dataKnown: shape !== undefined,
    epochSamples: config.training.epochs * train,
    evaluatedEpochs: evaluatedEpochs(config.training),
  };
}

export interface SweepResources {
  /** The task that needs the most memory, and its estimate. */
  largest: { taskId: string; resources: TaskResources };
  epochs: number;
  epochSamples: number;
  evaluatedEpochs: number;
}

/** Totals over a sweep's tasks; `shapeOf` gives a CSV task's data shape where it is known. */
export function estimateSweep(
  tasks: ReadonlyArray<{ taskId: string; config: TaskConfig }>,
  shapeOf: (config: TaskConfig) => DataShape | undefined = (config) => dataShape(config.dataset),
): SweepResources {
  let largest: SweepResources['largest'] | undefined;
  const totals = { epochs: 0, epochSamples: 0, evaluatedEpochs: 0 };
  for (const { taskId, config } of tasks) {
    const resources = estimateTask(config, shapeOf(config));
    if (!largest || resources.memory.total > largest.resources.memory.total) largest = { taskId, resources };
    totals.epochs += config.training.epochs;
    totals.epochSamples += resources.epochSamples;
    totals.evaluatedEpochs += resources.evaluatedEpochs;
  }
  if (!largest) throw new SpecError(['(root): the sweep has no tasks']);
  return { largest, ...totals };
}

/** The memory each task gets, and where that figure comes from (for the error that refuses a task). */
export interface MemoryBudget {
  bytesPerTask: number;
  source: string;
  /** Local runs: the workers sharing the memory (fewer would give each more). */
  workers?: number;
}

/** The local machine's share: available memory split between the workers. */
export function localMemoryBudget(availableBytes: number, workers: number): MemoryBudget {
  return {
    bytesPerTask: availableBytes / workers,
    source: `${formatBytes(availableBytes)} available memory / ${workers} worker${workers === 1 ? '' : 's'}`,
    workers,
  };
}

export const MEMORY_OVERRIDE_FLAG = '--ignore-memory-limit';

/** Refuses the sweep when its largest task cannot fit the memory it will get. */
export function checkMemory(resources: SweepResources, budget: MemoryBudget): void {
  const { taskId, resources: largest } = resources.largest;
  if (largest.memory.total <= budget.bytesPerTask) return;
  const fewerWorkers = (budget.workers ?? 1) > 1 ? ', use fewer --workers' : '';
  throw new SpecError([
    `task ${taskId} needs about ${formatBytes(largest.memory.total)} of memory (${describeMemory(largest)}), above the ${formatBytes(budget.bytesPerTask)} it would get (${budget.source}); make the model or the data smaller${fewerWorkers}, or pass ${MEMORY_OVERRIDE_FLAG}`,
  ]);
}

/** "model 1.2 MiB, optimizer 600 KiB, ..." */
export function describeMemory(resources: TaskResources): string {
  const { total: _total, ...parts } = resources.memory;
  return Object.entries(parts)
    .map(([part, bytes]) => `${part} ${formatBytes(bytes)}`)
    .join(', ');
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}
