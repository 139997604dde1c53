/**
 * Damaged stored state and diverging runs, through the real workflow (runSweep / resumeSweep and the
 * CLI), against both store adapters: local files, and DynamoDB + S3 (dynalite and s3rver in process).
 * A sweep is interrupted after the first Train call of each task (Plan, then one Train step per
 * task, as the workflow runs them); some checkpoints are damaged (bytes flipped, truncated, NaN
 * weights behind a valid checksum); the resume must fail exactly those tasks, naming the object, and
 * --restart-task / --restart-failed must bring the sweep to the numbers of an uninterrupted run.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { initBackend } from '../src/flooding/backend.js';
import { decodeCheckpoint, encodeCheckpoint } from '../src/flooding/checkpoint.js';
import type { EpochMetrics } from '../src/flooding/metrics.js';
import { resumeSweep, runSweep } from '../src/run.js';
import { awsClients } from '../src/store/aws.js';
import { openStores, type StoreConfig, type Stores } from '../src/store/open.js';
import { sweepKeys } from '../src/store/ports.js';
import { type SweepSpec, validateSpec } from '../src/sweep/spec.js';
import { plan } from '../src/workflow/plan.js';
import { trainStep } from '../src/workflow/train.js';
import { floodsweep, show } from './cli-helpers.js';
import { credentials, type Emulators, region, startEmulators } from './emulators.js';

const scratch = mkdtempSync(join(tmpdir(), 'floodsweep-integrity-test-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
let counter = 0;
const freshDir = () => join(scratch, `results-${++counter}`);

/** Four tasks small enough to train in a second each; 4 epochs, 2 per Train call, so a checkpoint sits at epoch 2. */
const SPEC: SweepSpec = validateSpec({
  name: 'integrity',
  dataset: { name: 'sinusoid2d', nTrain: 64, nVal: 32, nTest: 128 },
  model: { kind: 'mlp', depth: 2, width: 16 },
  optimizer: { name: 'sgd', lr: 0.05 },
  training: { epochs: 4, batchSize: 16, evalEvery: 1 },
  floodLevels: [0, 0.3],
  seeds: [0, 1],
});
const RUN = { workers: 1, epochsPerCall: 2, backend: 'wasm' } as const;

const withoutSeconds = (rows: EpochMetrics[]) => rows.map(({ seconds: _seconds, ...rest }) => rest);

/** What two runs of the same tasks must agree on, per task: status, final metrics, every epoch row but its wall-clock time. */
async function outcomes(stores: Stores, sweepId: string, except?: string) {
  const tasks = (await stores.metrics.listTasks(sweepId)).filter((task) => task.taskId !== except);
  const entries = await Promise.all(
    tasks.map(async (task) => {
      const rows = await stores.metrics.getEpochs(sweepId, task.taskId);
      return [task.taskId, { status: task.status, final: task.final, rows: withoutSeconds(rows) }] as const;
    }),
  );
  return Object.fromEntries(entries);
}

type Damage = (bytes: Buffer) => Buffer;
const DAMAGES: Record<string, Damage> = {
  // One bit of the tensor data (just before the trailing checksum): the old format resumed this silently.
  flipped: (bytes) => {
    const copy = Buffer.from(bytes);
    copy[copy.length - 64] ^= 0x10;
    return copy;
  },
  truncated: (bytes) => bytes.subarray(0, bytes.length - 100),
  // Non-finite weights behind a valid checksum: a run never checkpoints them, so they are damage.
  nan: (bytes) => {
    const checkpoint = decodeCheckpoint(bytes);
    checkpoint.modelTensors[0][3] = Number.NaN;
    return Buffer.from(encodeCheckpoint(checkpoint));
  },
};

let reference: Awaited<ReturnType<typeof outcomes>>;

before(async () => {
  await initBackend('wasm');
  const stores: StoreConfig = { kind: 'local', rootDir: freshDir() };
  const { sweepId, summary } = await runSweep(SPEC, { ...RUN, stores });
  assert.equal(summary.status, 'SUCCEEDED');
  reference = await outcomes(openStores(stores), sweepId);
  assert.equal(Object.keys(reference).length, 4);
});

