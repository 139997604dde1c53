import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { type DatasetConfig, datasetSchema, resolveTaskConfig } from '../src/flooding/config.js';
import { type Dataset, DatasetError, inspectCsv, MAX_CSV_BYTES, type Split } from '../src/flooding/datasets.js';
import { makeDataset } from '../src/flooding/make-dataset.js';

const config = (input: unknown): DatasetConfig => datasetSchema.parse(input);
type CsvConfig = Extract<DatasetConfig, { name: 'csv' }>;
const SPLIT_NAMES = ['train', 'val', 'test'] as const;

function flippedCount(split: Split): number {
  let count = 0;
  for (let i = 0; i < split.n; i++) if (split.labels[i] !== split.cleanLabels[i]) count++;
  return count;
}

function assertShapes(data: Dataset, sizes: [number, number, number], dim: number, numClasses: number): void {
  assert.equal(data.dim, dim);
  assert.equal(data.numClasses, numClasses);
  SPLIT_NAMES.forEach((name, i) => {
    const split = data[name];
    assert.equal(split.n, sizes[i], `${name}.n`);
    assert.equal(split.dim, dim, `${name}.dim`);
    assert.equal(split.x.length, sizes[i] * dim, `${name}.x.length`);
    assert.equal(split.labels.length, sizes[i], `${name}.labels.length`);
    assert.equal(split.cleanLabels.length, sizes[i], `${name}.cleanLabels.length`);
    for (const labels of [split.labels, split.cleanLabels]) {
      for (const label of labels) assert.ok(label >= 0 && label < numClasses, `${name}: label ${label} out of range`);
    }
    for (const value of split.x) assert.ok(Number.isFinite(value), `${name}: non-finite input`);
  });
}

const SYNTHETIC = [
  { name: 'sinusoid2d', dim: 2, extra: {} },
  { name: 'sinusoid', dim: 5, extra: { dim: 5 } },
  { name: 'spiral', dim: 2, extra: {} },
  { name: 'gaussian', dim: 3, extra: { dim: 3 } },
] as const;

for (const { name, dim, extra } of SYNTHETIC) {
  describe(`${name} dataset`, () => {
    // 100 * 0.29 and 50 * 0.29 land just below an integer in floating point.
    const base = { name, ...extra, nTrain: 100, nVal: 37, nTest: 50, labelNoise: 0.29 };

    test('has the configured shapes and two classes', () => {
      assertShapes(makeDataset(config(base), 1), [100, 37, 50], dim, 2);
    });

    test('flips exactly floor(n * labelNoise) labels in every split', () => {
      const data = makeDataset(config(base), 1);
      assert.deepEqual(
        SPLIT_NAMES.map((s) => flippedCount(data[s])),
        [29, 10, 14],
      );
      const none = makeDataset(config({ ...base, labelNoise: 0 }), 1);
      assert.deepEqual(
        SPLIT_NAMES.map((s) => flippedCount(none[s])),
        [0, 0, 0],
      );
    });

    test('is deterministic in the seed', () => {
      assert.deepEqual(makeDataset(config(base), 7), makeDataset(config(base), 7));
      const other = makeDataset(config(base), 8);
      for (const s of SPLIT_NAMES) assert.notDeepEqual(other[s].x, makeDataset(config(base), 7)[s].x);
    });

    test('changing nTest leaves train and val identical', () => {
      const full = makeDataset(config(base), 3);
      const quick = makeDataset(config({ ...base, nTest: 5 }), 3);
      assert.deepEqual(quick.train, full.train);
      assert.deepEqual(quick.val, full.val);
      assert.equal(quick.test.n, 5);
    });

    test('the label noise rate changes labels only, never inputs', () => {
      const clean = makeDataset(config({ ...base, labelNoise: 0 }), 3);
      const noisy = makeDataset(config(base), 3);
      for (const s of SPLIT_NAMES) {
        assert.deepEqual(noisy[s].x, clean[s].x);
        assert.deepEqual(noisy[s].cleanLabels, clean[s].cleanLabels);
      }
    });
  });
}

