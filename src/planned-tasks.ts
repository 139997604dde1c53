/**
 * A sweep's planned tasks as a run uses them: the spec expanded (src/sweep/expansion.ts, pure)
 * with each data file (csv, IDX, .npy, .npz) and model file read, checked and hashed once.
 */
import { inspectArrays } from './flooding/array-datasets.js';
import { inspectCsv } from './flooding/datasets.js';
import { readModelFile } from './flooding/network-templates.js';
import { expandSpec } from './sweep/expansion.js';
import type { PlannedTask, SweepSpec } from './sweep/spec.js';

export function planTasks(spec: SweepSpec, options: { maxTasks?: number } = {}): PlannedTask[] {
  return expandSpec(spec, {
    ...options,
    dataHash: (dataset) => (dataset.name === 'csv' ? inspectCsv(dataset) : inspectArrays(dataset)).sha256,
    modelHash: (model) => readModelFile(model).sha256,
  });
}