/** Plan, then one Train call (2 of 4 epochs) per task: the state a sweep killed mid-training leaves. */
async function interruptedSweep(stores: Stores, sweepId: string): Promise<string[]> {
  await plan(stores, { input: { spec: SPEC, sweepId }, executionName: `${sweepId}-first` });
  const taskIds = (await stores.metrics.listTasks(sweepId)).map((task) => task.taskId);
  for (const taskId of taskIds) {
    const output = await trainStep(stores, { sweepId, taskId }, { maxEpochs: RUN.epochsPerCall });
    assert.equal(output.done, false);
  }
  return taskIds;
}

function damageAndRestart(adapter: string, makeStores: () => Promise<StoreConfig>) {
  describe(`${adapter}: damaged checkpoints`, () => {
    const sweepId = `integrity-${adapter}`;
    let config: StoreConfig;
    let stores: Stores;
    let taskIds: string[];
    /** Which damage each task got; the last task's checkpoint stays intact. */
    const damaged = new Map<string, string>();

    before(async () => {
      config = await makeStores();
      stores = openStores(config);
      taskIds = await interruptedSweep(stores, sweepId);
      const kinds = Object.keys(DAMAGES);
      for (const [i, kind] of kinds.entries()) {
        const key = sweepKeys(sweepId).taskCheckpoint(taskIds[i]);
        const bytes = (await stores.artifacts.get(key))!;
        await stores.artifacts.put(key, DAMAGES[kind](bytes));
        damaged.set(taskIds[i], kind);
      }
    });

    test('a resume fails only the damaged tasks, naming the object; the others match an uninterrupted run; PARTIAL', async () => {
      const { summary } = await resumeSweep(sweepId, { ...RUN, stores: config });
      assert.equal(summary.status, 'PARTIAL');
      assert.deepEqual(summary.failedTasks.map((task) => task.taskId).sort(), [...damaged.keys()].sort());
      const now = await outcomes(stores, sweepId);
      for (const taskId of taskIds) {
        const task = (await stores.metrics.getTask(sweepId, taskId))!;
        if (!damaged.has(taskId)) {
          assert.deepEqual(now[taskId], reference[taskId], `intact task ${taskId}`);
          continue;
        }
        const where = stores.artifacts.locate(sweepKeys(sweepId).taskCheckpoint(taskId));
        assert.equal(task.status, 'FAILED', damaged.get(taskId));
        assert.ok(task.error?.includes(where), `${damaged.get(taskId)}: the error names ${where}: ${task.error}`);
        assert.match(task.error!, damaged.get(taskId) === 'nan' ? /non-finite/ : /checksum|truncated/);
        assert.equal(task.error!.split('\n').length, 1);
        // Its rows are those of the first call, once each: none duplicated, none from a damaged resume.
        assert.deepEqual(now[taskId].rows, reference[taskId].rows.slice(0, RUN.epochsPerCall + 1));
      }
    });

    test('--restart-task retrains one damaged task from scratch; the others stay failed (still damaged)', async () => {
      const [first] = damaged.keys();
      const { summary } = await resumeSweep(sweepId, { ...RUN, stores: config, restartTasks: [first] });
      assert.equal(summary.status, 'PARTIAL');
      assert.deepEqual((await outcomes(stores, sweepId))[first], reference[first]);
      assert.equal(summary.failedTasks.length, damaged.size - 1);
      assert.ok(!summary.failedTasks.some((task) => task.taskId === first));
    });

    test('--restart-failed retrains every failed task: SUCCEEDED, with the numbers of the uninterrupted run', async () => {
      const { summary } = await resumeSweep(sweepId, { ...RUN, stores: config, restartFailed: true });
      assert.equal(summary.status, 'SUCCEEDED');
      assert.deepEqual(await outcomes(stores, sweepId), reference);
    });

    for (const what of ['epoch row', 'final metrics'] as const) {
      test(`a stored ${what} altered at rest fails only its task at Aggregate, naming it; --restart-failed repairs it`, async () => {
        const victim = taskIds[1];
        await alterStored(config, sweepId, victim, what);
        const { summary } = await resumeSweep(sweepId, { ...RUN, stores: config });
        assert.equal(summary.status, 'PARTIAL');
        assert.deepEqual(
          summary.failedTasks.map((task) => [task.taskId, task.status]),
          [[victim, 'FAILED']],
        );
        const task = (await stores.metrics.getTask(sweepId, victim))!;
        assert.equal(task.status, 'FAILED');
        assert.match(
          task.error!,
          what === 'epoch row' ? /damaged epoch record in .*EPOCH.*2.*: its sha256 checksum/i : /damaged task record/,
        );
        assert.ok(task.error!.includes(victim), task.error);
        assert.ok(!task.error!.includes(String(ALTERED)), 'no stored content in the message');
        const others = await outcomes(stores, sweepId, victim);
        for (const taskId of taskIds.filter((id) => id !== victim)) assert.deepEqual(others[taskId], reference[taskId]);
        const repaired = await resumeSweep(sweepId, { ...RUN, stores: config, restartFailed: true });
        assert.equal(repaired.summary.status, 'SUCCEEDED');
        assert.deepEqual(await outcomes(stores, sweepId), reference);
      });
    }

    test('restarting an unknown task is bad input, named, and changes nothing', async () => {
      const before = await outcomes(stores, sweepId);
      await assert.rejects(resumeSweep(sweepId, { ...RUN, stores: config, restartTasks: ['no-such-task'] }), (error: Error) => {
        assert.equal((error as { kind?: string }).kind, 'input');
        assert.match(error.message, /"no-such-task"/);
        return true;
      });
      assert.deepEqual(await outcomes(stores, sweepId), before);
      assert.equal((await stores.metrics.getSweep(sweepId))?.status, 'SUCCEEDED');
    });
  });
}

