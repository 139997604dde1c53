/** The contract every MetricsStore / ArtifactStore adapter pair must meet. Not a test file itself. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { LIST_PRICES } from '../src/cost/model.js';
import { resolveTaskConfig } from '../src/flooding/config.js';
import type { EpochMetrics, SplitMetrics } from '../src/flooding/metrics.js';
import { type ArtifactStore, type MetricsStore, StoreError, sweepKeys } from '../src/store/ports.js';
import type { ReproRecord, SweepLease, SweepRecord, TaskRecord } from '../src/sweep/records.js';

export interface Stores {
  metrics: MetricsStore;
  artifacts: ArtifactStore;
  cleanup: () => Promise<void>;
}

const at = (minute: number) => new Date(Date.UTC(2025, 0, 1, 0, minute)).toISOString();

export function sweepRecord(sweepId: string, overrides: Partial<SweepRecord> = {}): SweepRecord {
  return {
    sweepId,
    name: 'demo',
    createdAt: at(0),
    status: 'RUNNING',
    taskCount: 4,
    specKey: `sweeps/${sweepId}/spec.json`,
    updatedAt: at(0),
    ...overrides,
  };
}

export function taskRecord(sweepId: string, taskId: string, overrides: Partial<TaskRecord> = {}): TaskRecord {
  return {
    sweepId,
    taskId,
    status: 'PENDING',
    config: resolveTaskConfig({ floodLevel: 0.02, seed: 1 }),
    group: 'g1',
    epochsDone: 0,
    epochsTotal: 200,
    attempts: 0,
    updatedAt: at(0),
    ...overrides,
  };
}

const split = (x: number): SplitMetrics => ({ loss: x, acc: 1 - x / 10, cleanLoss: x / 2, cleanAcc: 0.9 });

export function epochRow(epoch: number, x = epoch / 7): EpochMetrics {
  return {
    epoch,
    train: split(x),
    val: split(x + 0.1),
    test: split(x + 0.2),
    floodedFraction: 0.25,
    objective: x + 0.01,
    lr: 0.01,
    seconds: 0.123456789,
  };
}

function reproRecord(name: string, minute: number, sweepId: string): ReproRecord {
  return {
    name,
    sweepId,
    baseline: 'baseline-1',
    verdict: 'REPRODUCED',
    createdAt: at(minute),
    details: { drift: [0.001, null, 'ok'], nested: { deep: true } },
  };
}

const inSeconds = (seconds: number) => new Date(Date.now() + seconds * 1000).toISOString();

function lease(sweepId: string, token: string, overrides: Partial<SweepLease> = {}): SweepLease {
  return { sweepId, token, host: 'host-a', pid: 4242, startedAt: at(0), expiresAt: inSeconds(60), ...overrides };
}

const INVALID_KEYS = ['', '/abs', '../up', 'a/../b', 'a/./b', 'a//b', 'a/', 'with space', 'tilde~', 'back\\slash'];

export function runStoreContract(name: string, makeStores: () => Promise<Stores>): void {
  describe(`${name}: store contract`, () => {
    let stores: Stores;
    let metrics: MetricsStore;
    let artifacts: ArtifactStore;
    beforeEach(async () => {
      stores = await makeStores();
      ({ metrics, artifacts } = stores);
    });
    afterEach(() => stores.cleanup());

    describe('sweeps', () => {
      it('creates a sweep once: a second create returns false and changes nothing', async () => {
        const first = sweepRecord('s1');
        assert.equal(await metrics.createSweep(first), true);
        assert.equal(await metrics.createSweep({ ...first, name: 'other', taskCount: 9 }), false);
        assert.deepEqual(await metrics.getSweep('s1'), first);
        assert.equal(await metrics.getSweep('missing'), undefined);
      });

      it('lists sweeps newest first, with a limit', async () => {
        for (const [id, minute] of [
          ['b', 2],
          ['a', 1],
          ['c', 3],
          ['d', 0],
        ] as const) {
          await metrics.createSweep(sweepRecord(id, { createdAt: at(minute) }));
        }
        const ids = (sweeps: Array<{ sweepId: string }>) => sweeps.map((sweep) => sweep.sweepId);
        assert.deepEqual(ids(await metrics.listSweeps()), ['c', 'b', 'a', 'd']);
        assert.deepEqual(ids(await metrics.listSweeps(2)), ['c', 'b']);
        assert.deepEqual(await metrics.listSweeps(0), []);
        await assert.rejects(metrics.listSweeps(-1), StoreError);
      });

      it('lists no sweeps in an empty store', async () => {
        assert.deepEqual(await metrics.listSweeps(), []);
      });

      it('updates a sweep only from an allowed status', async () => {
        await metrics.createSweep(sweepRecord('s1', { error: 'transient' }));
        assert.equal(await metrics.updateSweep('s1', ['SUCCEEDED', 'FAILED'], { status: 'PARTIAL' }), false);
        assert.equal((await metrics.getSweep('s1'))?.status, 'RUNNING');

        const summaryKey = sweepKeys('s1').summary;
        const patch = { status: 'PARTIAL', failedTasks: 1, summaryKey, error: undefined } as const;
        assert.equal(await metrics.updateSweep('s1', ['RUNNING'], patch), true);
        const updated = await metrics.getSweep('s1');
        assert.deepEqual(
          { ...updated, updatedAt: undefined },
          { ...sweepRecord('s1'), status: 'PARTIAL', failedTasks: 1, summaryKey, updatedAt: undefined },
        );
        assert.ok(updated && updated.updatedAt > at(0), 'updatedAt is stamped');
        assert.equal(await metrics.updateSweep('s1', ['RUNNING'], { status: 'FAILED' }), false);
        assert.equal(await metrics.updateSweep('missing', ['RUNNING'], { status: 'FAILED' }), false);
      });

      it('rejects invalid ids and timestamps', async () => {
        await assert.rejects(metrics.createSweep(sweepRecord('../x')), StoreError);
        await assert.rejects(metrics.createSweep(sweepRecord('a#b')), StoreError);
        await assert.rejects(metrics.createSweep(sweepRecord('s1', { createdAt: '2025-01-01' })), StoreError);
        await assert.rejects(metrics.getSweep('a/b'), StoreError);
      });
    });

    describe('tasks', () => {
      it('upserts tasks idempotently and lists them by task id', async () => {
        await metrics.createSweep(sweepRecord('s1'));
        for (const taskId of ['t3', 't1', 't2']) await metrics.putTask(taskRecord('s1', taskId));
        await metrics.putTask(taskRecord('s1', 't1'));
        await metrics.putTask(taskRecord('s1', 't2', { status: 'RUNNING', attempts: 1 }));
        await metrics.putTask(taskRecord('other', 't0'));

        const tasks = await metrics.listTasks('s1');
        assert.deepEqual(
          tasks.map((task) => task.taskId),
          ['t1', 't2', 't3'],
        );
        assert.deepEqual(tasks[1], taskRecord('s1', 't2', { status: 'RUNNING', attempts: 1 }));
        assert.deepEqual(await metrics.getTask('s1', 't3'), taskRecord('s1', 't3'));
        assert.equal(await metrics.getTask('s1', 'missing'), undefined);
        assert.deepEqual(await metrics.listTasks('missing'), []);
      });

      it("keeps a task's recorded usage and a sweep's cost estimate, nested numbers intact", async () => {
        const costEstimate = {
          totalUsd: 0.0123,
          wallSeconds: 61.5,
          byService: { 'Lambda compute': 0.012, 'Step Functions': 0.0003 },
          region: 'us-east-1',
          runtime: 'zip' as const,
          trainMemoryMb: 1769,
          timing: 'calibrated on wasm (1 task, 3 epochs each)',
          pricesReadOn: '2026-12-02',
          prices: LIST_PRICES.regions['us-east-1'],
        };
        await metrics.createSweep(sweepRecord('s1', { costEstimate }));
        assert.deepEqual((await metrics.getSweep('s1'))?.costEstimate, costEstimate);
        await metrics.putTask(taskRecord('s1', 't1', { status: 'RUNNING', attempts: 1 }));
        assert.equal((await metrics.getTask('s1', 't1'))?.usage, undefined);
        const usage = { seconds: 12.25, rows: 41, lambdaMemoryMb: 1769 };
        assert.equal(await metrics.updateTask('s1', 't1', ['RUNNING'], { usage }), true);
        assert.deepEqual((await metrics.getTask('s1', 't1'))?.usage, usage);
        assert.deepEqual((await metrics.listTasks('s1'))[0].usage, usage);
      });

      it('writes many tasks in batches, the last record of a task winning', async () => {
        const taskIds = Array.from({ length: 60 }, (_, i) => `t${String(i).padStart(2, '0')}`);
        await metrics.putTask(taskRecord('s1', 't00', { status: 'SUCCEEDED', epochsDone: 200 }));
        await metrics.putTasks([
          ...taskIds.map((taskId) => taskRecord('s1', taskId)),
          taskRecord('s1', 't07', { attempts: 2 }),
          taskRecord('other', 't00'),
        ]);
        await metrics.putTasks([]);
        const tasks = await metrics.listTasks('s1');
        assert.deepEqual(
          tasks.map((task) => task.taskId),
          taskIds,
        );
        assert.deepEqual(tasks[0], taskRecord('s1', 't00'), 'an upsert: the batch overwrites');
        assert.equal(tasks[7].attempts, 2);
        assert.deepEqual(await metrics.listTasks('other'), [taskRecord('other', 't00')]);
        await assert.rejects(metrics.putTasks([taskRecord('s1', 'bad/id')]), StoreError);
      });

      it('updates a task only from an allowed status', async () => {
        await metrics.putTask(taskRecord('s1', 't1'));
        assert.equal(await metrics.updateTask('s1', 't1', ['RUNNING'], { status: 'SUCCEEDED' }), false);
        assert.equal(await metrics.updateTask('s1', 't1', ['PENDING'], { status: 'RUNNING', attempts: 1 }), true);
        const final = { train: split(0.1), val: split(0.2), test: split(0.3) };
        assert.equal(
          await metrics.updateTask('s1', 't1', ['RUNNING'], {
            status: 'SUCCEEDED',
            epochsDone: 200,
            final,
            backend: 'wasm',
            updatedAt: at(5),
          }),
          true,
        );
        assert.deepEqual(
          await metrics.getTask('s1', 't1'),
          taskRecord('s1', 't1', {
            status: 'SUCCEEDED',
            attempts: 1,
            epochsDone: 200,
            final,
            backend: 'wasm',
            updatedAt: at(5),
          }),
        );
        assert.equal(await metrics.updateTask('s1', 't1', [], { status: 'FAILED' }), false);
        assert.equal(await metrics.updateTask('s1', 'missing', ['PENDING'], { status: 'RUNNING' }), false);
      });

      it('keeps a pruned task with its pruning decision, NaN threshold included', async () => {
        const rule = { rule: 'median' as const, metric: 'val.acc' as const, warmupEpochs: 2, margin: 0 };
        await metrics.putTask(taskRecord('s1', 't1', { status: 'RUNNING', pruning: { rule, references: ['r1', 'r2'], passedThrough: 0 } }));
        const pruning = {
          rule,
          references: ['r1', 'r2'],
          passedThrough: 4,
          decision: { epoch: 6, value: Number.NaN, threshold: Number.NaN, references: { r1: 0.75, r2: 0.5 }, stoppedAt: 8 },
        };
        assert.equal(
          await metrics.updateTask('s1', 't1', ['RUNNING'], { status: 'PRUNED', epochsDone: 8, pruning, updatedAt: at(6) }),
          true,
        );
        assert.deepEqual(
          await metrics.getTask('s1', 't1'),
          taskRecord('s1', 't1', { status: 'PRUNED', epochsDone: 8, pruning, updatedAt: at(6) }),
        );
      });

      it('applies exactly one of several concurrent conditional updates', async () => {
        await metrics.putTask(taskRecord('s1', 't1', { status: 'RUNNING' }));
        const applied = await Promise.all(
          Array.from({ length: 8 }, (_, attempt) =>
            metrics.updateTask('s1', 't1', ['RUNNING'], { status: 'SUCCEEDED', attempts: attempt }),
          ),
        );
        assert.equal(applied.filter(Boolean).length, 1);
        assert.equal((await metrics.getTask('s1', 't1'))?.attempts, applied.indexOf(true));
      });

      it('refuses a patch of the identity fields', async () => {
        await metrics.putTask(taskRecord('s1', 't1'));
        const patch = { taskId: 't2' } as unknown as Parameters<MetricsStore['updateTask']>[3];
        await assert.rejects(metrics.updateTask('s1', 't1', ['PENDING'], patch), StoreError);
      });
    });

    describe('epochs', () => {
      it('overwrites rewritten epochs instead of duplicating them, sorted by epoch', async () => {
        await metrics.putEpochs('s1', 't1', [epochRow(2), epochRow(0), epochRow(1)]);
        await metrics.putEpochs('s1', 't1', [epochRow(3, 9), epochRow(2, 8), epochRow(2, 7)]);
        const expected = [epochRow(0), epochRow(1), epochRow(2, 7), epochRow(3, 9)];
        assert.deepEqual(await metrics.getEpochs('s1', 't1'), expected);
      });

      it('stores more epochs than one batch holds, apart from other tasks', async () => {
        const rows = Array.from({ length: 61 }, (_, epoch) => epochRow(epoch));
        await metrics.putEpochs('s1', 't1', rows);
        await metrics.putEpochs('s1', 't1', rows);
        // 't1' is a prefix of 't10': its epochs must not leak into the other task's.
        await metrics.putEpochs('s1', 't10', [epochRow(0, 5)]);
        assert.deepEqual(await metrics.getEpochs('s1', 't1'), rows);
        assert.deepEqual(await metrics.getEpochs('s1', 't10'), [epochRow(0, 5)]);
        assert.deepEqual(await metrics.getEpochs('s1', 'none'), []);
      });

      it('keeps numbers exactly, including those of a diverged run', async () => {
        const specials = [Number.NaN, Infinity, -Infinity, 1e300, -1e-300, 2 ** 60, 0.1 + 0.2, 1 / 3];
        const rows = specials.map((x, epoch) => ({ ...epochRow(epoch), objective: x, train: split(x) }));
        await metrics.putEpochs('s1', 't1', rows);
        assert.deepEqual(await metrics.getEpochs('s1', 't1'), rows);

        const final = { train: split(Number.NaN), val: split(Infinity), test: split(1e-200) };
        await metrics.putTask(taskRecord('s1', 't1', { final }));
        assert.deepEqual((await metrics.getTask('s1', 't1'))?.final, final);
      });

      it("deletes one task's epochs, more than a batch, and nothing else; deleting none is no error", async () => {
        const rows = Array.from({ length: 30 }, (_, epoch) => epochRow(epoch));
        await metrics.putEpochs('s1', 't1', rows);
        await metrics.putEpochs('s1', 't10', [epochRow(0, 5)]);
        await metrics.deleteEpochs('s1', 't1');
        assert.deepEqual(await metrics.getEpochs('s1', 't1'), []);
        assert.deepEqual(await metrics.getEpochs('s1', 't10'), [epochRow(0, 5)]);
        await metrics.deleteEpochs('s1', 't1');
        await metrics.deleteEpochs('s1', 'never-written');
        await metrics.putEpochs('s1', 't1', [epochRow(3, 9)]);
        assert.deepEqual(await metrics.getEpochs('s1', 't1'), [epochRow(3, 9)]);
      });

      it('reads one epoch of many tasks at once, leaving out tasks without that epoch', async () => {
        // More tasks than one DynamoDB BatchGetItem takes (100), each with its own rows.
        const taskIds = Array.from({ length: 105 }, (_, i) => `t${i}`);
        for (const [i, taskId] of taskIds.entries()) {
          await metrics.putEpochs('s1', taskId, i % 7 === 3 ? [epochRow(0, i)] : [epochRow(0, i), epochRow(5, i + 0.5)]);
        }
        await metrics.putEpochs('s2', 't0', [epochRow(5, 99)]);
        const rows = await metrics.getEpochsAt('s1', [...taskIds, 'absent'], 5);
        const expected = taskIds.flatMap((taskId, i) => (i % 7 === 3 ? [] : [[taskId, epochRow(5, i + 0.5)] as const]));
        assert.deepEqual(new Map([...rows].sort(([a], [b]) => (a < b ? -1 : 1))), new Map(expected.sort(([a], [b]) => (a < b ? -1 : 1))));
        assert.deepEqual(await metrics.getEpochsAt('s1', [], 5), new Map());
        await assert.rejects(metrics.getEpochsAt('s1', ['t1'], -1), StoreError);
      });

      it('rejects epochs that are not small non-negative integers', async () => {
        await assert.rejects(metrics.putEpochs('s1', 't1', [epochRow(-1)]), StoreError);
        await assert.rejects(metrics.putEpochs('s1', 't1', [epochRow(1.5)]), StoreError);
        await assert.rejects(metrics.putEpochs('s1', 't1', [epochRow(1_000_000)]), StoreError);
      });
    });

    describe('sweep leases', () => {
      it('gives a free lease to one holder and refuses another, naming the holder', async () => {
        assert.equal(await metrics.getLease('s1'), undefined);
        const first = lease('s1', 'run-a');
        assert.deepEqual(await metrics.acquireLease(first), { acquired: true });
        assert.deepEqual(await metrics.getLease('s1'), first);
        const refused = await metrics.acquireLease(lease('s1', 'run-b', { host: 'host-b', pid: 7 }));
        assert.deepEqual(refused, { acquired: false, holder: first });
        // The holder may take it again (a retried call), and other sweeps' leases are apart.
        assert.deepEqual(await metrics.acquireLease(first), { acquired: true });
        assert.deepEqual(await metrics.acquireLease(lease('s2', 'run-b')), { acquired: true });
        assert.equal((await metrics.getLease('s1'))?.token, 'run-a');
      });

      it('of many concurrent takers of a free or expired lease, exactly one wins', async () => {
        for (const past of [false, true]) {
          const sweepId = past ? 'expired' : 'free';
          if (past) await metrics.acquireLease(lease(sweepId, 'dead', { expiresAt: inSeconds(-1) }));
          const takers = Array.from({ length: 6 }, (_, i) => lease(sweepId, `run-${i}`));
          const outcomes = await Promise.all(takers.map((taker) => metrics.acquireLease(taker)));
          const winners = outcomes.filter((outcome) => outcome.acquired);
          assert.equal(winners.length, 1, `${sweepId}: ${JSON.stringify(outcomes)}`);
          const holder = await metrics.getLease(sweepId);
          for (const outcome of outcomes) if (!outcome.acquired) assert.deepEqual(outcome.holder, holder);
        }
      });

      it('renews only for its holder; an expired lease is taken over and its old holder cannot renew it', async () => {
        await metrics.acquireLease(lease('s1', 'run-a', { expiresAt: inSeconds(0.2) }));
        assert.equal(await metrics.renewLease('s1', 'run-b', inSeconds(60)), false);
        assert.equal(await metrics.renewLease('s1', 'run-a', inSeconds(0.2)), true);
        await new Promise((done) => setTimeout(done, 300));
        const taker = lease('s1', 'run-b', { host: 'host-b' });
        assert.deepEqual(await metrics.acquireLease(taker), { acquired: true });
        assert.equal(await metrics.renewLease('s1', 'run-a', inSeconds(60)), false);
        assert.deepEqual(await metrics.getLease('s1'), taker);
        assert.equal(await metrics.renewLease('missing', 'run-a', inSeconds(60)), false);
      });

      it('a released lease is free at once and still names its last holder', async () => {
        const held = lease('s1', 'run-a');
        await metrics.acquireLease(held);
        await metrics.releaseLease('s1', 'run-b');
        assert.equal((await metrics.getLease('s1'))?.expiresAt, held.expiresAt, "another token's release changes nothing");
        await metrics.releaseLease('s1', 'run-a');
        const released = await metrics.getLease('s1');
        assert.equal(released?.host, 'host-a');
        assert.ok(released && Date.parse(released.expiresAt) <= Date.now());
        assert.deepEqual(await metrics.acquireLease(lease('s1', 'run-b')), { acquired: true });
      });

      it('rejects invalid ids and timestamps', async () => {
        await assert.rejects(metrics.acquireLease(lease('bad id', 'run-a')), StoreError);
        await assert.rejects(metrics.acquireLease(lease('s1', 'run-a', { expiresAt: 'tomorrow' })), StoreError);
      });
    });

    describe('reproducibility records', () => {
      it('lists runs newest first, idempotently, per name', async () => {
        await metrics.putRepro(reproRecord('nightly', 1, 's1'));
        await metrics.putRepro(reproRecord('nightly', 3, 's3'));
        await metrics.putRepro(reproRecord('nightly', 2, 's2'));
        await metrics.putRepro({ ...reproRecord('nightly', 2, 's2'), verdict: 'DRIFTED' });
        await metrics.putRepro(reproRecord('weekly', 9, 's9'));

        const runs = await metrics.listRepro('nightly');
        assert.deepEqual(
          runs.map((run) => [run.sweepId, run.verdict]),
          [
            ['s3', 'REPRODUCED'],
            ['s2', 'DRIFTED'],
            ['s1', 'REPRODUCED'],
          ],
        );
        assert.deepEqual(runs[0], reproRecord('nightly', 3, 's3'));
        assert.deepEqual(
          (await metrics.listRepro('nightly', 2)).map((run) => run.sweepId),
          ['s3', 's2'],
        );
        assert.deepEqual(await metrics.listRepro('never'), []);
      });

      it('orders runs with the same timestamp by sweep id', async () => {
        for (const sweepId of ['abc', 'abc.1', 'ab']) await metrics.putRepro(reproRecord('nightly', 1, sweepId));
        assert.deepEqual(
          (await metrics.listRepro('nightly')).map((run) => run.sweepId),
          ['abc.1', 'abc', 'ab'],
        );
      });
    });

    describe('artifacts', () => {
      it('round-trips bytes exactly, binary and large', async () => {
        const everyByte = Uint8Array.from({ length: 256 }, (_, i) => i);
        const large = randomBytes(3 * 1024 * 1024);
        await artifacts.put('sweeps/s1/tasks/t1/checkpoint.bin', everyByte);
        await artifacts.put('sweeps/s1/plots/large.bin', large, 'application/octet-stream');
        assert.deepEqual(await artifacts.get('sweeps/s1/tasks/t1/checkpoint.bin'), Buffer.from(everyByte));
        assert.ok(large.equals((await artifacts.get('sweeps/s1/plots/large.bin'))!));
      });

      it('stores strings as UTF-8 and overwrites', async () => {
        const text = '{"b": "flooding |L − b| + b ≥ b"}';
        await artifacts.put('sweeps/s1/spec.json', '{"old":true}');
        await artifacts.put('sweeps/s1/spec.json', text);
        assert.equal((await artifacts.get('sweeps/s1/spec.json'))?.toString('utf8'), text);
        await artifacts.put('sweeps/s1/empty.txt', '');
        assert.deepEqual(await artifacts.get('sweeps/s1/empty.txt'), Buffer.alloc(0));
      });

      it('creates a write-once object only if absent, never overwriting it', async () => {
        const key = sweepKeys('s1').spec;
        assert.equal(await artifacts.create(key, '{"name":"first"}'), true);
        assert.equal(await artifacts.create(key, '{"name":"second"}'), false);
        assert.equal((await artifacts.get(key))?.toString('utf8'), '{"name":"first"}');
        await assert.rejects(artifacts.create('../up', 'x'), StoreError);
      });

      it('reports missing keys as absent', async () => {
        await artifacts.put('sweeps/s1/spec.json', '{}');
        assert.equal(await artifacts.get('sweeps/s1/missing.json'), undefined);
        assert.equal(await artifacts.get('sweeps/s1'), undefined);
        assert.equal(await artifacts.exists('sweeps/s1/spec.json'), true);
        assert.equal(await artifacts.exists('sweeps/s1'), false);
        assert.equal(await artifacts.exists('sweeps/s1/spec.json/x'), false);
      });

      it('deletes a key, and only that key; deleting an absent key is no error', async () => {
        await artifacts.put('sweeps/s1/tasks/t1/checkpoint.bin', Buffer.from([1, 2, 3]));
        await artifacts.put('sweeps/s1/tasks/t1/result.json', '{}');
        await artifacts.delete('sweeps/s1/tasks/t1/checkpoint.bin');
        assert.equal(await artifacts.get('sweeps/s1/tasks/t1/checkpoint.bin'), undefined);
        assert.deepEqual(await artifacts.list('sweeps/s1/'), ['sweeps/s1/tasks/t1/result.json']);
        await artifacts.delete('sweeps/s1/tasks/t1/checkpoint.bin');
        await artifacts.delete('sweeps/s1/tasks/t1/result.json/below-a-file');
        await assert.rejects(artifacts.delete('../up'), StoreError);
      });

      it('lists keys by prefix, sorted', async () => {
        const keys = sweepKeys('s1');
        const written = [
          keys.spec,
          keys.manifest,
          keys.taskCheckpoint('t2'),
          keys.taskResult('t1'),
          keys.summary,
          keys.report,
          keys.plot('loss.png'),
          'sweeps/s10/spec.json',
        ];
        for (const key of written) await artifacts.put(key, key);
        const s1 = written.filter((key) => key.startsWith(keys.prefix)).sort();
        assert.deepEqual(await artifacts.list(keys.prefix), s1);
        assert.deepEqual(await artifacts.list('sweeps/s1'), [...written].sort());
        assert.deepEqual(await artifacts.list('sweeps/s1/tasks/'), [keys.taskResult('t1'), keys.taskCheckpoint('t2')]);
        assert.deepEqual(await artifacts.list('sweeps/s1/ta'), [keys.taskResult('t1'), keys.taskCheckpoint('t2')]);
        assert.deepEqual(await artifacts.list(''), [...written].sort());
        assert.deepEqual(await artifacts.list('sweeps/none/'), []);
        assert.deepEqual(await artifacts.list('sweeps/s1/spec.json/'), []);
      });

      it('rejects invalid keys', async () => {
        for (const key of INVALID_KEYS) {
          await assert.rejects(artifacts.put(key, 'x'), StoreError, `put ${JSON.stringify(key)}`);
          await assert.rejects(artifacts.get(key), StoreError, `get ${JSON.stringify(key)}`);
          await assert.rejects(artifacts.exists(key), StoreError, `exists ${JSON.stringify(key)}`);
          if (key !== '') assert.throws(() => artifacts.locate(key), StoreError, `locate ${JSON.stringify(key)}`);
        }
        await assert.rejects(artifacts.list('../'), StoreError);
        await assert.rejects(artifacts.list('/sweeps'), StoreError);
      });

      it('locates a key for a user', async () => {
        assert.ok(artifacts.locate('sweeps/s1/report.html').endsWith('sweeps/s1/report.html'));
        assert.ok(artifacts.locate('sweeps/s1/report.html').startsWith(artifacts.locate('')), "'' locates the store itself");
      });
    });
  });
}
