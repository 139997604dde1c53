import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { ArrayFormatError, isIntegerDtype, MAX_ARRAY_BYTES, type NumericArray, parseIdx, parseNpy, parseNpz } from './arrays.js';
import type { DatasetConfig } from './config.js';
import { type Dataset, DatasetError, describeDataFile, readDataFile, splitSizes, splitTable } from './datasets.js';
import { canonicalJson } from './json.js';
import type { Rng } from './rng.js';

export type ArrayDatasetConfig = Extract<DatasetConfig, { name: 'idx' | 'npy' | 'npz' }>;

export function isArrayDataset(dataset: DatasetConfig): dataset is ArrayDatasetConfig {
  return dataset.name === 'idx' || dataset.name === 'npy' || dataset.name === 'npz';
}

/** The fields of a dataset config that name files, with their paths (none for synthetic data). */
export function dataFiles(dataset: DatasetConfig): Array<{ field: 'path' | 'inputs' | 'labels'; path: string }> {
  switch (dataset.name) {
    case 'csv':
    case 'npz':
      return [{ field: 'path', path: dataset.path }];
    case 'idx':
    case 'npy':
      return [
        { field: 'inputs', path: dataset.inputs },
        { field: 'labels', path: dataset.labels },
      ];
    default:
      return [];
  }
}

/** The fields that name files in any dataset config, for resolving relative paths in a spec. */
export const DATA_FILE_FIELDS = ['path', 'inputs', 'labels'] as const;

/**
 * The SHA-256 that pins a dataset's content: the file's own for one file, else the SHA-256 of
 * the files' hex digests, one per line, in the order of `dataFiles`.
 */
export function contentHash(fileHashes: string[]): string {
  return fileHashes.length === 1 ? fileHashes[0] : createHash('sha256').update(fileHashes.join('\n')).digest('hex');
}

/** What an array dataset holds, as `sweep validate` shows it and the memory estimate counts it. */
export interface ArraySummary {
  /** The files as messages show them. */
  files: string;
  samples: number;
  sampleShape: number[];
  classes: number;
  inputType: string;
  sha256: string;
}

interface LoadedArrays extends ArraySummary {
  inputs: NumericArray;
  /** Class indices, one per sample. */
  labels: Int32Array;
}

/**
 * Inspections of unchanged files are remembered (by config, size and modification time), so that
 * planning, `sweep validate` and the memory estimate read a file once.
 */
const summaries = new Map<string, ArraySummary>();

/** Opens, checks and summarises an array dataset the way training reads it; throws DatasetError naming what is wrong. */
export function inspectArrays(config: ArrayDatasetConfig): ArraySummary {
  const key = canonicalJson({
    config,
    files: dataFiles(config).map(({ path }) => {
      try {
        const { size, mtimeMs } = statSync(path);
        return [size, mtimeMs];
      } catch {
        return null;
      }
    }),
  });
  const known = summaries.get(key);
  if (known) return known;
  const { inputs: _inputs, labels: _labels, ...summary } = loadArrays(config);
  summaries.set(key, summary);
  return summary;
}

/** One line for `sweep validate`: the files, samples, their shape and type, classes, the content hash. */
export function describeArrays(config: ArrayDatasetConfig): string {
  const { files, samples, sampleShape, inputType, classes, sha256 } = inspectArrays(config);
  return `${files}: ${samples} samples of ${sampleShape.join(' x ')} ${inputType} values, ${classes} classes, sha256 ${sha256.slice(0, 12)}`;
}