describe('sinusoid2d specifics', () => {
  const data = makeDataset(config({ name: 'sinusoid2d' }), 0);

  test('defaults to the demo sizes 100/100/20000 with 10% noise', () => {
    assertShapes(data, [100, 100, 20000], 2, 2);
    assert.deepEqual(
      SPLIT_NAMES.map((s) => flippedCount(data[s])),
      [10, 10, 2000],
    );
  });

  test('points lie in the disk of radius 2, uniformly', () => {
    const { x, n } = data.test;
    let inner = 0;
    for (let i = 0; i < n; i++) {
      const radius = Math.hypot(x[2 * i], x[2 * i + 1]);
      assert.ok(radius <= 2 + 1e-6, `radius ${radius}`);
      if (radius < Math.SQRT2) inner++;
    }
    // Half the area of the disk lies within radius sqrt(2).
    assert.ok(Math.abs(inner / n - 0.5) < 0.02, `inner fraction ${inner / n}`);
  });

  test('clean labels follow 1.5 x1 + sin(1.5 x2) > 0', () => {
    for (const s of SPLIT_NAMES) {
      const { x, n, cleanLabels } = data[s];
      for (let i = 0; i < n; i++) {
        assert.equal(cleanLabels[i], 1.5 * x[2 * i] + Math.sin(1.5 * x[2 * i + 1]) > 0 ? 1 : 0);
      }
    }
  });
});

test('sinusoid: inputs are 2 * N(0, I) and clean labels follow x1 + sin(x2) > 0', () => {
  const data = makeDataset(config({ name: 'sinusoid', dim: 4, nTrain: 10, nVal: 10, nTest: 5000 }), 2);
  const { x, n, dim, cleanLabels } = data.test;
  let squares = 0;
  for (let i = 0; i < n; i++) {
    assert.equal(cleanLabels[i], x[i * dim] + Math.sin(x[i * dim + 1]) > 0 ? 1 : 0);
    for (let j = 0; j < dim; j++) squares += x[i * dim + j] ** 2;
  }
  assert.ok(Math.abs(Math.sqrt(squares / (n * dim)) - 2) < 0.05);
});

describe('spiral specifics', () => {
  test('without input noise, positives then negatives lie exactly on their arms', () => {
    const data = makeDataset(config({ name: 'spiral', inputNoise: 0, nTrain: 7, nVal: 1, nTest: 3 }), 0);
    const { x, cleanLabels } = data.train;
    assert.deepEqual([...cleanLabels], [1, 1, 1, 1, 0, 0, 0]);
    for (let i = 0; i < 4; i++) {
      const angle = (4 * Math.PI * i) / 3;
      assert.ok(Math.abs(x[2 * i] - angle * Math.cos(angle)) < 1e-5);
      assert.ok(Math.abs(x[2 * i + 1] - angle * Math.sin(angle)) < 1e-5);
    }
    for (let i = 0; i < 3; i++) {
      const angle = 2 * Math.PI * i;
      assert.ok(Math.abs(x[2 * (4 + i)] - (angle + Math.PI) * Math.cos(angle)) < 1e-5);
      assert.ok(Math.abs(x[2 * (4 + i) + 1] - (angle + Math.PI) * Math.sin(angle)) < 1e-5);
    }
    // A class with a single point sits at angle 0.
    assert.deepEqual([...data.val.x], [0, 0]);
    const expectedTest = [0, 0, 4 * Math.PI, 0, Math.PI, 0];
    for (const [i, value] of data.test.x.entries()) assert.ok(Math.abs(value - expectedTest[i]) < 1e-5, `test.x[${i}] = ${value}`);
  });

  test('inputNoise scales the Gaussian perturbation', () => {
    const sizes = { nTrain: 2000, nVal: 1, nTest: 1 };
    const exact = makeDataset(config({ name: 'spiral', inputNoise: 0, ...sizes }), 5).train.x;
    const noisy = makeDataset(config({ name: 'spiral', inputNoise: 0.5, ...sizes }), 5).train.x;
    let squares = 0;
    for (let i = 0; i < exact.length; i++) squares += (noisy[i] - exact[i]) ** 2;
    assert.ok(Math.abs(Math.sqrt(squares / exact.length) - 0.5) < 0.02);
  });
});

