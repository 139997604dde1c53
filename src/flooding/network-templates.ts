import { createHash } from 'node:crypto';
import type { ModelConfig } from './config.js';
import { DatasetError, describeDataFile, readDataFile } from './datasets.js';

/**
 * What floodsweep knows of a model file before any task runs (without loading tfjs): the file read
 * and checked as a Layers topology, and, once flooding/layers-network.ts has built it, its shapes
 * and sizes, which the fit checks and the memory and cost estimates use.
 */

export type LayersModelConfig = Extract<ModelConfig, { kind: 'layers' }>;

/** Model files above this are refused unread (a topology is a few KB; weights are not read). */
export const MAX_MODEL_FILE_BYTES = 16 * 2 ** 20;

/** What a task needs to know of a model file before it runs, and what the estimates count. */
export interface NetworkTemplate {
  file: string;
  sha256: string;
  className: string;
  /** tfjs' own (camel-case) configuration of the model, with a softmax output made linear. */
  config: Record<string, unknown>;
  /** The shape of one input sample, e.g. [28, 28, 1]. */
  inputShape: number[];
  outputWidth: number;
  parameters: number;
  /** Values every layer outputs for one sample, summed: what a training step keeps for backprop. */
  activationsPerSample: number;
  /** The largest layer output for one sample. */
  widestActivation: number;
  /** Multiply-adds of a forward pass of one sample, over the layers with a kernel. */
  multiplyAddsPerSample: number;
}

const templates = new Map<string, NetworkTemplate>();

const TOPOLOGY_CLASSES = ['Sequential', 'Model', 'Functional'];

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Reads the file, checks its hash against a planned one and that it is a Layers topology; returns the topology. */
export function readModelFile(config: LayersModelConfig): { topology: Record<string, unknown>; sha256: string; file: string } {
  const file = describeDataFile(config.path);
  const bytes = readDataFile(config.path, file, 'model.path', MAX_MODEL_FILE_BYTES);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  if (config.sha256 !== undefined && config.sha256 !== sha256) {
    throw new DatasetError(
      `model.sha256: ${file} is not the model file the task was planned with (its SHA-256 is now ${sha256}); plan a new sweep for the changed model`,
    );
  }
  const notTopology = `model.path: ${file} is not a TensorFlow.js Layers topology (the model.json of model.save, or model.toJSON())`;
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    throw new DatasetError(`${notTopology}: not JSON`);
  }
  let topology = isObject(json) && 'modelTopology' in json ? json.modelTopology : json;
  if (isObject(topology) && isObject(topology.model_config)) topology = topology.model_config;
  if (!isObject(topology) || !TOPOLOGY_CLASSES.includes(topology.class_name as string) || typeof topology.config !== 'object') {
    throw new DatasetError(notTopology);
  }
  return { topology, sha256, file };
}

export const product = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** Registers a loaded template (flooding/layers-network.ts builds them). */
export function rememberTemplate(template: NetworkTemplate): void {
  templates.set(template.sha256, template);
}

/** A template already loaded for this content, with the file as this config names it. */
export function knownTemplate(sha256: string, file: string): NetworkTemplate | undefined {
  const known = templates.get(sha256);
  return known && { ...known, file };
}

/** The template of a file `loadNetworkTemplate` has loaded (by its planned hash, else by reading the file again). */
export function networkTemplate(config: LayersModelConfig): NetworkTemplate {
  const template = templates.get(config.sha256 ?? readModelFile(config).sha256);
  if (!template) throw new Error(`model file ${config.path} was not loaded (call loadNetworkTemplate first)`);
  return template;
}

/** Refuses a model whose input or output does not fit the data, naming both sides. */
export function checkNetworkFits(template: NetworkTemplate, features: number, classes: number): void {
  const inputs = product(template.inputShape);
  if (inputs !== features) {
    throw new DatasetError(
      `model.path: ${template.file} takes inputs of shape [${template.inputShape}] (${inputs} values per sample); the dataset's samples have ${features}`,
    );
  }
  if (template.outputWidth !== classes) {
    throw new DatasetError(
      `model.path: ${template.file} outputs ${template.outputWidth} values per sample; the dataset has ${classes} classes`,
    );
  }
}
