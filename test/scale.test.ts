/**
 * Sweeps with many flood levels: Aggregate and the report stay bounded and always end the sweep,
 * labels stay distinct, and Plan writes task records in batches that a resumed sweep does not repeat.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ENV_NAMES } from '../src/env.js';
import { openStores, type Stores } from '../src/store/open.js';
import { sweepKeys } from '../src/store/ports.js';
import type { SweepSummary } from '../src/sweep/aggregate.js';
import { levelFormatter } from '../src/sweep/aggregate.js';
import { aggregate } from '../src/workflow/aggregate.js';
import { plan } from '../src/workflow/plan.js';
import { type Emulators, startEmulators } from './emulators.js';
import { epochRow } from './store-contract.js';

const roots: string[] = [];
after(() => Promise.all(roots.map((root) => rm(root, { recursive: true, force: true }))));

async function localStores(): Promise<Stores> {
  const root = await mkdtemp(join(tmpdir(), 'floodsweep-scale-'));
  roots.push(root);
  return openStores({ kind: 'local', rootDir: root });
}

function trivialSpec(floodLevels: number[], seeds = [0]) {
  return {
    name: 'scale',
    dataset: { name: 'sinusoid2d', nTrain: 8, nVal: 8, nTest: 8 },
    model: { kind: 'linear' },
    training: { epochs: 1, batchSize: 8, evalEvery: 1 },
    floodLevels,
    seeds,
  };
}

/** Plans the sweep and finishes every task as Train would, with accuracy peaking inside the range. */
async function plannedAndTrained(stores: Stores, floodLevels: number[]): Promise<string> {
  const { sweepId } = await plan(stores, {
    input: { spec: trivialSpec(floodLevels), maxTasks: floodLevels.length },
    executionName: 'scale-test-levels',
  });
  for (const task of await stores.metrics.listTasks(sweepId)) {
    const b = task.config.floodLevel;
    const rows = [0, 1].map((epoch) => {
      const row = epochRow(epoch, b);
      return { ...row, test: { ...row.test, cleanAcc: 0.8 + 0.1 * Math.sin(3 * b) } };
    });
    await stores.metrics.putEpochs(sweepId, task.taskId, rows);
    await stores.metrics.updateTask(sweepId, task.taskId, ['PENDING'], {
      status: 'SUCCEEDED',
      epochsDone: 1,
      final: rows[1],
      backend: 'wasm',
    });
  }
  return sweepId;
}

async function readText(stores: Stores, key: string): Promise<string> {
  const bytes = await stores.artifacts.get(key);
  assert.ok(bytes, `${key} was written`);
  return bytes.toString('utf8');
}

