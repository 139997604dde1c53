/**
 * Local sweeps train in worker processes (src/workflow/pool.ts). A worker that dies in the middle
 * of a task (SIGKILL as the out-of-memory killer sends it, SIGSEGV as a crashing native addon
 * raises it) costs that task one retry from its checkpoint, as Step Functions retries a Lambda's
 * Runtime.ExitError: the sweep goes on and ends with the numbers of an uninterrupted run.
 * Runs on the default backend: tfjs-node where it is installed, wasm elsewhere.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { runSweep } from '../src/run.js';
import { LocalMetricsStore } from '../src/store/local.js';
import { validateSpec } from '../src/sweep/spec.js';
import { isTensorFlowNoise, tensorFlowThreads } from '../src/workflow/pool.js';

const SPEC = validateSpec({
  name: 'worker-crash',
  dataset: { name: 'sinusoid2d', nTrain: 64, nVal: 32, nTest: 64 },
  model: { kind: 'mlp', depth: 1, width: 8 },
  training: { epochs: 60, batchSize: 16, evalEvery: 3 },
  floodLevels: [0, 0.3],
  seeds: [0],
});
const EPOCHS_PER_CALL = 20;
const CALLS_PER_TASK = 60 / EPOCHS_PER_CALL;

const scratch = mkdtempSync(join(tmpdir(), 'floodsweep-worker-processes-test-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
let dirCounter = 0;

/** This process's worker processes (its children running the pool's worker module), from /proc. */
function workerProcesses(): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        // The fields after the command name (which may hold spaces): state, then the parent's pid.
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        return parent === process.pid && /\/workflow\/worker\.[jt]s\0/.test(readFileSync(`/proc/${pid}/cmdline`, 'utf8'));
      } catch {
        return false; // exited meanwhile
      }
    })
    .map(Number);
}

/**
 * Runs the sweep; with `signal`, sends it to the worker in the middle of the first task's second
 * Train call (past its first checkpoint). One worker, so that the one killed is the one training.
 */
async function sweep(signal?: NodeJS.Signals) {
  const rootDir = join(scratch, `run-${++dirCounter}`);
  let killed: number | undefined;
  let workersSeen: number[] = [];
  const { sweepId, summary } = await runSweep(SPEC, {
    stores: { kind: 'local', rootDir },
    workers: 1,
    epochsPerCall: EPOCHS_PER_CALL,
    onEvent: (event) => {
      if (!signal || killed !== undefined || event.type !== 'progress') return;
      const { active } = event.progress;
      const midCall = (epoch: number) => epoch > EPOCHS_PER_CALL + 1 && epoch < 2 * EPOCHS_PER_CALL - 4;
      if (!active.some((task) => midCall(task.epoch))) return;
      workersSeen = workerProcesses();
      killed = workersSeen[0];
      process.kill(killed, signal);
    },
  });
  const store = new LocalMetricsStore(rootDir);
  const tasks = await store.listTasks(sweepId);
  const outcomes = Object.fromEntries(
    await Promise.all(
      tasks.map(async (task) => {
        const rows = (await store.getEpochs(sweepId, task.taskId)).map(({ seconds: _seconds, ...row }) => row);
        return [task.taskId, { status: task.status, epochsDone: task.epochsDone, final: task.final, rows }] as const;
      }),
    ),
  );
  const calls = tasks.reduce((sum, task) => sum + task.attempts, 0);
  return { status: summary.status, outcomes, calls, killed, workersSeen };
}

describe('worker processes', { concurrency: 1 }, () => {
  let reference: Awaited<ReturnType<typeof sweep>>;

  test('an uninterrupted sweep: every Train call succeeds the first time', async () => {
    reference = await sweep();
    assert.equal(reference.status, 'SUCCEEDED');
    assert.equal(reference.calls, 2 * CALLS_PER_TASK);
  });

  for (const signal of ['SIGKILL', 'SIGSEGV'] as const) {
    test(`a worker killed by ${signal} mid-task costs its task one retry from the checkpoint; the numbers are those of an uninterrupted run`, async () => {
      const crashed = await sweep(signal);
      assert.equal(crashed.workersSeen.length, 1, `one worker process: ${crashed.workersSeen.join(', ')}`);
      assert.equal(crashed.status, 'SUCCEEDED');
      assert.equal(crashed.calls, 2 * CALLS_PER_TASK + 1, 'one Train call died and ran again');
      assert.deepEqual(crashed.outcomes, reference.outcomes);
      assert.deepEqual(workerProcesses(), [], 'no worker outlives its sweep');
    });
  }
});

describe('worker process environment', () => {
  test("TensorFlow's thread pools split the cores between the workers", () => {
    const saved = { intra: process.env.TF_NUM_INTRAOP_THREADS, inter: process.env.TF_NUM_INTEROP_THREADS };
    delete process.env.TF_NUM_INTRAOP_THREADS;
    delete process.env.TF_NUM_INTEROP_THREADS;
    try {
      assert.deepEqual(tensorFlowThreads(2, 2), { TF_NUM_INTRAOP_THREADS: '1', TF_NUM_INTEROP_THREADS: '1' });
      assert.deepEqual(tensorFlowThreads(1, 2), { TF_NUM_INTRAOP_THREADS: '2', TF_NUM_INTEROP_THREADS: '1' });
      assert.deepEqual(tensorFlowThreads(3, 8), { TF_NUM_INTRAOP_THREADS: '2', TF_NUM_INTEROP_THREADS: '1' });
      assert.deepEqual(tensorFlowThreads(4, 2), { TF_NUM_INTRAOP_THREADS: '1', TF_NUM_INTEROP_THREADS: '1' });
      process.env.TF_NUM_INTRAOP_THREADS = '3';
      assert.equal(tensorFlowThreads(2, 2).TF_NUM_INTRAOP_THREADS, '3', "the user's setting wins");
    } finally {
      for (const [name, value] of [
        ['TF_NUM_INTRAOP_THREADS', saved.intra],
        ['TF_NUM_INTEROP_THREADS', saved.inter],
      ] as const) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
  });

  test("TensorFlow's load-time lines are recognised; other stderr lines are not", () => {
    for (const line of [
      'WARNING: All log messages before absl::InitializeLog() is called are written to STDERR',
      'I0000 00:00:1796571161.070598    8910 cpu_feature_guard.cc:227] This TensorFlow binary is optimized to use available CPU instructions in performance-critical operations.',
      'To enable the following instructions: AVX2 FMA, in other operations, rebuild TensorFlow with the appropriate compiler flags.',
      '2026-12-06 15:32:41.070598: I tensorflow/core/util/port.cc:153] oneDNN custom operations are on. You may see slightly different numerical results due to floating-point round-off errors from different computation orders. To turn them off, set the environment variable `TF_ENABLE_ONEDNN_OPTS=0`.',
    ]) {
      assert.ok(isTensorFlowNoise(line), line);
    }
    for (const line of ['floodsweep: out of memory', 'Segmentation fault', 'E0000 00:00:1796571161.070598 8910 kernel.cc:1] failed', '']) {
      assert.ok(!isTensorFlowNoise(line), line);
    }
  });
});