test('gaussian: ceil(n/2) rows of class 0 around 0, then floor(n/2) of class 1 around meanShift', () => {
  const data = makeDataset(config({ name: 'gaussian', dim: 3, meanShift: 2, nTrain: 4001, nVal: 1, nTest: 1 }), 4);
  const { x, n, dim, cleanLabels } = data.train;
  const sums = [0, 0];
  for (let i = 0; i < n; i++) {
    assert.equal(cleanLabels[i], i < 2001 ? 0 : 1);
    for (let j = 0; j < dim; j++) sums[cleanLabels[i]] += x[i * dim + j];
  }
  assert.ok(Math.abs(sums[0] / (2001 * dim)) < 0.05);
  assert.ok(Math.abs(sums[1] / (2000 * dim) - 2) < 0.05);
});

describe('csv dataset', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'floodsweep-datasets-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  let fileCount = 0;
  const writeFixture = (content: string): string => {
    const file = path.join(dir, `fixture${fileCount++}.csv`);
    fs.writeFileSync(file, content);
    return file;
  };

  const SPECIES = ['dog', 'cat', 'bird'];
  const speciesOf = (id: number) => SPECIES[id % 3];
  // Columns: id (recovers the row after shuffling), a label in the middle, a varying and a constant feature.
  const animals = writeFixture(
    ['id , species, a, c', ...Array.from({ length: 50 }, (_, id) => `${id}, ${speciesOf(id)} ,${(id * 7) % 11}.5,3.25`)].join('\n'),
  );
  const animalConfig = (extra: object = {}) =>
    config({ name: 'csv', path: animals, labelColumn: 'species', labelNoise: 0, standardize: false, ...extra });

  test('splits the shuffled rows 60/20/20 by default, each row exactly once', () => {
    const data = makeDataset(animalConfig(), 1);
    assertShapes(data, [30, 10, 10], 3, 3);
    const ids = SPLIT_NAMES.flatMap((s) => Array.from({ length: data[s].n }, (_, i) => data[s].x[i * 3]));
    assert.deepEqual(
      [...ids].sort((a, b) => a - b),
      Array.from({ length: 50 }, (_, i) => i),
    );
    assert.notDeepEqual(
      ids,
      [...ids].sort((a, b) => a - b),
      'rows are shuffled',
    );
  });

  test('maps string classes in sorted order and keeps the feature values', () => {
    const data = makeDataset(animalConfig(), 1);
    for (const s of SPLIT_NAMES) {
      const { x, n, cleanLabels } = data[s];
      for (let i = 0; i < n; i++) {
        const id = x[i * 3];
        assert.equal(cleanLabels[i], ['bird', 'cat', 'dog'].indexOf(speciesOf(id)));
        assert.deepEqual([x[i * 3 + 1], x[i * 3 + 2]], [((id * 7) % 11) + 0.5, 3.25]);
      }
    }
  });

  test('sorts numeric classes numerically', () => {
    const file = writeFixture('x,y\n1,10\n2,9\n3,2\n4,10\n5,9\n6,2\n7,10\n8,9\n9,2\n10,10\n');
    const data = makeDataset(config({ name: 'csv', path: file, labelColumn: 'y', labelNoise: 0, standardize: false }), 0);
    assert.equal(data.numClasses, 3);
    for (const s of SPLIT_NAMES) {
      for (let i = 0; i < data[s].n; i++) {
        const y = [10, 9, 2][(data[s].x[i] - 1) % 3];
        assert.equal(data[s].cleanLabels[i], [2, 9, 10].indexOf(y));
      }
    }
  });

  test('a numeric label is its class by value: 1, 1.0, 01, +1 and 1e0 are one class', () => {
    const spellings = ['1', '1.0', '01', '+1', '1e0', '2', '2.00', '-0', '0'];
    const rows = Array.from({ length: 18 }, (_, i) => `${i},${spellings[i % spellings.length]}`);
    const file = writeFixture(['x,y', ...rows].join('\n'));
    const data = makeDataset(config({ name: 'csv', path: file, labelColumn: 'y', labelNoise: 0, standardize: false }), 0);
    assert.equal(data.numClasses, 3);
    assert.equal(inspectCsv(config({ name: 'csv', path: file, labelColumn: 'y' }) as CsvConfig).classes, 3);
    for (const s of SPLIT_NAMES) {
      for (let i = 0; i < data[s].n; i++) {
        const value = Number(spellings[data[s].x[i] % spellings.length]);
        assert.equal(data[s].cleanLabels[i], [0, 1, 2].indexOf(Math.abs(value)));
      }
    }
  });

  test('standardizes every split with the train mean and population std', () => {
    const raw = makeDataset(animalConfig(), 2);
    const scaled = makeDataset(animalConfig({ standardize: true }), 2);
    const dim = 3;
    const mean = [0, 0, 0];
    const std = [0, 0, 0];
    for (let i = 0; i < raw.train.n; i++) for (let j = 0; j < dim; j++) mean[j] += raw.train.x[i * dim + j] / raw.train.n;
    for (let i = 0; i < raw.train.n; i++) {
      for (let j = 0; j < dim; j++) std[j] += (raw.train.x[i * dim + j] - mean[j]) ** 2 / raw.train.n;
    }
    for (let j = 0; j < 2; j++) {
      let scaledMean = 0;
      let scaledSquares = 0;
      for (let i = 0; i < scaled.train.n; i++) {
        scaledMean += scaled.train.x[i * dim + j] / scaled.train.n;
        scaledSquares += scaled.train.x[i * dim + j] ** 2 / scaled.train.n;
      }
      assert.ok(Math.abs(scaledMean) < 1e-6, `column ${j} mean ${scaledMean}`);
      assert.ok(Math.abs(Math.sqrt(scaledSquares) - 1) < 1e-6, `column ${j} std`);
    }
    for (const s of SPLIT_NAMES) {
      for (let i = 0; i < raw[s].n; i++) {
        for (let j = 0; j < 2; j++) {
          const expected = (raw[s].x[i * dim + j] - mean[j]) / Math.sqrt(std[j]);
          assert.ok(Math.abs(scaled[s].x[i * dim + j] - expected) < 1e-5);
        }
        // The constant column (std 0) is centred, not divided by zero.
        assert.equal(scaled[s].x[i * dim + 2], 0);
      }
      assert.deepEqual(scaled[s].cleanLabels, raw[s].cleanLabels);
    }
  });

  test('flips exactly floor(n * labelNoise) labels per split, each to another class', () => {
    const data = makeDataset(animalConfig({ labelNoise: 0.29 }), 3);
    assert.deepEqual(
      SPLIT_NAMES.map((s) => flippedCount(data[s])),
      [8, 2, 2],
    );
  });

  test('with more than two classes a flipped label is uniform among the other classes', () => {
    const file = writeFixture(['f,label', ...Array.from({ length: 3000 }, (_, i) => `${i},${'abc'[i % 3]}`)].join('\n'));
    const data = makeDataset(config({ name: 'csv', path: file, labelColumn: 'label', labelNoise: 0.45 }), 0);
    const transitions = [0, 1, 2].map(() => [0, 0, 0]);
    for (const s of SPLIT_NAMES) {
      for (let i = 0; i < data[s].n; i++) transitions[data[s].cleanLabels[i]][data[s].labels[i]]++;
    }
    for (let from = 0; from < 3; from++) {
      const others = [0, 1, 2].filter((to) => to !== from).map((to) => transitions[from][to]);
      const share = others[0] / (others[0] + others[1]);
      assert.ok(share > 0.4 && share < 0.6, `class ${from} flips: ${others}`);
    }
  });

  test('is deterministic in the seed', () => {
    const cfg = animalConfig({ labelNoise: 0.2, standardize: true });
    assert.deepEqual(makeDataset(cfg, 5), makeDataset(cfg, 5));
    assert.notDeepEqual(makeDataset(cfg, 6).train.x, makeDataset(cfg, 5).train.x);
  });

  test('reads CRLF line ends, blank lines, a BOM and quoted cells', () => {
    const file = writeFixture(
      '\uFEFF"x", "y" ,"kind"\r\n\r\n1,2,"a, b"\r\n3,4,plain\r\n  \r\n5,6,"say ""hi"""\r\n7,8,plain\r\n9,10,plain\r\n',
    );
    const data = makeDataset(config({ name: 'csv', path: file, labelColumn: 'kind', labelNoise: 0, standardize: false }), 0);
    assert.equal(data.numClasses, 3);
    assert.equal(data.dim, 2);
    const rows = SPLIT_NAMES.flatMap((s) => Array.from({ length: data[s].n }, (_, i) => [data[s].x[i * 2], data[s].cleanLabels[i]]));
    // Classes sorted: 'a, b' < 'plain' < 'say "hi"'.
    assert.deepEqual(
      rows.sort((a, b) => a[0] - b[0]),
      [
        [1, 0],
        [3, 1],
        [5, 2],
        [7, 1],
        [9, 1],
      ],
    );
  });

  test('quoted cells hold delimiters, quotes and line breaks', () => {
    const file = writeFixture('x,note,y\n1,"two\nlines",a\n2,"a ""quoted"", b",b\n3,plain,a\n4,"x\r\ny",b\n5,z,a\n');
    const data = makeDataset(
      config({ name: 'csv', path: file, labelColumn: 'y', ignoreColumns: ['note'], labelNoise: 0, standardize: false }),
      0,
    );
    assert.equal(data.dim, 1);
    const rows = SPLIT_NAMES.flatMap((s) => Array.from({ length: data[s].n }, (_, i) => [data[s].x[i], data[s].cleanLabels[i]]));
    assert.deepEqual(
      rows.sort((a, b) => a[0] - b[0]),
      [
        [1, 0],
        [2, 1],
        [3, 0],
        [4, 1],
        [5, 0],
      ],
    );
  });

  test('reads ";" and tab delimited files as the same data', () => {
    const rows = ['x1,x2,y', ...Array.from({ length: 20 }, (_, i) => `${i},${(i * 3) % 7},${i % 2 ? 'odd' : 'even'}`)];
    const read = (delimiter: string) =>
      makeDataset(
        config({
          name: 'csv',
          path: writeFixture(rows.map((row) => row.replaceAll(',', delimiter)).join('\n')),
          labelColumn: 'y',
          ...(delimiter === ',' ? {} : { delimiter }),
        }),
        4,
      );
    const comma = read(',');
    assert.equal(comma.dim, 2);
    assert.deepEqual(read(';'), comma);
    assert.deepEqual(read('\t'), comma);
  });

  test('a comma is a plain character in a ";" file, so a comma-separated file read with ";" is one column', () => {
    const file = writeFixture('x,y\n1,a\n2,b\n');
    assert.throws(
      () => makeDataset(config({ name: 'csv', path: file, labelColumn: 'y', delimiter: ';' }), 0),
      /no column "y" in the header \(line 1\) of .*, which has 1 column$/,
    );
  });

  test('ignoreColumns drops columns by name, every column of that name', () => {
    const file = writeFixture('id,x,id,y\n1,10,100,a\n2,20,200,b\n3,30,300,a\n4,40,400,b\n5,50,500,a\n');
    const data = makeDataset(config({ name: 'csv', path: file, labelColumn: 'y', ignoreColumns: ['id'], standardize: false }), 0);
    assert.equal(data.dim, 1);
    const xs = SPLIT_NAMES.flatMap((s) => [...data[s].x]).sort((a, b) => a - b);
    assert.deepEqual(xs, [10, 20, 30, 40, 50]);
  });

  test('inspectCsv summarises the file as training reads it, with its SHA-256', () => {
    const content = 'id,x1,x2,y\n1,1,2,a\n2,3,4,b\n3,5,6,c\n4,7,8,a\n5,9,0,b\n';
    const file = writeFixture(content);
    const summary = inspectCsv(config({ name: 'csv', path: file, labelColumn: 'y', ignoreColumns: ['id'] }) as CsvConfig);
    assert.deepEqual(summary, {
      file: JSON.stringify(file),
      labelColumn: '"y"',
      rows: 5,
      features: 2,
      classes: 3,
      sha256: createHash('sha256').update(content).digest('hex'),
    });
  });

  test('a task planned with a SHA-256 refuses a file with other content', () => {
    const file = writeFixture('x,y\n1,a\n2,b\n3,a\n4,b\n5,a\n');
    const planned = config({ name: 'csv', path: file, labelColumn: 'y' }) as CsvConfig;
    const sha256 = inspectCsv(planned).sha256;
    assert.equal(makeDataset({ ...planned, sha256 }, 0).train.n, 3);
    fs.appendFileSync(file, '6,b\n');
    assert.throws(
      () => makeDataset({ ...planned, sha256 }, 0),
      (error: unknown) =>
        error instanceof DatasetError &&
        /^dataset\.sha256: ".*" is not the file the task was planned with \(its SHA-256 is now [0-9a-f]{64}\)/.test(error.message),
    );
  });

  describe('user errors', () => {
    const expectError = (input: object, field: string, pattern: RegExp) => {
      assert.throws(
        () => makeDataset(config({ name: 'csv', labelColumn: 'y', ...input }), 0),
        (error: unknown) => {
          assert.ok(error instanceof DatasetError, `not a DatasetError: ${error}`);
          assert.ok(error.message.startsWith(`${field}: `), error.message);
          assert.match(error.message, pattern);
          assert.ok(!error.message.includes('\n'), 'one line');
          return true;
        },
      );
    };

    test('missing, unreadable or not a regular file', () => {
      const missing = path.join(dir, 'nope.csv');
      expectError({ path: missing }, 'dataset.path', new RegExp(`^dataset\\.path: cannot read "${missing}": no such file or directory$`));
      expectError({ path: dir }, 'dataset.path', /^dataset\.path: ".*" is not a regular file$/);
      expectError({ path: '/dev/null' }, 'dataset.path', /^dataset\.path: "\/dev\/null" is not a regular file$/);
    });

    test('a file above the size limit is refused before it is read', () => {
      const file = writeFixture('');
      // Sparse: takes no disk space.
      fs.truncateSync(file, MAX_CSV_BYTES + 1);
      expectError({ path: file }, 'dataset.path', /is larger than the limit of 256 MiB$/);
    });

    test('a file that is not UTF-8 text', () => {
      const file = path.join(dir, 'binary.csv');
      fs.writeFileSync(file, Buffer.from([0x78, 0x2c, 0x79, 0x0a, 0xff, 0xfe, 0x2c, 0x61, 0x0a]));
      expectError({ path: file }, 'dataset.path', /is not UTF-8 text$/);
    });

    test('empty file, or a header without data rows', () => {
      expectError({ path: writeFixture('') }, 'dataset.path', /is empty/);
      expectError({ path: writeFixture('\n  \n') }, 'dataset.path', /is empty/);
      expectError({ path: writeFixture('x,y\n\n') }, 'dataset.path', /no data rows/);
    });

    test('label column missing from the header: counted, never listed (the header is file content)', () => {
      const file = writeFixture('secret-a, b ,c\n1,2,3\n');
      expectError(
        { path: file, labelColumn: 'foo' },
        'dataset.labelColumn',
        /^dataset\.labelColumn: no column "foo" in the header \(line 1\) of ".*", which has 3 columns$/,
      );
    });

    test('ragged row names its line number', () => {
      const file = writeFixture('x,y\n1,a\n\n2,b\n3\n4,a\n');
      expectError({ path: file }, 'dataset.path', /line 5 has 1 cells; the header has 2$/);
    });

    test('a bad feature cell names the line and the column, never the cell', () => {
      const cases: Array<[string, RegExp]> = [
        ['x,y,z\n1,a,2\n2,b,oops\n', /line 3, column 3 \("z"\): not a number$/],
        ['x,y\n1,a\n,b\n', /line 3, column 1 \("x"\): empty cell; every feature needs a number$/],
        ['x,y\n1,a\nNaN,b\n', /line 3, column 1 \("x"\): not a number$/],
        ['x,y\n1,a\n-Infinity,b\n', /line 3, column 1 \("x"\): not a number$/],
        ['x,y\n1,a\n2,b\n1e999,a\n', /line 4, column 1 \("x"\): the number is out of range; magnitudes up to 3.4e38 are allowed$/],
        ['x,y\n1,a\n-1e308,b\n', /line 3, column 1 \("x"\): the number is out of range/],
      ];
      for (const [content, pattern] of cases) {
        expectError({ path: writeFixture(content) }, 'dataset.path', pattern);
        expectError({ path: writeFixture(content), standardize: false }, 'dataset.path', pattern);
      }
    });

    test('values near the float32 limit standardise to finite numbers', () => {
      const file = writeFixture('x,y\n3e38,a\n-3e38,b\n3e38,a\n-3.4e38,b\n1,a\n');
      const data = makeDataset(config({ name: 'csv', path: file, labelColumn: 'y', split: { train: 0.6, val: 0.2, test: 0.2 } }), 0);
      assertShapes(data, [3, 1, 1], 1, 2);
    });

    test('a header name is escaped and shortened in messages', () => {
      const long = `\u001b[31m${'n'.repeat(200)}`;
      const file = writeFixture(`${long},y\nbad,a\n`);
      assert.throws(
        () => makeDataset(config({ name: 'csv', path: file, labelColumn: 'y' }), 0),
        (error: unknown) => {
          const { message } = error as Error;
          assert.ok(!message.includes('\u001b'), 'no raw escape character');
          assert.match(message, /column 1 \("\\u001b\[31mn+\.\.\."\): not a number$/);
          assert.ok(message.length < 300, `${message.length} characters`);
          return true;
        },
      );
    });

    test('an empty label, a single class, or more classes than maxClasses', () => {
      expectError({ path: writeFixture('x,y\n1,a\n2,\n3,b\n') }, 'dataset.path', /line 3, column 2 \("y"\): empty label$/);
      expectError(
        { path: writeFixture('x,y\n1,a\n2,a\n3,a\n') },
        'dataset.labelColumn',
        /^dataset\.labelColumn: column "y" of ".*" has a single class; at least 2 are needed$/,
      );
      const many = writeFixture(['x,y', ...Array.from({ length: 150 }, (_, i) => `${i},${i}`)].join('\n'));
      expectError(
        { path: many },
        'dataset.labelColumn',
        /^dataset\.labelColumn: column "y" of ".*" has more than 100 classes \(by line 102\); raise dataset\.maxClasses if it is the label$/,
      );
      assert.equal(makeDataset(config({ name: 'csv', path: many, labelColumn: 'y', maxClasses: 150 }), 0).numClasses, 150);
    });

    test('ignoreColumns naming a missing column or the label column', () => {
      const file = writeFixture('x,z,y\n1,2,a\n2,3,b\n3,4,a\n4,5,b\n5,6,a\n');
      expectError(
        { path: file, ignoreColumns: ['z', 'w'] },
        'dataset.ignoreColumns[1]',
        /^dataset\.ignoreColumns\[1\]: no column "w" in the header of ".*"$/,
      );
      expectError(
        { path: file, ignoreColumns: ['y'] },
        'dataset.ignoreColumns[0]',
        /^dataset\.ignoreColumns\[0\]: "y" is the label column$/,
      );
      expectError({ path: file, ignoreColumns: ['x', 'z'] }, 'dataset.path', /has no feature columns besides the label column "y"/);
    });

    test('a single class', () => {
      expectError({ path: writeFixture('x,y\n1,a\n2,a\n3,a\n') }, 'dataset.labelColumn', /single class/);
    });

    test('a split left without rows', () => {
      const file = writeFixture('x,y\n1,a\n2,b\n3,a\n');
      expectError({ path: file }, 'dataset.split', /3 rows split into train\/val\/test = 1\/0\/2/);
    });

    test('malformed header or quoting', () => {
      expectError({ path: writeFixture('y,x,y\n1,2,3\n4,5,6\n') }, 'dataset.labelColumn', /more than once/);
      expectError({ path: writeFixture('y\na\nb\n') }, 'dataset.path', /no feature columns besides the label column "y"/);
      expectError({ path: writeFixture('x,y\n1,"a\n2,b\n') }, 'dataset.path', /line \d+: quote not closed$/);
      expectError({ path: writeFixture('x,y\n1,"a"b\n2,b\n') }, 'dataset.path', /line 2: invalid closing quote$/);
    });

    test('the delimiter is one of , ; and tab', () => {
      assert.throws(
        () => resolveTaskConfig({ dataset: { name: 'csv', path: 'x.csv', labelColumn: 'y', delimiter: '|' } }),
        /dataset\.delimiter: must be one of ",", ";" or "\\t" \(tab\)$/,
      );
    });
  });
});