const textsOf = (svg: string) => [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((match) => match[1]);

describe('level labels', () => {
  it('hide float noise and keep near-equal levels apart', () => {
    assert.equal(levelFormatter([0.1 + 0.2])(0.1 + 0.2), '0.3');
    const near = levelFormatter([0, 0.26, 0.26001]);
    assert.deepEqual([0, 0.26, 0.26001].map(near), ['0', '0.26', '0.26001']);
    const adjacent = 1 + Number.EPSILON;
    const tight = levelFormatter([1, adjacent]);
    assert.notEqual(tight(1), tight(adjacent));
  });
});

describe('Aggregate of a sweep with many flood levels', () => {
  it('aggregates 600 levels into a summary and a report with bounded curves', async () => {
    const stores = await localStores();
    const levels = Array.from({ length: 600 }, (_, i) => i / 1000);
    const sweepId = await plannedAndTrained(stores, levels);
    const output = await aggregate(stores, { sweepId });
    assert.equal(output.status, 'SUCCEEDED');
    assert.equal((await stores.metrics.getSweep(sweepId))?.status, 'SUCCEEDED');
    const summary = JSON.parse(await readText(stores, output.summaryKey)) as SweepSummary;
    assert.equal(summary.groups[0].levels.length, 600);

    const html = await readText(stores, output.reportKey);
    assert.ok(!html.includes('could not be drawn'), 'every figure drawn');
    const plots = await stores.artifacts.list(`${sweepKeys(sweepId).prefix}plots/`);
    assert.deepEqual(
      plots.filter((key) => key.endsWith('.png')).map((key) => key.slice(key.lastIndexOf('/') + 1)),
      ['group-1-accuracy-vs-level.png', 'group-1-accuracy.png', 'group-1-loss.png', 'group-1-train-loss-per-level.png'],
    );
    const trainLoss = await readText(stores, sweepKeys(sweepId).plot('group-1-train-loss-per-level.svg'));
    const curves = textsOf(trainLoss).filter((text) => /^b = /.test(text));
    assert.ok(curves.includes('b = 0') && curves.length <= 7, curves.join(' | '));
    assert.match(html, /Training loss on the noisy labels for \d of the 600 flood levels/);
  });

  it('labels near-equal levels apart in the table and the figures', async () => {
    const stores = await localStores();
    const sweepId = await plannedAndTrained(stores, [0, 0.26, 0.26001]);
    const output = await aggregate(stores, { sweepId });
    assert.equal(output.status, 'SUCCEEDED');
    const html = await readText(stores, output.reportKey);
    assert.ok(!html.includes('could not be drawn'));
    assert.match(html, /<td>0\.26(<span class="tag">chosen<\/span>)?<\/td>/);
    assert.match(html, /<td>0\.26001(<span class="tag">chosen<\/span>)?<\/td>/);
    const trainLoss = await readText(stores, sweepKeys(sweepId).plot('group-1-train-loss-per-level.svg'));
    for (const label of ['b = 0.26', 'b = 0.26001']) assert.ok(textsOf(trainLoss).includes(label), label);
  });

  it('ends the sweep with its summary and a report naming the figures it could not draw', async () => {
    const stores = await localStores();
    const sweepId = await plannedAndTrained(stores, [0, 0.1, 0.2]);
    const fontDir = process.env[ENV_NAMES.fontDir];
    // Without a font nothing can be drawn: the situation of a Lambda packaged without one.
    process.env[ENV_NAMES.fontDir] = join(tmpdir(), 'floodsweep-no-fonts-here');
    try {
      const output = await aggregate(stores, { sweepId });
      assert.equal(output.status, 'SUCCEEDED');
      const sweep = await stores.metrics.getSweep(sweepId);
      assert.equal(sweep?.status, 'SUCCEEDED');
      assert.equal(sweep?.summaryKey, output.summaryKey);
      const html = await readText(stores, output.reportKey);
      assert.match(html, /Figures left out because they could not be drawn/);
      for (const name of ['accuracy-vs-level', 'loss', 'accuracy', 'train-loss-per-level']) {
        assert.match(html, new RegExp(`<code>group-1-${name}\\.png</code>.*font file .*DejaVuSans\\.ttf not found`));
      }
      assert.deepEqual(await stores.artifacts.list(`${sweepKeys(sweepId).prefix}plots/`), []);
    } finally {
      if (fontDir === undefined) delete process.env[ENV_NAMES.fontDir];
      else process.env[ENV_NAMES.fontDir] = fontDir;
    }
  });
});

describe('Plan on a resumed sweep, against dynalite and s3rver', () => {
  let emulators: Emulators;
  before(async () => {
    emulators = await startEmulators();
  });
  after(() => emulators.close());

  it('writes task records in batches once, and a resumed Plan writes none and keeps progress', async () => {
    const stores = await emulators.newAwsStores();
    try {
      const levels = Array.from({ length: 30 }, (_, i) => i / 100);
      const spec = trivialSpec(levels, [0, 1]);
      const first = await plan(stores, { input: { spec, maxTasks: 60 }, executionName: 'scale-test-first' });
      const batchWrites = () => stores.requests.filter((request) => request.command === 'BatchWriteItemCommand');
      assert.equal(batchWrites().length, 3, '60 tasks, 25 to a batch');
      assert.deepEqual(
        stores.requests.filter((request) => request.command === 'GetItemCommand'),
        [],
        'no read per task',
      );
      const [done] = await stores.metrics.listTasks(first.sweepId);
      await stores.metrics.updateTask(first.sweepId, done.taskId, ['PENDING'], { status: 'SUCCEEDED', epochsDone: 1 });

      stores.requests.length = 0;
      const resumed = await plan(stores, { input: { spec, maxTasks: 60, sweepId: first.sweepId }, executionName: 'scale-test-resumed' });
      assert.equal(resumed.taskCount, 60);
      assert.deepEqual(batchWrites(), [], 'no task record written again');
      const tasks = await stores.metrics.listTasks(first.sweepId);
      assert.equal(tasks.length, 60);
      assert.equal(new Set(tasks.map((task) => task.taskId)).size, 60);
      assert.deepEqual(
        tasks.find((task) => task.taskId === done.taskId),
        { ...done, status: 'SUCCEEDED', epochsDone: 1, updatedAt: tasks.find((task) => task.taskId === done.taskId)?.updatedAt },
        'the finished task kept its progress',
      );
    } finally {
      await stores.cleanup();
    }
  });
});
