import { readFileSync } from 'node:fs';
import type { DatasetConfig } from './config.js';
import { FloodsweepError } from './errors.js';
import { Rng } from './rng.js';

/** One split: `x` is row-major `n` x `dim`; labels are class indices 0..numClasses-1. */
export interface Split {
  x: Float32Array;
  n: number;
  dim: number;
  /** The labels trained and evaluated on, after label noise. */
  labels: Int32Array;
  /** The labels before label noise. */
  cleanLabels: Int32Array;
}

export interface Dataset {
  train: Split;
  val: Split;
  test: Split;
  dim: number;
  numClasses: number;
}

/** A problem the user can fix (a missing file, a bad column...); the message is one line naming the field. */
export class DatasetError extends FloodsweepError {
  override name = 'DatasetError';

  constructor(message: string, options?: ErrorOptions) {
    super('input', message, options);
  }
}

type ConfigOf<Name extends DatasetConfig['name']> = Extract<DatasetConfig, { name: Name }>;

/** Inputs and clean labels of one synthetic split. */
interface Points {
  x: Float32Array;
  labels: Int32Array;
}

/**
 * Builds the dataset of `config`. All randomness comes from the seed's 'data' stream, consumed
 * split by split in the order train, val, test, so the size of a later split never changes an
 * earlier one.
 */
export function makeDataset(config: DatasetConfig, seed: number): Dataset {
  const rng = Rng.stream(seed, 'data');
  switch (config.name) {
    case 'sinusoid2d':
      return syntheticDataset(config, 2, rng, (n) => sinusoid2dPoints(n, rng));
    case 'sinusoid':
      return syntheticDataset(config, config.dim, rng, (n) => sinusoidPoints(n, config.dim, rng));
    case 'spiral':
      return syntheticDataset(config, 2, rng, (n) => spiralPoints(n, config.inputNoise, rng));
    case 'gaussian':
      return syntheticDataset(config, config.dim, rng, (n) => gaussianPoints(n, config.dim, config.meanShift, rng));
    case 'csv':
      return csvDataset(config, rng);
  }
}

/** floor(n * fraction), where the epsilon keeps e.g. 100 * 0.29 (28.999999999999996) at 29. */
function countOf(n: number, fraction: number): number {
  return Math.floor(n * fraction + 1e-9);
}

/**
 * Flips exactly floor(n * rate) labels, at the first indices of a random permutation; a flipped
 * label becomes a different class, uniformly among the others. The permutation is drawn even when
 * nothing flips, so that the inputs of later splits do not depend on the noise rate.
 */
function addLabelNoise(clean: Int32Array, numClasses: number, rate: number, rng: Rng): Int32Array {
  const labels = clean.slice();
  const order = rng.permutation(clean.length);
  const count = countOf(clean.length, rate);
  for (let i = 0; i < count; i++) {
    const row = order[i];
    if (numClasses === 2) {
      labels[row] = 1 - labels[row];
    } else {
      const other = rng.int(numClasses - 1);
      labels[row] = other >= labels[row] ? other + 1 : other;
    }
  }
  return labels;
}

function makeSplit(x: Float32Array, dim: number, cleanLabels: Int32Array, numClasses: number, rate: number, rng: Rng): Split {
  const labels = addLabelNoise(cleanLabels, numClasses, rate, rng);
  return { x, n: cleanLabels.length, dim, labels, cleanLabels };
}

function syntheticDataset(
  config: { nTrain: number; nVal: number; nTest: number; labelNoise: number },
  dim: number,
  rng: Rng,
  generate: (n: number) => Points,
): Dataset {
  const split = (n: number): Split => {
    const points = generate(n);
    return makeSplit(points.x, dim, points.labels, 2, config.labelNoise, rng);
  };
  // Separate statements fix the order in which the splits consume the stream.
  const train = split(config.nTrain);
  const val = split(config.nVal);
  const test = split(config.nTest);
  return { train, val, test, dim, numClasses: 2 };
}

/**
 * Uniform on the disk of radius 2, as the original demo draws it: two coordinates of a standard
 * normal vector in R^4, normalised to the unit sphere, are uniform in the unit disk.
 * Labels are computed from the stored float32 inputs so the rule holds exactly on the data.
 */
