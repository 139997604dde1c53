import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { type DatasetConfig, datasetSchema } from '../src/flooding/config.js';
import { type Dataset, DatasetError, makeDataset, type Split } from '../src/flooding/datasets.js';

const config = (input: unknown): DatasetConfig => datasetSchema.parse(input);
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

    test('missing or unreadable file', () => {
      const missing = path.join(dir, 'nope.csv');
      expectError({ path: missing }, 'dataset.path', new RegExp(`^dataset\\.path: cannot read "${missing}": no such file or directory$`));
      expectError({ path: dir }, 'dataset.path', /cannot read ".*": /);
    });

    test('empty file, or a header without data rows', () => {
      expectError({ path: writeFixture('') }, 'dataset.path', /is empty/);
      expectError({ path: writeFixture('\n  \n') }, 'dataset.path', /is empty/);
      expectError({ path: writeFixture('x,y\n\n') }, 'dataset.path', /no data rows/);
    });

    test('label column missing from the header lists the columns', () => {
      const file = writeFixture('a, b ,c\n1,2,3\n');
      expectError(
        { path: file, labelColumn: 'foo' },
        'dataset.labelColumn',
        /^dataset\.labelColumn: column "foo" not found; columns: a, b, c$/,
      );
    });

    test('ragged row names its line number', () => {
      const file = writeFixture('x,y\n1,a\n\n2,b\n3\n4,a\n');
      expectError({ path: file }, 'dataset.path', /line 5 .*1 cells; the header has 2/);
    });

    test('non-numeric feature names the column and the line', () => {
      expectError({ path: writeFixture('x,y,z\n1,a,2\n2,b,oops\n') }, 'dataset.path', /column "z", line 3 .*"oops" is not a number/);
      expectError({ path: writeFixture('x,y\n1,a\n,b\n') }, 'dataset.path', /column "x", line 3 .*"" is not a number/);
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
      expectError({ path: writeFixture('y\na\nb\n') }, 'dataset.path', /no columns besides the label column "y"/);
      expectError({ path: writeFixture('x,y\n1,"a\n2,b\n') }, 'dataset.path', /line 2 .*unterminated quote/);
    });
  });
});