/** Reads and checks the file(s); messages name the field and the file, never the content. */
function loadArrays(config: ArrayDatasetConfig): LoadedArrays {
  const read = (field: 'path' | 'inputs' | 'labels', path: string) => {
    const file = describeDataFile(path);
    const bytes = readDataFile(path, file, `dataset.${field}`, MAX_ARRAY_BYTES);
    return { file, bytes, sha256: createHash('sha256').update(bytes).digest('hex') };
  };
  const parsed = <T>(field: string, file: string, parse: () => T): T => {
    try {
      return parse();
    } catch (error) {
      if (error instanceof ArrayFormatError) throw new DatasetError(`dataset.${field}: ${file}: ${error.message}`);
      throw error;
    }
  };
  let inputs: NumericArray;
  let labels: NumericArray;
  let inputsAt: { field: string; file: string };
  let labelsAt: { field: string; file: string };
  let hashes: string[];
  if (config.name === 'npz') {
    const archive = read('path', config.path);
    const arrays = parsed('path', archive.file, () => parseNpz(archive.bytes, [config.inputsKey, config.labelsKey]));
    inputs = arrays.get(config.inputsKey)!;
    labels = arrays.get(config.labelsKey)!;
    inputsAt = { field: 'path', file: `${archive.file} (array ${JSON.stringify(config.inputsKey).slice(0, 40)})` };
    labelsAt = { field: 'path', file: `${archive.file} (array ${JSON.stringify(config.labelsKey).slice(0, 40)})` };
    hashes = [archive.sha256];
  } else {
    const parse = config.name === 'idx' ? parseIdx : parseNpy;
    const inputsFile = read('inputs', config.inputs);
    const labelsFile = read('labels', config.labels);
    inputsAt = { field: 'inputs', file: inputsFile.file };
    labelsAt = { field: 'labels', file: labelsFile.file };
    inputs = parsed('inputs', inputsFile.file, () => parse(inputsFile.bytes));
    labels = parsed('labels', labelsFile.file, () => parse(labelsFile.bytes));
    hashes = [inputsFile.sha256, labelsFile.sha256];
  }
  const sha256 = contentHash(hashes);
  if (config.sha256 !== undefined && config.sha256 !== sha256) {
    // Planning a sweep sets dataset.sha256, so at training time this means a file was edited since.
    throw new DatasetError(
      `dataset.sha256: ${inputsAt.file} is not the data the task was planned with (its SHA-256 is now ${sha256}); plan a new sweep for the changed data`,
    );
  }
  const at = ({ field, file }: { field: string; file: string }) => `dataset.${field}: ${file}`;
  if (inputs.shape.length < 2) {
    throw new DatasetError(`${at(inputsAt)}: has shape [${inputs.shape}]; inputs need a sample axis and at least one more`);
  }
  const [fileSamples, ...sampleShape] = inputs.shape;
  if (labels.shape.length !== 1 && !(labels.shape.length === 2 && labels.shape[1] === 1)) {
    throw new DatasetError(`${at(labelsAt)}: has shape [${labels.shape}]; labels need one integer per sample`);
  }
  if (labels.shape[0] !== fileSamples) {
    throw new DatasetError(`${at(labelsAt)}: has ${labels.shape[0]} labels for ${fileSamples} inputs in ${inputsAt.file}`);
  }
  if (!isIntegerDtype(labels.dtype)) {
    throw new DatasetError(`${at(labelsAt)}: holds ${labels.dtype} values; labels must be integers (class indices 0, 1, ...)`);
  }
  if (config.samples !== undefined && config.samples > fileSamples) {
    throw new DatasetError(`dataset.samples: ${config.samples} is more than the ${fileSamples} samples of ${inputsAt.file}`);
  }
  const samples = config.samples ?? fileSamples;
  const classIndices = new Int32Array(samples);
  let classes = 0;
  for (let i = 0; i < samples; i++) {
    const label = labels.values[i];
    if (label < 0 || label >= config.maxClasses) {
      throw new DatasetError(
        `${at(labelsAt)}: label ${i} is ${label < 0 ? 'negative' : `${label}`}; labels are class indices 0 to dataset.maxClasses - 1 (${config.maxClasses - 1}); raise dataset.maxClasses if needed`,
      );
    }
    classIndices[i] = label;
    classes = Math.max(classes, label + 1);
  }
  if (classes < 2) throw new DatasetError(`${at(labelsAt)}: has a single class; at least 2 are needed`);
  if (!isIntegerDtype(inputs.dtype)) {
    const dim = inputs.values.length / fileSamples;
    for (let i = 0; i < samples * dim; i++) {
      // Training is in float32: a float64 beyond its range becomes Infinity.
      if (!Number.isFinite(Math.fround(inputs.values[i]))) {
        throw new DatasetError(
          `${at(inputsAt)}: sample ${Math.floor(i / dim)} holds a value that is NaN, infinite or beyond float32's range`,
        );
      }
    }
  }
  splitSizes(config.split, samples, 'samples');
  return { files: inputsAt.file, samples, sampleShape, classes, inputType: inputs.dtype, sha256, inputs, labels: classIndices };
}

/** Inputs scaled (and standardised with the training split's statistics, when asked), split as the config says. */
export function arrayDataset(config: ArrayDatasetConfig, rng: Rng): Dataset {
  const { inputs, labels, samples, sampleShape, classes } = loadArrays(config);
  const dim = sampleShape.reduce((a, b) => a * b, 1);
  const scale = config.scale === 'auto' ? (inputs.dtype === 'uint8' ? 1 / 255 : 1) : config.scale;
  const values = new Float32Array(samples * dim);
  for (let i = 0; i < values.length; i++) values[i] = inputs.values[i] * scale;
  return { ...splitTable({ values, dim, labels, numClasses: classes }, config, 'samples', rng), sampleShape };
}