function sinusoid2dPoints(n: number, rng: Rng): Points {
  const x = new Float32Array(n * 2);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const s = rng.normal();
    const t = rng.normal();
    const u = rng.normal();
    const v = rng.normal();
    const norm = Math.sqrt(s * s + t * t + u * u + v * v);
    x[2 * i] = (2 * u) / norm;
    x[2 * i + 1] = (2 * v) / norm;
    labels[i] = 1.5 * x[2 * i] + Math.sin(1.5 * x[2 * i + 1]) > 0 ? 1 : 0;
  }
  return { x, labels };
}

function sinusoidPoints(n: number, dim: number, rng: Rng): Points {
  const x = new Float32Array(n * dim);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < dim; j++) x[i * dim + j] = 2 * rng.normal();
    labels[i] = x[i * dim] + Math.sin(x[i * dim + 1]) > 0 ? 1 : 0;
  }
  return { x, labels };
}

/** Two interleaved spirals: ceil(n/2) positives (label 1), then floor(n/2) negatives (label 0). */
function spiralPoints(n: number, inputNoise: number, rng: Rng): Points {
  const x = new Float32Array(n * 2);
  const labels = new Int32Array(n);
  const positives = Math.ceil(n / 2);
  const arm = (first: number, count: number, radiusOffset: number, label: number) => {
    for (let i = 0; i < count; i++) {
      const angle = count === 1 ? 0 : (4 * Math.PI * i) / (count - 1);
      const radius = angle + radiusOffset;
      const row = first + i;
      x[2 * row] = radius * Math.cos(angle) + inputNoise * rng.normal();
      x[2 * row + 1] = radius * Math.sin(angle) + inputNoise * rng.normal();
      labels[row] = label;
    }
  };
  arm(0, positives, 0, 1);
  arm(positives, n - positives, Math.PI, 0);
  return { x, labels };
}

/** ceil(n/2) rows of class 0 from N(0, I), then floor(n/2) rows of class 1 from N(meanShift * 1, I). */
function gaussianPoints(n: number, dim: number, meanShift: number, rng: Rng): Points {
  const x = new Float32Array(n * dim);
  const labels = new Int32Array(n);
  const class0 = Math.ceil(n / 2);
  for (let i = 0; i < n; i++) {
    const label = i < class0 ? 0 : 1;
    for (let j = 0; j < dim; j++) x[i * dim + j] = rng.normal() + label * meanShift;
    labels[i] = label;
  }
  return { x, labels };
}

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

interface CsvRow {
  /** 1-based line number in the file, for error messages. */
  line: number;
  cells: string[];
}

function csvDataset(config: ConfigOf<'csv'>, rng: Rng): Dataset {
  const { header, rows } = readCsv(config.path);
  const where = `"${config.path}"`;

  const labelIndex = header.indexOf(config.labelColumn);
  if (labelIndex < 0) {
    throw new DatasetError(`dataset.labelColumn: column "${config.labelColumn}" not found; columns: ${header.join(', ')}`);
  }
  if (header.lastIndexOf(config.labelColumn) !== labelIndex) {
    throw new DatasetError(`dataset.labelColumn: column "${config.labelColumn}" appears more than once in the header of ${where}`);
  }
  const featureIndices = header.map((_, i) => i).filter((i) => i !== labelIndex);
  if (featureIndices.length === 0) {
    throw new DatasetError(`dataset.path: ${where} has no columns besides the label column "${config.labelColumn}"`);
  }
  const dim = featureIndices.length;

  const values = new Float64Array(rows.length * dim);
  rows.forEach((row, r) => {
    if (row.cells.length !== header.length) {
      throw new DatasetError(`dataset.path: line ${row.line} of ${where} has ${row.cells.length} cells; the header has ${header.length}`);
    }
    featureIndices.forEach((column, j) => {
      const cell = row.cells[column];
      if (!NUMBER.test(cell)) {
        throw new DatasetError(
          `dataset.path: column "${header[column]}", line ${row.line} of ${where}: ${JSON.stringify(cell)} is not a number`,
        );
      }
      values[r * dim + j] = Number(cell);
    });
  });

  const labelStrings = rows.map((row) => row.cells[labelIndex]);
  const classes = sortClasses([...new Set(labelStrings)]);
  if (classes.length < 2) {
    throw new DatasetError(
      `dataset.labelColumn: column "${config.labelColumn}" has a single class (${JSON.stringify(classes[0])}); at least 2 are needed`,
    );
  }
  const classIndex = new Map(classes.map((name, i) => [name, i]));

  const total = rows.length;
  const nTrain = countOf(total, config.split.train);
  const nVal = countOf(total, config.split.val);
  const nTest = total - nTrain - nVal;
  if (nTrain < 1 || nVal < 1 || nTest < 1) {
    throw new DatasetError(
      `dataset.split: ${total} rows split into train/val/test = ${nTrain}/${nVal}/${nTest}; every split needs at least 1 row`,
    );
  }

  const order = rng.permutation(total);
  const trainRows = order.subarray(0, nTrain);
  const { mean, std } = config.standardize ? columnStats(values, dim, trainRows) : identityStats(dim);

  const split = (rowIds: Int32Array): Split => {
    const x = new Float32Array(rowIds.length * dim);
    const clean = new Int32Array(rowIds.length);
    rowIds.forEach((rowId, i) => {
      for (let j = 0; j < dim; j++) x[i * dim + j] = (values[rowId * dim + j] - mean[j]) / std[j];
      clean[i] = classIndex.get(labelStrings[rowId])!;
    });
    return makeSplit(x, dim, clean, classes.length, config.labelNoise, rng);
  };
  const train = split(trainRows);
  const val = split(order.subarray(nTrain, nTrain + nVal));
  const test = split(order.subarray(nTrain + nVal));
  return { train, val, test, dim, numClasses: classes.length };
}

