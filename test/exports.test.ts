/**
 * Tidy exports: `sweep results --format csv|jsonl|json [--epochs]` over a small sweep with a grid,
 * the CSV read back by Python's csv module as pandas would see it, and `sweep list`'s best level.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runSweep } from '../src/run.js';
import { validateSpec } from '../src/sweep/spec.js';
import { toCsv } from '../src/sweep/tables.js';
import { floodsweep, show } from './cli-helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'floodsweep-exports-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const SPEC = validateSpec({
  name: 'exports',
  dataset: { name: 'sinusoid2d', nTrain: 32, nVal: 32, nTest: 64 },
  model: { kind: 'mlp', depth: 1, width: 8 },
  training: { epochs: 2, batchSize: 16, evalEvery: 1 },
  floodLevels: [0, 0.3],
  seeds: [0],
  grid: { 'optimizer.lr': [0.01, 0.1], 'training.batchSize': [16] },
});

/** Python's csv module reads the text back: header and rows as dictionaries. */
function readWithPython(csv: string): { header: string[]; rows: Array<Record<string, string>> } {
  const script =
    'import csv, json, sys\nr = csv.DictReader(sys.stdin)\nrows = list(r)\nprint(json.dumps({"header": r.fieldnames, "rows": rows}))';
  return JSON.parse(execFileSync('python3', ['-c', script], { input: csv, encoding: 'utf8' }));
}

describe('tidy exports of a finished sweep', () => {
  let sweepId: string;
  before(async () => {
    ({ sweepId } = await runSweep(SPEC, { stores: { kind: 'local', rootDir: dir }, workers: 1 }));
  });
  const results = (...flags: string[]) => floodsweep(['sweep', 'results', sweepId, '--results', dir, ...flags]);

  test('--format csv: one row per task, one column per grid axis named by its field path', async () => {
    const r = await results('--format', 'csv');
    assert.equal(r.code, 0, show(r));
    const { header, rows } = readWithPython(r.stdout);
    assert.deepEqual(header.slice(0, 9), [
      'taskId',
      'group',
      'status',
      'backend',
      'floodLevel',
      'flooding',
      'seed',
      'optimizer.lr',
      'training.batchSize',
    ]);
    for (const column of ['attempts', 'seconds', 'train.loss', 'val.acc', 'test.cleanLoss', 'test.cleanAcc'])
      assert.ok(header.includes(column), column);
    assert.equal(rows.length, 4);
    assert.deepEqual([...new Set(rows.map((row) => row['optimizer.lr']))].sort(), ['0.01', '0.1']);
    assert.deepEqual([...new Set(rows.map((row) => row.floodLevel))].sort(), ['0', '0.3']);
    for (const row of rows) {
      assert.equal(row.status, 'SUCCEEDED');
      assert.ok(Number(row['test.cleanAcc']) >= 0 && Number(row['test.cleanAcc']) <= 1, row['test.cleanAcc']);
      assert.ok(Number(row.seconds) > 0);
    }
  });

  test('--format jsonl --epochs: one object per task and evaluated epoch, epochs 0..2', async () => {
    const r = await results('--format', 'jsonl', '--epochs');
    assert.equal(r.code, 0, show(r));
    const rows = r.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    assert.equal(rows.length, 4 * 3);
    assert.deepEqual([...new Set(rows.map((row) => row.epoch))].sort(), [0, 1, 2]);
    assert.equal(typeof rows[0]['optimizer.lr'], 'number');
    assert.ok('floodedFraction' in rows[0] && 'train.cleanAcc' in rows[0]);
  });

  test('--format json: an array of the same rows as the CSV', async () => {
    const r = await results('--format', 'json');
    assert.equal(r.code, 0, show(r));
    const rows = JSON.parse(r.stdout);
    assert.equal(rows.length, 4);
    assert.equal(rows[0].attempts, 1);
  });

  test('conflicting or incomplete flags are bad input, in one line', async () => {
    for (const flags of [['--json', '--csv'], ['--format', 'csv', '--json'], ['--epochs'], ['--format', 'xlsx']]) {
      const r = await results(...flags);
      assert.equal(r.code, 2, show(r));
      assert.equal(r.stderr.trim().split('\n').length, 1, show(r));
      assert.match(r.stderr, /^floodsweep: --(json|format|epochs)/);
    }
  });

  test('sweep list shows the best level and its metric', async () => {
    const r = await floodsweep(['sweep', 'list', '--results', dir]);
    assert.equal(r.code, 0, show(r));
    assert.match(r.stdout, new RegExp(`${sweepId}\\s+SUCCEEDED .*exports  best b=(0|0\\.3) val\\.acc \\d+\\.\\d%`));
  });
});

test('CSV cells: quoting, missing values and non-finite numbers as pandas reads them', () => {
  const csv = toCsv({ columns: ['a', 'b', 'c', 'd'], rows: [{ a: 'x,"y"', b: null, c: Number.NaN, d: Number.NEGATIVE_INFINITY }] });
  assert.equal(csv, 'a,b,c,d\n"x,""y""",,NaN,-inf\n');
  assert.deepEqual(readWithPython(csv).rows, [{ a: 'x,"y"', b: '', c: 'NaN', d: '-inf' }]);
});
