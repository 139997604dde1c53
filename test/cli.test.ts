import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { floodsweep } from './cli-helpers.js';
import { autoBackend, tfjsNodeInstalled } from './tfjs-node-installed.js';

const TINY = [
  '--n-train',
  '32',
  '--n-val',
  '32',
  '--n-test',
  '64',
  '--depth',
  '1',
  '--width',
  '8',
  '--epochs',
  '3',
  '--eval-every',
  '1',
  '--batch-size',
  '16',
];

describe('floodsweep train', () => {
  test('--json prints one object with backend, resolved config, final metrics and every epoch', async () => {
    const { code, stdout } = await floodsweep(['train', ...TINY, '--flood-level', '0.3', '--seed', '7', '--json']);
    assert.equal(code, 0);
    const lines = stdout.trim().split('\n');
    assert.equal(lines.length, 1, 'stdout holds only the JSON object');
    const result = JSON.parse(lines[0]);
    // auto: tfjs-node where it is installed, named with its libtensorflow version.
    assert.match(result.backend, autoBackend);
    assert.equal(result.config.floodLevel, 0.3);
    assert.equal(result.config.seed, 7);
    assert.equal(result.config.optimizer.name, 'sgd');
    assert.deepEqual(
      result.epochs.map((r: { epoch: number }) => r.epoch),
      [0, 1, 2, 3],
    );
    for (const split of ['train', 'val', 'test']) {
      for (const field of ['loss', 'acc', 'cleanLoss', 'cleanAcc']) assert.equal(typeof result.final[split][field], 'number');
      assert.ok(result.final[split].acc >= 0 && result.final[split].acc <= 1, 'accuracies are fractions');
    }
  });

  test('the same command twice gives the same numbers', async () => {
    const run = async () => JSON.parse((await floodsweep(['train', ...TINY, '--json'])).stdout).final;
    assert.deepEqual(await run(), await run());
  });

  const badInputs: Array<[string, string[], RegExp]> = [
    [
      'an unknown dataset',
      ['--dataset', 'mnist'],
      /^floodsweep: --dataset: must be one of sinusoid2d, sinusoid, spiral, gaussian, csv, idx, npy, npz$/,
    ],
    ['a negative flood level', ['--flood-level', '-0.1'], /^floodsweep: --flood-level: must be >= 0$/],
    ['a negative learning rate', ['--lr', '-1'], /^floodsweep: --lr: must be > 0$/],
    ['label noise of 0.5', ['--label-noise', '0.5'], /^floodsweep: --label-noise: must be < 0.5$/],
    [
      'a non-numeric learning rate',
      ['--lr', 'fast'],
      /^floodsweep: --lr: "fast": expected a number \(see .*floodsweep(\.js)? train --help\)$/,
    ],
    [
      'a missing CSV file',
      ['--dataset', 'csv', '--data', '/nonexistent.csv', '--label-column', 'y'],
      /^floodsweep: --data: cannot read "\/nonexistent.csv"/,
    ],
    ['an unknown backend', ['--backend', 'gpu'], /^floodsweep: --backend: unknown backend "gpu"; allowed: auto, tfjs-node, wasm, cpu$/],
    ...(tfjsNodeInstalled
      ? []
      : [
          ['tfjs-node forced where it is not installed', ['--backend', 'tfjs-node'], /^floodsweep: --backend: tfjs-node was requested/] as [
            string,
            string[],
            RegExp,
          ],
        ]),
  ];
  for (const [what, args, message] of badInputs) {
    test(`${what}: one line naming the flag, exit code 2, no stack trace`, async () => {
      const { code, stdout, stderr } = await floodsweep(['train', ...args]);
      assert.equal(code, 2);
      assert.equal(stdout, '');
      assert.match(stderr.split('\n')[0], message);
      assert.doesNotMatch(stderr, /\n\s+at /, 'no stack trace without --debug');
    });
  }

  test('a CSV whose label column does not exist names the column and counts the columns, without quoting the header', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'floodsweep-cli-'));
    const file = join(dir, 'data.csv');
    writeFileSync(file, 'a,b,species\n1,2,0\n3,4,1\n5,6,0\n7,8,1\n9,1,0\n');
    const { code, stderr } = await floodsweep(['train', '--dataset', 'csv', '--data', file, '--label-column', 'y']);
    assert.equal(code, 2);
    assert.match(stderr, /--label-column: .*"y".*, which has 3 columns$/m);
    assert.doesNotMatch(stderr, /species|a, b/, 'the header is file content');
  });
});

describe('floodsweep demo', () => {
  test('bad input writes nothing and exits 2', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'floodsweep-demo-'));
    for (const args of [
      ['--setting', 'rmsprop'],
      ['--seeds', '1,1'],
      ['--backend', 'tpu'],
    ]) {
      const { code, stderr } = await floodsweep(['demo', ...args], { cwd });
      assert.equal(code, 2, `demo ${args.join(' ')}`);
      assert.equal(
        stderr
          .trim()
          .split('\n')
          .filter((l) => !l.startsWith('(add --help')).length,
        1,
        stderr,
      );
    }
    assert.deepEqual(readdirSync(cwd), [], 'nothing written');
  });

  test('--help documents the settings', async () => {
    const { code, stdout } = await floodsweep(['demo', '--help']);
    assert.equal(code, 0);
    assert.match(stdout, /--setting/);
    assert.match(stdout, /--quick/);
  });

  test('prints both accuracies and writes the two plots', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'floodsweep-demo-')), 'out');
    const { code, stdout, stderr } = await floodsweep([
      'demo',
      '--quick',
      '--epochs',
      '4',
      '--eval-every',
      '2',
      '--out',
      out,
      '--workers',
      '2',
    ]);
    assert.equal(code, 0, stderr);
    assert.match(stdout, /^Test Acc\. \d\.\d{3}, Train Acc\. \d\.\d{3}: without flooding$/m);
    assert.match(
      stdout,
      /^Test Acc\. \d\.\d{3}, Train Acc\. \d\.\d{3}: with flooding (0\.2[678]|0 \(no flood level beat b = 0 on validation\))$/m,
    );
    assert.match(stdout, /^report: .*report\.html$/m);
    for (const file of ['loss.png', 'accuracy.png', 'loss.svg', 'accuracy.svg']) assert.ok(existsSync(join(out, file)), file);
  });
});
