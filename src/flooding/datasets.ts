import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { isAbsolute, relative } from 'node:path';
import type { DatasetConfig } from './config.js';
import { FloodsweepError } from './errors.js';
import type { Rng } from './rng.js';

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
  /** The shape of one sample (e.g. [28, 28] for images) when it has one; `dim` is its product. */
  sampleShape?: number[];
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
 * A synthetic or csv data set (make-dataset.ts makeDataset picks this or the array files of
 * array-datasets.ts), from `rng`, the seed's 'data' stream.
 */
export function builtInDataset(config: Exclude<DatasetConfig, { name: 'idx' | 'npy' | 'npz' }>, rng: Rng): Dataset {
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

/** Larger files are refused before they are read: every task holds its data in memory. */
export const MAX_CSV_BYTES = 256 * 1024 * 1024;
/** A file path or header name is shown up to this many characters in a message. */
const MAX_SHOWN_PATH = 160;
const MAX_SHOWN_NAME = 40;

/** What a csv dataset holds, as `sweep validate` shows it; `sha256` pins the file's content. */
export interface CsvSummary {
  /** The file and the label column as a message shows them: quoted, escaped, shortened. */
  file: string;
  labelColumn: string;
  rows: number;
  features: number;
  classes: number;
  sha256: string;
}

interface CsvTable extends CsvSummary {
  /** Row-major rows x features. */
  values: Float64Array;
  /** The label cell of each row. */
  labelCells: string[];
  /** The sorted class names; a label's class index is its position here. */
  classNames: string[];
}

/** One record of the file; `line` is the 1-based line it ends on, for messages. */
interface CsvRecord {
  line: number;
  cells: string[];
}

/**
 * Quoted for a message: control and invisible formatting characters escaped (a file name or a
 * header can hold terminal escape sequences), and at most `max` characters.
 */
function quote(text: string, max: number): string {
  const shown = text.length > max ? `${text.slice(0, max)}...` : text;
  return JSON.stringify(shown).replace(
    /[\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]/g,
    (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** The data file as the user sees it: relative to the current directory when it is inside it. */
export function describeDataFile(path: string): string {
  const fromHere = relative(process.cwd(), path);
  const inside = isAbsolute(path) && fromHere !== '' && !fromHere.startsWith('..') && !isAbsolute(fromHere);
  return quote(inside ? fromHere : path, MAX_SHOWN_PATH);
}

/** Opens, checks and summarises a csv dataset the way training reads it; throws DatasetError naming what is wrong. */
export function inspectCsv(config: ConfigOf<'csv'>): CsvSummary {
  const { file, labelColumn, rows, features, classes, sha256 } = readCsvTable(config);
  return { file, labelColumn, rows, features, classes, sha256 };
}

function csvDataset(config: ConfigOf<'csv'>, rng: Rng): Dataset {
  const { values, labelCells, classNames, features: dim } = readCsvTable(config);
  const classIndex = new Map(classNames.map((name, i) => [name, i]));
  const labels = Int32Array.from(labelCells, (cell) => classIndex.get(cell)!);
  return splitTable({ values, dim, labels, numClasses: classNames.length }, config, 'rows', rng);
}

/** A table of samples as files give it: row-major `values`, one class index per row. */
export interface Table {
  values: Float32Array | Float64Array;
  dim: number;
  labels: Int32Array;
  numClasses: number;
}

/**
 * Splits a table at random into train, val and test by the config's fractions, standardises it
 * with the training split's column statistics when asked, and adds label noise to each split.
 */
export function splitTable(
  { values, dim, labels, numClasses }: Table,
  config: { split: { train: number; val: number }; standardize: boolean; labelNoise: number },
  unit: string,
  rng: Rng,
): Pick<Dataset, 'train' | 'val' | 'test' | 'dim' | 'numClasses'> {
  const total = labels.length;
  const { nTrain, nVal } = splitSizes(config.split, total, unit);
  const order = rng.permutation(total);
  const trainRows = order.subarray(0, nTrain);
  const { mean, std } = config.standardize ? columnStats(values, dim, trainRows) : identityStats(dim);

  const split = (rowIds: Int32Array): Split => {
    const x = new Float32Array(rowIds.length * dim);
    const clean = new Int32Array(rowIds.length);
    rowIds.forEach((rowId, i) => {
      for (let j = 0; j < dim; j++) x[i * dim + j] = (values[rowId * dim + j] - mean[j]) / std[j];
      clean[i] = labels[rowId];
    });
    return makeSplit(x, dim, clean, numClasses, config.labelNoise, rng);
  };
  const train = split(trainRows);
  const val = split(order.subarray(nTrain, nTrain + nVal));
  const test = split(order.subarray(nTrain + nVal));
  return { train, val, test, dim, numClasses };
}

/** The train and validation sizes of `total` samples (`unit`: rows, samples) split by fractions; every split gets at least one. */
export function splitSizes(split: { train: number; val: number }, total: number, unit: string): { nTrain: number; nVal: number } {
  const nTrain = countOf(total, split.train);
  const nVal = countOf(total, split.val);
  const nTest = total - nTrain - nVal;
  if (nTrain < 1 || nVal < 1 || nTest < 1) {
    throw new DatasetError(
      `dataset.split: ${total} ${unit} split into train/val/test = ${nTrain}/${nVal}/${nTest}; every split needs at least 1 of them`,
    );
  }
  return { nTrain, nVal };
}

/**
 * Reads and checks the whole file. Messages name the file, line and column (a header name only
 * escaped and shortened) and never quote a cell or a line: `path` may name any file.
 */
function readCsvTable(config: ConfigOf<'csv'>): CsvTable {
  const file = describeDataFile(config.path);
  const bytes = readDataFile(config.path, file, 'dataset.path', MAX_CSV_BYTES);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  if (config.sha256 !== undefined && config.sha256 !== sha256) {
    // Planning a sweep sets dataset.sha256, so at training time this means the file was edited since.
    throw new DatasetError(
      `dataset.sha256: ${file} is not the file the task was planned with (its SHA-256 is now ${sha256}); plan a new sweep for the changed data`,
    );
  }
  const records = parseCsv(bytes, config.delimiter, file);
  if (records.length === 0) throw new DatasetError(`dataset.path: ${file} is empty`);
  const [{ cells: header }, ...rows] = records;
  if (rows.length === 0) throw new DatasetError(`dataset.path: ${file} has a header but no data rows`);
  const column = (index: number) => `column ${index + 1} (${quote(header[index], MAX_SHOWN_NAME)})`;
  const label = quote(config.labelColumn, MAX_SHOWN_NAME);

  const labelIndex = header.indexOf(config.labelColumn);
  if (labelIndex < 0) {
    throw new DatasetError(
      `dataset.labelColumn: no column ${label} in the header (line 1) of ${file}, which has ${header.length} column${header.length === 1 ? '' : 's'}`,
    );
  }
  if (header.lastIndexOf(config.labelColumn) !== labelIndex) {
    throw new DatasetError(`dataset.labelColumn: column ${label} appears more than once in the header of ${file}`);
  }
  config.ignoreColumns.forEach((name, i) => {
    const shown = quote(name, MAX_SHOWN_NAME);
    if (!header.includes(name)) throw new DatasetError(`dataset.ignoreColumns[${i}]: no column ${shown} in the header of ${file}`);
    if (name === config.labelColumn) throw new DatasetError(`dataset.ignoreColumns[${i}]: ${shown} is the label column`);
  });
  const ignored = new Set(config.ignoreColumns);
  const featureIndices = header.flatMap((name, i) => (i === labelIndex || ignored.has(name) ? [] : [i]));
  if (featureIndices.length === 0) {
    throw new DatasetError(`dataset.path: ${file} has no feature columns besides the label column ${label} and dataset.ignoreColumns`);
  }
  const dim = featureIndices.length;

  const values = new Float64Array(rows.length * dim);
  const labelCells: string[] = [];
  const classes = new Set<string>();
  rows.forEach((row, r) => {
    const at = `dataset.path: ${file} line ${row.line}`;
    if (row.cells.length !== header.length) {
      throw new DatasetError(`${at} has ${row.cells.length} cells; the header has ${header.length}`);
    }
    featureIndices.forEach((index, j) => {
      const cell = row.cells[index];
      if (cell === '') throw new DatasetError(`${at}, ${column(index)}: empty cell; every feature needs a number`);
      if (!NUMBER.test(cell)) throw new DatasetError(`${at}, ${column(index)}: not a number`);
      const value = Number(cell);
      // Training is in float32: a larger magnitude becomes Infinity, and turns a standardised column into NaN.
      if (!Number.isFinite(Math.fround(value))) {
        throw new DatasetError(`${at}, ${column(index)}: the number is out of range; magnitudes up to 3.4e38 are allowed`);
      }
      values[r * dim + j] = value;
    });
    const cell = row.cells[labelIndex];
    if (cell === '') throw new DatasetError(`${at}, ${column(labelIndex)}: empty label`);
    const labelCell = labelClass(cell);
    labelCells.push(labelCell);
    classes.add(labelCell);
    if (classes.size > config.maxClasses) {
      throw new DatasetError(
        `dataset.labelColumn: column ${label} of ${file} has more than ${config.maxClasses} classes (by line ${row.line}); raise dataset.maxClasses if it is the label`,
      );
    }
  });
  if (classes.size < 2) {
    throw new DatasetError(`dataset.labelColumn: column ${label} of ${file} has a single class; at least 2 are needed`);
  }
  splitSizes(config.split, rows.length, 'rows');
  const classNames = sortClasses([...classes]);
  return { file, labelColumn: label, rows: rows.length, features: dim, classes: classNames.length, sha256, values, labelCells, classNames };
}

/** The file's bytes, refusing anything but a regular file of at most `maxBytes`; `field` names it in messages. */
export function readDataFile(path: string, file: string, field: string, maxBytes: number): Buffer {
  try {
    // stat before opening: opening a FIFO would block until something writes to it.
    const stats = statSync(path);
    if (!stats.isFile()) throw new DatasetError(`${field}: ${file} is not a regular file`);
    if (stats.size > maxBytes) {
      throw new DatasetError(`${field}: ${file} is larger than the limit of ${maxBytes / 2 ** 20} MiB`);
    }
    return readFileSync(path);
  } catch (error) {
    if (error instanceof DatasetError) throw error;
    throw new DatasetError(`${field}: cannot read ${file}: ${describeFsError(error)}`);
  }
}

/** Node's message repeats the code and the path ("ENOENT: no such file or directory, open 'x'"); keep the reason. */
function describeFsError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return /^[A-Z]+: ([^,]+),/.exec(message)?.[1] ?? (error as NodeJS.ErrnoException).code ?? 'unreadable';
}

/** RFC 4180 records (quoted cells may hold delimiters, quotes as "" and line breaks), cells trimmed, blank lines skipped. */
function parseCsv(bytes: Buffer, delimiter: string, file: string): CsvRecord[] {
  let text: string;
  try {
    // Also drops a UTF-8 byte order mark.
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new DatasetError(`dataset.path: ${file} is not UTF-8 text`);
  }
  // Loaded when a csv file is parsed: `sweep validate` and `--help` start without it.
  const { CsvError, parse } = createRequire(import.meta.url)('csv-parse/sync') as typeof import('csv-parse/sync');
  let rows: string[][];
  const lineOfRow: number[] = [];
  try {
    rows = parse(text, {
      bom: true,
      delimiter,
      // Row lengths are checked afterwards, to word the message.
      relax_column_count: true,
      skip_empty_lines: true,
      trim: true,
      on_record: (cells, { lines }) => {
        lineOfRow.push(lines);
        return cells;
      },
    });
  } catch (error) {
    if (!(error instanceof CsvError)) throw error;
    // csv-parse's own messages quote the text around the problem: name it by its code only.
    const problem = error.code.replace(/^CSV_/, '').toLowerCase().replaceAll('_', ' ');
    throw new DatasetError(`dataset.path: ${file} line ${Number(error.lines) || 1}: ${problem}`);
  }
  return (
    rows
      .map((cells, i) => ({ line: lineOfRow[i], cells }))
      // A line of spaces is a record of one empty cell.
      .filter(({ cells }) => !(cells.length === 1 && cells[0] === ''))
  );
}

/** Numeric order when every class name is a number (so 2 < 10), else plain string order. */
/** A label that is a number names its class by value: "1", "1.0", "01" and "+1" are one class, "1". */
function labelClass(cell: string): string {
  const value = Number(cell);
  return NUMBER.test(cell) && Number.isFinite(value) ? String(value) : cell;
}

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
function columnStats(values: Float32Array | Float64Array, dim: number, rowIds: Int32Array): { mean: Float64Array; std: Float64Array } {
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
