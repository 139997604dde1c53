/**
 * Hostile data: every spec test/fixtures/hostile/csv-*.json names a CSV file (or something that is
 * not one) that training cannot use. `sweep validate` and `sweep run` refuse each with exit 2 and
 * one line naming the file and what is wrong, never a line or a cell of the file, and `sweep run`
 * writes nothing. Both run from another directory: CSV paths resolve against the spec file.
 */
import assert from 'node:assert/strict';
import { appendFileSync, copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { DatasetConfig } from '../src/flooding/config.js';
import { loadSpecFile } from '../src/input-files.js';
import { planTasks } from '../src/planned-tasks.js';
import { runSweep } from '../src/run.js';
import { openStores } from '../src/store/open.js';
import { type CliResult, floodsweep, show } from './cli-helpers.js';

const HOSTILE = fileURLToPath(new URL('./fixtures/hostile/', import.meta.url));
const FILE = '"[^"]*csv-[a-z0-9-]+\\.csv"';

const CASES: Array<{ spec: string; message: RegExp }> = [
  { spec: 'csv-missing-file', message: new RegExp(`^dataset\\.path: cannot read ${FILE}: no such file or directory$`) },
  { spec: 'csv-directory', message: /^dataset\.path: "[^"]*hostile" is not a regular file$/ },
  { spec: 'csv-device', message: /^dataset\.path: "\/dev\/zero" is not a regular file$/ },
  { spec: 'csv-passwd', message: /^dataset\.labelColumn: no column "y" in the header \(line 1\) of "\/etc\/passwd", which has 1 column$/ },
  { spec: 'csv-not-utf8', message: new RegExp(`^dataset\\.path: ${FILE} is not UTF-8 text$`) },
  { spec: 'csv-empty', message: new RegExp(`^dataset\\.path: ${FILE} is empty$`) },
  { spec: 'csv-header-only', message: new RegExp(`^dataset\\.path: ${FILE} has a header but no data rows$`) },
  {
    spec: 'csv-missing-label',
    message: new RegExp(`^dataset\\.labelColumn: no column "y" in the header \\(line 1\\) of ${FILE}, which has 3 columns$`),
  },
  { spec: 'csv-ragged', message: new RegExp(`^dataset\\.path: ${FILE} line 6 has 2 cells; the header has 3$`) },
  { spec: 'csv-unclosed-quote', message: new RegExp(`^dataset\\.path: ${FILE} line \\d+: quote not closed$`) },
  {
    spec: 'csv-empty-cell',
    message: new RegExp(`^dataset\\.path: ${FILE} line 6, column 2 \\("x2"\\): empty cell; every feature needs a number$`),
  },
  { spec: 'csv-not-a-number', message: new RegExp(`^dataset\\.path: ${FILE} line 6, column 2 \\("x2"\\): not a number$`) },
  { spec: 'csv-nan', message: new RegExp(`^dataset\\.path: ${FILE} line 6, column 1 \\("x1"\\): not a number$`) },
  { spec: 'csv-infinity', message: new RegExp(`^dataset\\.path: ${FILE} line 6, column 2 \\("x2"\\): not a number$`) },
  {
    spec: 'csv-overflow',
    message: new RegExp(
      `^dataset\\.path: ${FILE} line 6, column 1 \\("x1"\\): the number is out of range; magnitudes up to 3\\.4e38 are allowed$`,
    ),
  },
  { spec: 'csv-near-max', message: new RegExp(`^dataset\\.path: ${FILE} line 6, column 1 \\("x1"\\): the number is out of range`) },
  {
    spec: 'csv-escape-header',
    message: new RegExp(`^dataset\\.path: ${FILE} line 6, column 1 \\("\\\\u001b\\]0;pwned\\\\u0007\\\\u001b\\[31mx1"\\): not a number$`),
  },
  { spec: 'csv-empty-label', message: new RegExp(`^dataset\\.path: ${FILE} line 6, column 3 \\("y"\\): empty label$`) },
  {
    spec: 'csv-single-class',
    message: new RegExp(`^dataset\\.labelColumn: column "y" of ${FILE} has a single class; at least 2 are needed$`),
  },
  {
    spec: 'csv-many-classes',
    message: new RegExp(
      `^dataset\\.labelColumn: column "y" of ${FILE} has more than 100 classes \\(by line 102\\); raise dataset\\.maxClasses`,
    ),
  },
  { spec: 'csv-bad-delimiter', message: /^dataset\.delimiter: must be one of ",", ";" or "\\t" \(tab\)$/ },
  { spec: 'csv-unknown-ignored-column', message: new RegExp(`^dataset\\.ignoreColumns\\[1\\]: no column "id" in the header of ${FILE}$`) },
  { spec: 'csv-ignored-label', message: /^dataset\.ignoreColumns\[0\]: "y" is the label column$/ },
  {
    spec: 'csv-wrong-sha256',
    message: new RegExp(`^dataset\\.sha256: ${FILE} is not the file the task was planned with \\(its SHA-256 is now [0-9a-f]{64}\\)`),
  },
  { spec: 'csv-grid-bad-path', message: new RegExp(`^grid\\.dataset\\.path\\[1\\]: ${FILE} line 6, column 1 \\("x1"\\): not a number$`) },
];

/** Lines and cells of the data files a spec names (those that are readable regular files), at least 4 characters long. */
function contentOf(specPath: string): string[] {
  const spec = JSON.parse(readFileSync(specPath, 'utf8'));
  const paths: unknown[] = [spec.dataset?.path, ...(spec.grid?.['dataset.path'] ?? [])];
  const files = paths
    .filter((path): path is string => typeof path === 'string')
    .map((path) => resolve(dirname(specPath), path))
    .filter((path) => existsSync(path) && statSync(path).isFile());
  return files.flatMap((file) => {
    const lines = readFileSync(file, 'latin1').split(/\r?\n/);
    const cells = lines.slice(1).flatMap((line) => line.split(/[,;\t]/));
    return [...lines, ...cells].map((text) => text.trim()).filter((text) => text.length >= 4);
  });
}

function assertRefused(result: CliResult, message: RegExp, content: string[]): void {
  assert.equal(result.code, 2, show(result));
  assert.equal(result.stdout, '', show(result));
  const lines = result.stderr.split('\n').filter((line) => line !== '');
  assert.equal(lines.length, 1, show(result));
  const [line] = lines;
  assert.match(line, /^floodsweep: /);
  assert.match(line.slice('floodsweep: '.length), message);
  assert.ok(line.length <= 400, `${line.length} characters`);
  assert.doesNotMatch(line, /[\u0000-\u001f\u007f-\u009f]/, 'no raw control character');
  for (const text of content) assert.ok(!line.includes(text), `quotes the file: ${JSON.stringify(text)}`);
}

// Each case starts the CLI twice; most of that is waiting for Node to start.
describe('hostile CSV files and specs', { concurrency: 4 }, () => {
  // Another directory than the spec's: the CSV paths must resolve against the spec file.
  const cwd = mkdtempSync(join(tmpdir(), 'floodsweep-hostile-'));
  after(() => rmSync(cwd, { recursive: true, force: true }));

  test('every case has its fixture, and every csv-*.json fixture has its case', () => {
    const specs = readdirSync(HOSTILE).filter((name) => /^csv-.*\.json$/.test(name) && name !== 'csv-features.json');
    assert.deepEqual(specs.map((name) => name.replace(/\.json$/, '')).sort(), CASES.map((c) => c.spec).sort());
  });

  for (const { spec, message } of CASES) {
    test(`${spec}: validate and run refuse it with exit 2 and one line, and run writes nothing`, async () => {
      const specPath = join(HOSTILE, `${spec}.json`);
      const content = contentOf(specPath);
      if (spec === 'csv-passwd') assert.ok(content.length > 0, 'the test reads /etc/passwd');
      assertRefused(await floodsweep(['sweep', 'validate', specPath], { cwd }), message, content);
      const results = join(cwd, `results-${spec}`);
      assertRefused(await floodsweep(['sweep', 'run', specPath, '--results', results, '--workers', '1'], { cwd }), message, content);
      assert.ok(!existsSync(results) || readdirSync(results, { recursive: true }).length === 0, 'nothing written');
    });
  }

  test('sweep validate opens the data: file, label column, classes, rows, features (BOM, ";", quoted line breaks, ignored columns)', async () => {
    const result = await floodsweep(['sweep', 'validate', join(HOSTILE, 'csv-features.json')], { cwd });
    assert.equal(result.code, 0, show(result));
    const [first, data] = result.stdout.split('\n');
    assert.match(first, /: valid; 2 tasks/);
    assert.match(data, /^ {2}data "[^"]*csv-features\.csv": label column "y", 2 classes, 24 rows, 2 features, sha256 [0-9a-f]{12}$/);
  });
});

describe('the data file is part of the task identity', () => {
  const dir = mkdtempSync(join(tmpdir(), 'floodsweep-data-identity-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const specPath = join(dir, 'spec.json');
  const dataPath = join(dir, 'data.csv');
  copyFileSync(join(HOSTILE, 'csv-features.csv'), dataPath);
  const spec = JSON.parse(readFileSync(join(HOSTILE, 'csv-features.json'), 'utf8'));
  writeFileSync(specPath, JSON.stringify({ ...spec, dataset: { ...spec.dataset, path: 'data.csv' } }));
  const taskIds = () => planTasks(loadSpecFile(specPath)).map((task) => task.taskId);

  test('paths resolve against the spec file, and editing the file changes every task id', () => {
    assert.notEqual(resolve('data.csv'), dataPath, 'the test runs from another directory');
    const [task] = planTasks(loadSpecFile(specPath));
    const dataset = task.config.dataset as Extract<DatasetConfig, { name: 'csv' }>;
    assert.equal(dataset.path, dataPath);
    assert.match(dataset.sha256 ?? '', /^[0-9a-f]{64}$/);

    const before = taskIds();
    const original = readFileSync(dataPath);
    writeFileSync(dataPath, original.toString('latin1').replace('0.25', '0.5'), 'latin1');
    const edited = taskIds();
    assert.equal(edited.length, before.length);
    for (const id of edited) assert.ok(!before.includes(id), 'an edited file makes different tasks');
    writeFileSync(dataPath, original);
    assert.deepEqual(taskIds(), before, 'the same content, the same tasks');
  });

  test('every csv path of a spec resolves against its directory: base, grid.dataset and grid["dataset.path"]; absolute paths stay', () => {
    const gridSpec = join(dir, 'grid.json');
    const csv = { name: 'csv', labelColumn: 'y' };
    writeFileSync(
      gridSpec,
      JSON.stringify({
        name: 'paths',
        dataset: { ...csv, path: 'base.csv' },
        grid: {
          dataset: [
            { ...csv, path: 'sub/a.csv' },
            { ...csv, path: '/abs/b.csv' },
          ],
          'dataset.path': ['c.csv', '/abs/d.csv'],
        },
        floodLevels: [0],
      }),
    );
    const loaded = loadSpecFile(gridSpec);
    assert.equal((loaded.dataset as { path: string }).path, join(dir, 'base.csv'));
    assert.deepEqual(
      (loaded.grid.dataset as unknown[]).map((d) => (d as { path: string }).path),
      [join(dir, 'sub/a.csv'), '/abs/b.csv'],
    );
    assert.deepEqual(loaded.grid['dataset.path'], [join(dir, 'c.csv'), '/abs/d.csv']);
  });

  test('a file edited after planning fails its tasks at training time, naming the file', async () => {
    const rootDir = join(dir, 'results-train');
    const original = readFileSync(dataPath);
    try {
      const { sweepId, summary } = await runSweep(loadSpecFile(specPath), {
        stores: { kind: 'local', rootDir },
        workers: 1,
        onEvent: (event) => {
          // Planned (and hashed), not yet trained.
          if (event.type === 'started') appendFileSync(dataPath, '99;x;1;1;yes\r\n');
        },
      });
      assert.notEqual(summary.status, 'SUCCEEDED');
      const tasks = await openStores({ kind: 'local', rootDir }).metrics.listTasks(sweepId);
      assert.equal(tasks.length, 2);
      for (const task of tasks) {
        assert.equal(task.status, 'FAILED');
        assert.match(task.error ?? '', /dataset\.sha256: "[^"]*data\.csv" is not the file the task was planned with/);
      }
    } finally {
      writeFileSync(dataPath, original);
    }
  });

  test('a resume after the file was edited is refused and writes nothing', async () => {
    const results = join(dir, 'results-resume');
    const first = await floodsweep(['sweep', 'run', specPath, '--results', results, '--workers', '1', '--json'], { cwd: dirname(dir) });
    assert.equal(first.code, 0, show(first));
    const { sweepId } = JSON.parse(first.stdout);
    const files = () =>
      readdirSync(results, { recursive: true, withFileTypes: true })
        .filter((entry) => entry.isFile())
        .map((entry) => {
          const path = join(entry.parentPath, entry.name);
          return [path, readFileSync(path, 'latin1')];
        });
    const stored = files();
    const original = readFileSync(dataPath);
    try {
      appendFileSync(dataPath, '99;x;1;1;yes\r\n');
      const resumed = await floodsweep(['sweep', 'run', '--resume', sweepId, '--results', results]);
      assert.equal(resumed.code, 2, show(resumed));
      assert.match(resumed.stderr, new RegExp(`^floodsweep: dataset\\.path: "[^"]*data\\.csv" changed since sweep ${sweepId} was planned`));
      assert.deepEqual(files(), stored, 'nothing written');
    } finally {
      writeFileSync(dataPath, original);
    }
  });
});