/** A value no run produces here: an accuracy of 0.123456789 on 128 test samples. */
const ALTERED = 0.123456789;

/** Changes test.cleanAcc of epoch 2's stored row, or of the task record's final metrics, behind the store's back. */
async function alterStored(config: StoreConfig, sweepId: string, taskId: string, what: 'epoch row' | 'final metrics'): Promise<void> {
  if (config.kind === 'local') {
    const dir = join(config.rootDir, 'metrics', 'sweeps', sweepId);
    const file = what === 'epoch row' ? join(dir, 'epochs', `${taskId}.json`) : join(dir, 'tasks', `${taskId}.json`);
    const stored = JSON.parse(readFileSync(file, 'utf8'));
    (what === 'epoch row' ? stored['2'] : stored.final).test.cleanAcc = ALTERED;
    writeFileSync(file, JSON.stringify(stored));
    return;
  }
  const { documents } = awsClients(config);
  const key =
    what === 'epoch row' ? { pk: `EPOCHS#${sweepId}#${taskId}`, sk: 'EPOCH#000002' } : { pk: `SWEEP#${sweepId}`, sk: `TASK#${taskId}` };
  await documents.send(
    new UpdateCommand({
      TableName: config.table,
      Key: key,
      UpdateExpression: what === 'epoch row' ? 'SET #test.#acc = :v' : 'SET #final.#test.#acc = :v',
      ExpressionAttributeNames: { '#test': 'test', '#acc': 'cleanAcc', ...(what === 'epoch row' ? {} : { '#final': 'final' }) },
      ExpressionAttributeValues: { ':v': ALTERED },
      ConditionExpression: 'attribute_exists(pk)',
    }),
  );
  documents.destroy();
}

damageAndRestart('local', async () => ({ kind: 'local', rootDir: freshDir() }));

describe('aws', () => {
  let emulators: Emulators;
  before(async () => {
    process.env.AWS_ACCESS_KEY_ID = credentials.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = credentials.secretAccessKey;
    emulators = await startEmulators();
  });
  after(() => emulators.close());
  damageAndRestart('aws', async () => {
    const { tableName, bucket, cleanup } = await emulators.newAwsStores();
    await cleanup();
    return { kind: 'aws', table: tableName, bucket, region, ...emulators.endpoints };
  });
});

