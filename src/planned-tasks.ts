/**
 * A sweep's planned tasks as a run uses them: the spec expanded (src/sweep/expansion.ts, pure)
 * with each data file (csv, IDX, .npy, .npz) and model file read, checked and hashed once.
 *
 * Where none of a data set's files (or a model file) is at its path but the spec pins its hash
 * (`sha256`), the pinned hash is taken: Plan in the cloud runs where the files are not, on a spec
 * the submitting machine pinned (pinFileHashes), and Train reads the files from the bucket by
 * that hash and checks their content against it.
 */
import { existsSync } from 'node:fs';
import { dataFiles, inspectArrays } from './flooding/array-datasets.js';
import { inspectCsv } from './flooding/datasets.js';
import { readModelFile } from './flooding/network-templates.js';
import { expandSpec } from './sweep/expansion.js';
import type { PlannedTask, SweepSpec } from './sweep/spec.js';

const absent = (paths: string[]) => paths.every((path) => !existsSync(path));

export function planTasks(spec: SweepSpec, options: { maxTasks?: number } = {}): PlannedTask[] {
  return expandSpec(spec, {
    ...options,
    dataHash: (dataset) =>
      dataset.sha256 && absent(dataFiles(dataset).map(({ path }) => path))
        ? dataset.sha256
        : (dataset.name === 'csv' ? inspectCsv(dataset) : inspectArrays(dataset)).sha256,
    modelHash: (model) => (model.sha256 && absent([model.path]) ? model.sha256 : readModelFile(model).sha256),
  });
}

/**
 * The spec with the content hashes of its base data set and model file pinned (`sha256`), from
 * its planned tasks: what a cloud run submits, so that Plan, where the files are not, plans the
 * same tasks. Data sets and model files given by grid axes are not pinned.
 */
export function pinFileHashes(spec: SweepSpec, planned: readonly PlannedTask[]): SweepSpec {
  const [first] = planned;
  if (!first) return spec;
  const pinned = { ...spec };
  const { dataset, model } = first.config;
  const gridKeys = Object.keys(spec.grid);
  const varies = (section: string) => gridKeys.some((key) => key === section || key.startsWith(`${section}.`));
  if ('sha256' in dataset && dataset.sha256 && !varies('dataset'))
    pinned.dataset = { ...spec.dataset, sha256: dataset.sha256 } as SweepSpec['dataset'];
  if (model.kind === 'layers' && model.sha256 && !varies('model'))
    pinned.model = { ...spec.model, sha256: model.sha256 } as SweepSpec['model'];
  return pinned;
}