function readCsv(path: string): { header: string[]; rows: CsvRow[] } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new DatasetError(`dataset.path: cannot read "${path}": ${describeFsError(error)}`);
  }
  const lines: CsvRow[] = [];
  text
    .replace(/^\uFEFF/, '')
    .split(/\r?\n/)
    .forEach((line, i) => {
      if (line.trim() !== '') lines.push({ line: i + 1, cells: splitCsvLine(line, i + 1, path) });
    });
  if (lines.length === 0) throw new DatasetError(`dataset.path: "${path}" is empty`);
  if (lines.length === 1) throw new DatasetError(`dataset.path: "${path}" has a header but no data rows`);
  return { header: lines[0].cells, rows: lines.slice(1) };
}

/** Node's message repeats the code and the path ("ENOENT: no such file or directory, open 'x'"); keep the reason. */
function describeFsError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return /^[A-Z]+: ([^,]+),/.exec(message)?.[1] ?? message;
}

/** Comma-separated cells, trimmed; double-quoted cells may contain commas and "" for a quote. */
function splitCsvLine(line: string, lineNumber: number, path: string): string[] {
  const cells: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const char = line[i];
    if (quoted) {
      if (char === '"' && line[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (char === '"') {
        quoted = false;
      } else {
        cell += char;
      }
    } else if (char === '"') {
      quoted = true;
    } else if (char === ',') {
      cells.push(cell.trim());
      cell = '';
    } else {
      cell += char;
    }
  }
  if (quoted) throw new DatasetError(`dataset.path: line ${lineNumber} of "${path}" has an unterminated quote`);
  cells.push(cell.trim());
  return cells;
}

/** Numeric order when every class name is a number (so 2 < 10), else plain string order. */
function sortClasses(names: string[]): string[] {
  const byString = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  if (names.every((name) => NUMBER.test(name))) {
    return names.sort((a, b) => Number(a) - Number(b) || byString(a, b));
  }
  return names.sort(byString);
}

/**
 * Mean and population standard deviation of each column over `rowIds`. A constant column gets
 * mean = its value and std 1, exactly: the computed mean of e.g. 0.1s is off by rounding, and
 * dividing that residue by a std near 1e-17 would blow it up.
 */
function columnStats(values: Float64Array, dim: number, rowIds: Int32Array): { mean: Float64Array; std: Float64Array } {
  const mean = new Float64Array(dim);
  const std = new Float64Array(dim);
  for (let j = 0; j < dim; j++) {
    const first = values[rowIds[0] * dim + j];
    let constant = true;
    let sum = 0;
    for (const rowId of rowIds) {
      const value = values[rowId * dim + j];
      sum += value;
      constant &&= value === first;
    }
    if (constant) {
      mean[j] = first;
      std[j] = 1;
      continue;
    }
    mean[j] = sum / rowIds.length;
    let squares = 0;
    for (const rowId of rowIds) squares += (values[rowId * dim + j] - mean[j]) ** 2;
    std[j] = Math.sqrt(squares / rowIds.length);
  }
  return { mean, std };
}

function identityStats(dim: number): { mean: Float64Array; std: Float64Array } {
  return { mean: new Float64Array(dim), std: new Float64Array(dim).fill(1) };
}