describe('divergence', () => {
  test('tasks whose loss becomes NaN (lr 1000) end FAILED "diverged at epoch N", listed in the summary and report; the sweep is PARTIAL', async () => {
    const rootDir = freshDir();
    const spec = validateSpec({ ...SPEC, name: 'diverging', floodLevels: [0], seeds: [0], grid: { 'optimizer.lr': [0.05, 1000] } });
    const { sweepId, summary, reportLocation } = await runSweep(spec, { ...RUN, stores: { kind: 'local', rootDir } });
    assert.equal(summary.status, 'PARTIAL');
    assert.equal(summary.succeededTasks, 1);
    assert.equal(summary.failedTasks.length, 1);
    const [failed] = summary.failedTasks;
    assert.equal(failed.status, 'FAILED');
    assert.match(failed.error, /^DivergenceError: diverged at epoch \d+: /);
    const task = (await openStores({ kind: 'local', rootDir }).metrics.getTask(sweepId, failed.taskId))!;
    assert.equal(task.config.optimizer.lr, 1000);
    // Deterministic, so not retried: one attempt.
    assert.equal(task.attempts, 1);
    const report = readFileSync(reportLocation, 'utf8');
    assert.ok(report.includes(failed.taskId) && /diverged at epoch \d+/.test(report), 'the report lists the diverged task');
  });

  test('`floodsweep train --lr 1000` exits 1 with one line "diverged at epoch N"', async () => {
    const result = await floodsweep(['train', '--lr', '1000', '--epochs', '6', '--n-test', '64', '--width', '16', '--backend', 'wasm']);
    assert.equal(result.code, 1, show(result));
    const errors = result.stderr.split('\n').filter((line) => line.startsWith('floodsweep:'));
    assert.equal(errors.length, 1, show(result));
    assert.match(errors[0], /^floodsweep: diverged at epoch \d+: /);
    assert.equal(result.stdout, '');
  });
});

describe('CLI flags', () => {
  test('--restart-task and --restart-failed need --resume; an unknown task exits 2 naming it', async () => {
    const rootDir = freshDir();
    for (const flags of [['--restart-task', 'abc'], ['--restart-failed']]) {
      const result = await floodsweep(['sweep', 'run', 'examples/tiny.json', ...flags, '--results', rootDir]);
      assert.equal(result.code, 2, show(result));
      assert.match(result.stderr, new RegExp(`^floodsweep: ${flags[0]}: only with --resume`), show(result));
    }
    const { sweepId } = await runSweep(validateSpec({ ...SPEC, floodLevels: [0], seeds: [0] }), {
      ...RUN,
      stores: { kind: 'local', rootDir },
    });
    const result = await floodsweep(['sweep', 'run', '--resume', sweepId, '--restart-task', 'nope,other', '--results', rootDir]);
    assert.equal(result.code, 2, show(result));
    assert.match(result.stderr, /^floodsweep: restart task "nope": sweep \S+ has no such task\n$/, show(result));
  });
});

describe('stray temporary files', () => {
  test('the temp files of writes a killed run left behind are removed when the sweep runs again', async () => {
    const rootDir = freshDir();
    const stores = openStores({ kind: 'local', rootDir });
    const sweepId = 'stray-temps';
    const [taskId] = await interruptedSweep(stores, sweepId);
    const checkpoint = stores.artifacts.locate(sweepKeys(sweepId).taskCheckpoint(taskId));
    const strays = [
      `${checkpoint}~4242.1.7.tmp`,
      join(rootDir, 'metrics', 'sweeps', sweepId, 'epochs', `${taskId}.json~4242.0.3.tmp`),
      join(rootDir, 'metrics', 'sweeps', sweepId, `sweep.json~4242.0.9.tmp`),
    ];
    const anHourAgo = new Date(Date.now() - 3600_000);
    for (const stray of strays) {
      mkdirSync(dirname(stray), { recursive: true });
      writeFileSync(stray, 'half a write');
      utimesSync(stray, anHourAgo, anHourAgo);
    }
    // Another sweep's temp files are that sweep's business.
    const otherSweeps = join(rootDir, 'sweeps', 'other-sweep', 'spec.json~4242.0.1.tmp');
    mkdirSync(dirname(otherSweeps), { recursive: true });
    writeFileSync(otherSweeps, 'half a write');
    const { summary } = await resumeSweep(sweepId, { ...RUN, stores: { kind: 'local', rootDir } });
    assert.equal(summary.status, 'SUCCEEDED');
    for (const stray of strays) assert.equal(existsSync(stray), false, stray);
    assert.equal(existsSync(otherSweeps), true);
  });
});
