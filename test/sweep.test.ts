/**
 * Sweeps end to end: the shared workflow definition run in process (aws-local-stepfunctions) by the
 * `floodsweep sweep` CLI and by runWorkflowLocally, against the local results directory; checkpoints,
 * Ctrl-C and --resume, failures recorded as PARTIAL sweeps, spec errors, and the Lambda handlers.
 *
 * The groups are independent and run concurrently (most of the time is child processes starting);
 * the tests inside a group run in order. The last group runs alone: it compresses this process's clock.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { handler as aggregateHandler } from '../functions/aggregate.js';
import { handler as planHandler } from '../functions/plan.js';
import { handler as recordFailureHandler } from '../functions/record-failure.js';
import { handler as trainHandler } from '../functions/train.js';
import { initBackend } from '../src/flooding/backend.js';
import type { EpochMetrics } from '../src/flooding/metrics.js';
import { TrainingRun } from '../src/flooding/trainer.js';
import { LocalMetricsStore } from '../src/store/local.js';
import { openStores } from '../src/store/open.js';
import { sweepKeys } from '../src/store/ports.js';
import type { SweepSummary } from '../src/sweep/aggregate.js';
import type { TaskRecord } from '../src/sweep/records.js';
import { runWorkflowLocally } from '../src/workflow/local-executor.js';
import type { ManifestItem } from '../src/workflow/payloads.js';
import { plan } from '../src/workflow/plan.js';
import { type CliResult, floodsweep, show, startCli } from './cli-helpers.js';
import { autoBackend } from './tfjs-node-installed.js';

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/sweep/${name}`, import.meta.url));
const readFixture = (name: string): Record<string, unknown> => JSON.parse(readFileSync(fixture(name), 'utf8'));
const EXAMPLES = fileURLToPath(new URL('../examples/', import.meta.url));

const scratch = mkdtempSync(join(tmpdir(), 'floodsweep-sweep-test-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
let dirCounter = 0;
/** A fresh path under the scratch directory (not created). */
const freshDir = (what: string) => join(scratch, `${what}-${++dirCounter}`);

/** The one sweep in a results directory. */
function onlySweepId(dir: string): string {
  const ids = readdirSync(join(dir, 'sweeps'));
  assert.equal(ids.length, 1, `one sweep in ${dir}: ${ids.join(', ')}`);
  return ids[0];
}

/** Every task of a sweep with its epoch rows, read straight from the local store. */
async function readTasks(dir: string, sweepId: string): Promise<Array<{ task: TaskRecord; rows: EpochMetrics[] }>> {
  const store = new LocalMetricsStore(dir);
  const tasks = await store.listTasks(sweepId);
  return Promise.all(tasks.map(async (task) => ({ task, rows: await store.getEpochs(sweepId, task.taskId) })));
}

/** One line per task (status, epochs, error), for assertion messages. */
async function describeTasks(dir: string, sweepId: string): Promise<string> {
  const tasks = await new LocalMetricsStore(dir).listTasks(sweepId);
  return tasks.map((t) => `${t.taskId} ${t.status} ${t.epochsDone}/${t.epochsTotal}${t.error ? `: ${t.error}` : ''}`).join('\n');
}

const withoutSeconds = (rows: EpochMetrics[]) => rows.map(({ seconds: _seconds, ...rest }) => rest);

/** The numbers two runs of the same tasks must agree on: the final metrics and every row but its wall-clock time. */
async function outcomes(dir: string, sweepId: string) {
  const tasks = await readTasks(dir, sweepId);
  return Object.fromEntries(tasks.map(({ task, rows }) => [task.taskId, { final: task.final, rows: withoutSeconds(rows) }]));
}

function readSummary(dir: string, sweepId: string): SweepSummary {
  return JSON.parse(readFileSync(join(dir, sweepKeys(sweepId).summary), 'utf8'));
}

function checkpointFiles(dir: string): string[] {
  const sweeps = join(dir, 'sweeps');
  if (!existsSync(sweeps)) return [];
  return readdirSync(sweeps, { recursive: true, encoding: 'utf8' }).filter((path) => path.endsWith('checkpoint.bin'));
}

/**
 * Sends SIGINT to `pid` as soon as a checkpoint file appears under `dir`. The polling runs in a
 * worker thread so that this process's own busy main thread (in-process sweeps of the other tests)
 * cannot delay it. Resolves 'sent', or 'gone' if the process exited first.
 */
function interruptOnCheckpoint(dir: string, pid: number): Promise<string> {
  const source = `
    const { parentPort, workerData: { dir, pid } } = require('node:worker_threads');
    const { existsSync, readdirSync } = require('node:fs');
    const sweeps = require('node:path').join(dir, 'sweeps');
    const timer = setInterval(() => {
      try { process.kill(pid, 0); } catch { clearInterval(timer); parentPort.postMessage('gone'); return; }
      if (!existsSync(sweeps)) return;
      if (!readdirSync(sweeps, { recursive: true, encoding: 'utf8' }).some((p) => p.endsWith('checkpoint.bin'))) return;
      clearInterval(timer);
      process.kill(pid, 'SIGINT');
      parentPort.postMessage('sent');
    }, 20);`;
  const worker = new Worker(source, { eval: true, workerData: { dir, pid } });
  return new Promise<string>((resolve, reject) => {
    worker.once('message', (message: string) => {
      resolve(message);
      void worker.terminate();
    });
    worker.once('error', reject);
  });
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

describe('floodsweep sweep', { concurrency: true }, () => {
  describe('a small sweep end to end through the workflow (sweep run, status, results, list, plots)', { concurrency: 1 }, () => {
    // Same spec twice: one Train call per task (CLI), and a checkpoint every 2 epochs (3 Train calls per task).
    const dir = freshDir('e2e');
    const chunkedDir = freshDir('e2e-chunked');
    const spec = fixture('tiny.json');
    let run: CliResult;
    let chunked: Promise<{ sweepId: string; status: string }>;
    let sweepId: string;
    let reads: Record<'status' | 'json' | 'csv' | 'list' | 'plots', Promise<CliResult>>;
    const plotsOut = freshDir('plots-copy');

    before(async () => {
      // The chunked run goes through the same runner in process, side by side with the CLI.
      const local = runWorkflowLocally(
        { spec: readFixture('tiny.json') },
        { stores: { kind: 'local', rootDir: chunkedDir }, backend: 'auto', workers: 1, epochsPerCall: 2 },
      );
      chunked = local.result.then(({ aggregate }) => aggregate);
      chunked.catch(() => undefined);
      run = await floodsweep(['sweep', 'run', spec, '--results', dir, '--workers', '2', '--epochs-per-call', '100']);
      assert.equal(run.code, 0, show(run));
      sweepId = onlySweepId(dir);
      // The reading commands only read: run them side by side.
      const results = ['--results', dir];
      reads = {
        status: floodsweep(['sweep', 'status', sweepId, ...results]),
        json: floodsweep(['sweep', 'results', sweepId, ...results, '--json']),
        csv: floodsweep(['sweep', 'results', sweepId, ...results, '--csv']),
        list: floodsweep(['sweep', 'list', ...results]),
        plots: floodsweep(['sweep', 'plots', sweepId, ...results, '--out', plotsOut]),
      };
    });

    test('sweep run exits 0 and prints the summary and where the report is', () => {
      assert.equal(run.code, 0, show(run));
      const summaryLine = run.stdout.match(new RegExp(`^sweep ${sweepId}: SUCCEEDED · 4/4 tasks succeeded · backend (.+?) · `, 'm'));
      assert.match(summaryLine?.[1] ?? '', autoBackend, run.stdout);
      assert.match(run.stdout, /^ {2}0\*? +2 /m, 'a row for b = 0 with 2 seeds');
      assert.match(run.stdout, /^ {2}0\.4\*? +2 /m, 'a row for b = 0.4 with 2 seeds');
      assert.match(run.stdout, new RegExp(`^report: .*${sweepId}/report\\.html$`, 'm'));
      const backend = run.stderr.match(new RegExp(`^sweep ${sweepId}: 4 tasks on (.+) with \\d+ workers?$`, 'm'))?.[1] ?? '';
      assert.match(backend, autoBackend, 'progress names the sweep and the backend auto picked');
    });

    test('every task SUCCEEDED, with epoch rows 0, 2, 4, 6 once each and full metrics', async () => {
      const tasks = await readTasks(dir, sweepId);
      assert.equal(tasks.length, 4);
      assert.deepEqual(
        tasks.map(({ task }) => `${task.config.floodLevel}/${task.config.seed}`).sort(),
        ['0.4/0', '0.4/1', '0/0', '0/1'],
        'one task per flood level and seed',
      );
      for (const { task, rows } of tasks) {
        assert.equal(task.status, 'SUCCEEDED', task.taskId);
        assert.equal(task.epochsDone, 6);
        assert.match(task.backend ?? '', autoBackend);
        assert.equal(task.attempts, 1, 'one Train call with --epochs-per-call 100');
        assert.equal(task.error, undefined);
        assert.deepEqual(
          rows.map((row) => row.epoch),
          [0, 2, 4, 6],
          `${task.taskId}: evaluated epochs, none twice`,
        );
        for (const row of rows) {
          for (const split of ['train', 'val', 'test'] as const) {
            for (const field of ['loss', 'acc', 'cleanLoss', 'cleanAcc'] as const) {
              assert.ok(Number.isFinite(row[split][field]), `${task.taskId} epoch ${row.epoch} ${split}.${field}`);
            }
          }
          assert.ok(row.floodedFraction >= 0 && row.floodedFraction <= 1);
        }
        if (task.config.floodLevel === 0)
          assert.ok(
            rows.every((row) => row.floodedFraction === 0),
            'b = 0 never floods',
          );
        assert.deepEqual(task.final, { train: rows[3].train, val: rows[3].val, test: rows[3].test }, 'final = the last row');
      }
    });

    test('summary.json, report.html and the plots (PNG) are written', () => {
      const summary = readSummary(dir, sweepId);
      assert.equal(summary.sweepId, sweepId);
      assert.equal(summary.status, 'SUCCEEDED');
      assert.equal(summary.taskCount, 4);
      assert.equal(summary.succeededTasks, 4);
      assert.deepEqual(summary.failedTasks, []);
      assert.equal(summary.backends.length, 1);
      assert.match(summary.backends[0], autoBackend);
      assert.equal(summary.groups.length, 1);
      assert.deepEqual(
        summary.groups[0].levels.map((level) => [level.floodLevel, level.seeds]),
        [
          [0, [0, 1]],
          [0.4, [0, 1]],
        ],
      );
      const report = readFileSync(join(dir, sweepKeys(sweepId).report), 'utf8');
      assert.match(report, /^<!doctype html>/i);
      assert.ok(report.includes(sweepId), 'the report names the sweep');
      const plotDir = join(dir, 'sweeps', sweepId, 'plots');
      const pngs = readdirSync(plotDir).filter((name) => name.endsWith('.png'));
      assert.ok(pngs.length >= 2, `plots: ${pngs.join(', ')}`);
      for (const name of pngs) {
        const bytes = readFileSync(join(plotDir, name));
        assert.ok(bytes.length > 1000 && bytes.subarray(0, 8).equals(PNG_SIGNATURE), `${name} is a PNG`);
      }
    });

    test('sweep status shows the sweep, its cost and every task', async () => {
      const status = await reads.status;
      assert.equal(status.code, 0, show(status));
      const lines = status.stdout.trim().split('\n');
      assert.equal(lines[0], `${sweepId}: SUCCEEDED; 4 succeeded`);
      assert.match(lines[1], /^cost: incurred \$[\d.]+ at list prices; estimated \$[\d.]+ /);
      assert.equal(lines.length, 6);
      for (const line of lines.slice(2)) assert.match(line, /^ {2}[0-9a-f]{12} {2}b=(0|0\.4) seed [01] {2}SUCCEEDED +epoch 6\/6$/);
    });

    test('sweep results --json prints summary.json; --csv one row per flood level', async () => {
      const json = await reads.json;
      assert.equal(json.code, 0, show(json));
      assert.deepEqual(JSON.parse(json.stdout), readSummary(dir, sweepId));
      const csv = await reads.csv;
      assert.equal(csv.code, 0, show(csv));
      const [header, ...rows] = csv.stdout
        .trim()
        .split('\n')
        .map((line) => line.split(','));
      assert.deepEqual(header.slice(0, 5), ['group', 'setting', 'floodLevel', 'chosen', 'seeds']);
      assert.equal(rows.length, 2);
      assert.deepEqual(
        rows.map((row) => [row[2], row[4]]),
        [
          ['0', '2'],
          ['0.4', '2'],
        ],
      );
      assert.equal(rows.filter((row) => row[3] === 'true').length, 1, 'exactly one chosen level');
      for (const row of rows) assert.ok(Number(row[5]) >= 0 && Number(row[5]) <= 1, 'testCleanAccMean is a fraction');
    });

    test('sweep list lists it', async () => {
      const list = await reads.list;
      assert.equal(list.code, 0, show(list));
      assert.match(list.stdout, new RegExp(`^${sweepId} +SUCCEEDED +4 tasks +\\d{4}-\\d\\d-\\d\\dT`, 'm'));
    });

    test('sweep plots --out copies every plot', async () => {
      const plots = await reads.plots;
      assert.equal(plots.code, 0, show(plots));
      const stored = join(dir, 'sweeps', sweepId, 'plots');
      const names = readdirSync(stored).sort();
      assert.deepEqual(readdirSync(plotsOut).sort(), names);
      for (const name of names) assert.ok(readFileSync(join(plotsOut, name)).equals(readFileSync(join(stored, name))), name);
      assert.match(plots.stdout, new RegExp(`^${names.length} files written to `));
    });

    test('epochs per call 2: every task checkpoints and goes through 3 Train calls, with the same numbers', async () => {
      const { sweepId: chunkedId, status } = await chunked;
      assert.equal(status, 'SUCCEEDED', await describeTasks(chunkedDir, chunkedId));
      const tasks = await readTasks(chunkedDir, chunkedId);
      assert.equal(tasks.length, 4);
      for (const { task } of tasks) {
        assert.equal(task.status, 'SUCCEEDED');
        assert.equal(task.attempts, 3, `${task.taskId}: 6 epochs, 2 per call`);
      }
      assert.equal(checkpointFiles(chunkedDir).length, 4, 'a checkpoint per task');
      assert.deepEqual(checkpointFiles(dir), [], 'one call per task needs no checkpoint');
      // Same task ids (same configs), same finals and rows; only wall-clock seconds may differ.
      assert.deepEqual(await outcomes(chunkedDir, chunkedId), await outcomes(dir, sweepId));
      assert.deepEqual(readSummary(chunkedDir, chunkedId).groups, readSummary(dir, sweepId).groups);
    });
  });

  describe('Ctrl-C and --resume', { concurrency: 1 }, () => {
    const spec = fixture('interrupt.json');
    const dir = freshDir('interrupted');
    const referenceDir = freshDir('uninterrupted');
    const args = ['--results', dir, '--workers', '1', '--epochs-per-call', '2'];
    let reference: Promise<{ sweepId: string; status: string }>;
    let interrupted: CliResult;
    let sweepId: string;

    before(async () => {
      // The uninterrupted run of the same spec, in process through the same runner, meanwhile.
      const local = runWorkflowLocally(
        { spec: readFixture('interrupt.json') },
        // Checkpoints every 5 epochs: other boundaries than the interrupted run's, and short Train calls.
        { stores: { kind: 'local', rootDir: referenceDir }, backend: 'auto', workers: 1, epochsPerCall: 5 },
      );
      reference = local.result.then(({ aggregate }) => ({ sweepId: aggregate.sweepId, status: aggregate.status }));
      reference.catch(() => undefined);

      const { child, result } = startCli(['sweep', 'run', spec, ...args]);
      const sent = interruptOnCheckpoint(dir, child.pid!);
      interrupted = await result;
      assert.equal(await sent, 'sent', `the run ended before a checkpoint was seen:\n${show(interrupted)}`);
      sweepId = onlySweepId(dir);
    });

    test('SIGINT stops the run with a non-zero exit and prints how to resume with the sweep id', async () => {
      assert.equal(typeof interrupted.code, 'number', `exited by itself, not killed by the signal: ${show(interrupted)}`);
      assert.notEqual(interrupted.code, 0, show(interrupted));
      assert.match(interrupted.stderr, new RegExp(`floodsweep(\\.js)? sweep run --resume ${sweepId}\\b`), show(interrupted));
      const tasks = await readTasks(dir, sweepId);
      assert.ok(
        tasks.some(({ task }) => task.status !== 'SUCCEEDED'),
        'interrupted before the end: some work is left for --resume',
      );
    });

    test('the resume hint names the results directory, so that it works when copied', () => {
      const hint = interrupted.stderr.split('\n').find((line) => line.includes('--resume')) ?? '';
      assert.ok(hint.includes(dir), `hint: ${hint}`);
    });

    test('--resume <id> --results <same dir> finishes the sweep: exit 0, no duplicate rows, the numbers of an uninterrupted run', async () => {
      const before = await readTasks(dir, sweepId);
      const resumed = await floodsweep(['sweep', 'run', '--resume', sweepId, ...args]);
      assert.equal(resumed.code, 0, show(resumed));
      // It says what it found: how many tasks were done, and where each unfinished one restarts.
      const done = before.filter(({ task }) => task.status === 'SUCCEEDED').length;
      const checkpointed = before.filter(({ task }) => task.status !== 'SUCCEEDED' && task.epochsDone > 0);
      assert.match(resumed.stderr, new RegExp(`^resuming: ${done} of 2 tasks done`, 'm'), show(resumed));
      for (const { task } of checkpointed)
        assert.ok(resumed.stderr.includes(`${task.taskId.slice(0, 6)} at epoch ${task.epochsDone}`), show(resumed));
      assert.match(resumed.stdout, new RegExp(`^sweep ${sweepId}: SUCCEEDED · 2/2 tasks succeeded`, 'm'));
      const tasks = await readTasks(dir, sweepId);
      assert.equal(tasks.length, 2);
      const evaluated = [0, 3, 6, 9, 12, 15, 18, 21, 24, 27, 30];
      for (const { task, rows } of tasks) {
        assert.equal(task.status, 'SUCCEEDED');
        assert.equal(task.epochsDone, 30);
        assert.deepEqual(
          rows.map((row) => row.epoch),
          evaluated,
          `${task.taskId}: each evaluated epoch once`,
        );
      }
      const ref = await reference;
      assert.equal(ref.status, 'SUCCEEDED', await describeTasks(referenceDir, ref.sweepId));
      // Checkpoints every 2 epochs with evaluation every 3: resuming mid-window must not change a number.
      assert.deepEqual(await outcomes(dir, sweepId), await outcomes(referenceDir, ref.sweepId));
      assert.equal(readSummary(dir, sweepId).status, 'SUCCEEDED');
    });

    test('a second --resume of the finished sweep retrains nothing', async () => {
      const before = await readTasks(dir, sweepId);
      const again = await floodsweep(['sweep', 'run', '--resume', sweepId, ...args]);
      assert.equal(again.code, 0, show(again));
      assert.match(again.stderr, /^resuming: 2 of 2 tasks done$/m);
      const afterwards = await readTasks(dir, sweepId);
      assert.deepEqual(
        afterwards.map(({ task }) => [task.taskId, task.status, task.attempts, task.epochsDone]),
        before.map(({ task }) => [task.taskId, task.status, task.attempts, task.epochsDone]),
      );
      // Rows untouched, wall-clock seconds included.
      assert.deepEqual(
        afterwards.map(({ rows }) => rows),
        before.map(({ rows }) => rows),
      );
      assert.doesNotMatch(again.stderr, /interrupted/);
    });
  });

  describe('spec errors through the CLI', { concurrency: true }, () => {
    const PROBLEM_FIELDS = ['colour', 'training.epochs', 'grid.optimizer.lr', 'floodLevels[1]', 'seeds[2]'];

    test('validate and run: exit 2, one line per problem naming its field path, nothing written', async () => {
      const out = freshDir('bad-spec-out');
      const results = await Promise.all([
        floodsweep(['sweep', 'validate', fixture('bad.json')]),
        floodsweep(['sweep', 'run', fixture('bad.json'), '--results', out]),
      ]);
      for (const result of results) {
        assert.equal(result.code, 2, show(result));
        assert.equal(result.stdout, '');
        const lines = result.stderr.trim().split('\n');
        assert.equal(lines.length, PROBLEM_FIELDS.length, show(result));
        const fields = lines.map((line) => /^floodsweep: (\S+): \S/.exec(line)?.[1]);
        assert.deepEqual([...fields].sort(), [...PROBLEM_FIELDS].sort(), show(result));
        assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
      }
      assert.ok(!existsSync(out), 'the --results directory was not created');
    });

    test('a spec file that does not exist: exit 2, one line naming it, nothing written', async () => {
      const missing = join(scratch, 'no-such-spec.json');
      const out = freshDir('missing-spec-out');
      const result = await floodsweep(['sweep', 'run', missing, '--results', out]);
      assert.equal(result.code, 2, show(result));
      assert.equal(result.stderr.trim().split('\n').length, 1, show(result));
      assert.ok(result.stderr.includes(missing), show(result));
      assert.ok(!existsSync(out));
    });

    test('sweep validate examples/paper-synthetic.json: 120 tasks', async () => {
      const result = await floodsweep(['sweep', 'validate', join(EXAMPLES, 'paper-synthetic.json')]);
      assert.equal(result.code, 0, show(result));
      assert.match(result.stdout, /: valid; 120 tasks = 3 settings x 8 flood levels x 5 seeds$/m);
    });

    test('more than 10,000 tasks is refused naming --max-tasks; a raised --max-tasks lets it pass', async () => {
      const [refused, raised] = await Promise.all([
        floodsweep(['sweep', 'validate', fixture('too-many.json')]),
        floodsweep(['sweep', 'validate', fixture('too-many.json'), '--max-tasks', '20000']),
      ]);
      assert.equal(refused.code, 2, show(refused));
      assert.equal(refused.stderr.trim().split('\n').length, 1, show(refused));
      assert.match(refused.stderr, /10001 tasks.*10000.*--max-tasks/, show(refused));
      assert.equal(raised.code, 0, show(raised));
      assert.match(raised.stdout, /valid; 10001 tasks/);
    });

    test('sweep run --epochs-per-call 0 is refused as bad input, writing nothing', async () => {
      const out = freshDir('zero-epochs-out');
      const { child, result } = startCli([
        'sweep',
        'run',
        fixture('tiny.json'),
        '--results',
        out,
        '--workers',
        '1',
        '--epochs-per-call',
        '0',
      ]);
      let exited = false;
      void result.then(() => (exited = true));
      // A run that has started writing accepted the flag: stop it rather than wait for a loop that never ends.
      while (!exited && !existsSync(out)) await new Promise((r) => setTimeout(r, 50));
      if (!exited) child.kill('SIGKILL');
      const outcome = await result;
      assert.ok(!existsSync(out), 'nothing written');
      assert.equal(outcome.code, 2, show(outcome));
      assert.match(outcome.stderr, /--epochs-per-call/);
    });
  });

  describe('in process: the Lambda handlers, and a task that fails', { concurrency: 1 }, () => {
    describe('functions/*.ts handlers against FLOODSWEEP_RESULTS_DIR', { concurrency: 1 }, () => {
      const dir = freshDir('handlers');
      const saved = { ...process.env };
      const large = { getRemainingTimeInMillis: () => 15 * 60_000 };
      // Below the 30 s the train step keeps in reserve for its checkpoint: no time to train an epoch.
      const almostOut = { getRemainingTimeInMillis: () => 10_000 };
      let planned: { sweepId: string; manifestKey: string; taskCount: number };
      let items: ManifestItem[];
      const store = new LocalMetricsStore(dir);
      const task = (item: ManifestItem) => store.getTask(item.sweepId, item.taskId) as Promise<TaskRecord>;
      const epochs = async (item: ManifestItem) => (await store.getEpochs(item.sweepId, item.taskId)).map((row) => row.epoch);

      before(() => {
        delete process.env.FLOODSWEEP_TABLE;
        delete process.env.FLOODSWEEP_BUCKET;
        process.env.FLOODSWEEP_RESULTS_DIR = dir;
        process.env.FLOODSWEEP_BACKEND = 'wasm';
      });
      after(() => {
        for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
        Object.assign(process.env, saved);
      });

      test('plan writes the spec, the manifest and PENDING tasks, and returns keys only', async () => {
        planned = await planHandler({ input: { spec: readFixture('handlers.json') }, executionName: 'handlers-test-execution' });
        assert.equal(planned.taskCount, 2);
        assert.deepEqual(Object.keys(planned).sort(), ['epochCount', 'manifestKey', 'maxConcurrency', 'sweepId', 'taskCount']);
        items = JSON.parse(readFileSync(join(dir, planned.manifestKey), 'utf8'));
        assert.equal(items.length, 2);
        for (const item of items) {
          assert.equal(item.sweepId, planned.sweepId);
          assert.equal((await task(item)).status, 'PENDING');
        }
        assert.ok(existsSync(join(dir, sweepKeys(planned.sweepId).spec)));
      });

      test('train: done:false after checkpointing (epoch budget, then time budget), then done:true', async () => {
        const [item] = items;
        const checkpoint = join(dir, sweepKeys(item.sweepId).taskCheckpoint(item.taskId));

        process.env.FLOODSWEEP_EPOCHS_PER_CALL = '2';
        assert.deepEqual(await trainHandler(item, large), { ...item, done: false, epoch: 2 });
        delete process.env.FLOODSWEEP_EPOCHS_PER_CALL;
        assert.ok(existsSync(checkpoint), 'checkpointed');
        let record = await task(item);
        assert.equal(record.status, 'RUNNING');
        assert.equal(record.epochsDone, 2);
        assert.equal(record.backend, 'wasm');
        assert.deepEqual(await epochs(item), [0, 1, 2]);

        // Too little time left for another epoch: checkpoint and hand back to the workflow.
        assert.deepEqual(await trainHandler(item, almostOut), { ...item, done: false, epoch: 2 });
        assert.deepEqual(await epochs(item), [0, 1, 2]);

        assert.deepEqual(await trainHandler(item, large), { ...item, done: true, epoch: 4 });
        record = await task(item);
        assert.equal(record.status, 'SUCCEEDED');
        assert.equal(record.epochsDone, 4);
        assert.ok(record.final);
        assert.deepEqual(await epochs(item), [0, 1, 2, 3, 4]);
      });

      test('train on a finished task returns done:true without training again', async () => {
        const [item] = items;
        const recordBefore = await task(item);
        const rowsBefore = await store.getEpochs(item.sweepId, item.taskId);
        assert.deepEqual(await trainHandler(item, large), { ...item, done: true, epoch: 4 });
        const recordAfter = await task(item);
        assert.equal(recordAfter.attempts, recordBefore.attempts);
        assert.deepEqual(recordAfter, recordBefore);
        assert.deepEqual(await store.getEpochs(item.sweepId, item.taskId), rowsBefore);
      });

      test('record-failure parses a Lambda Cause ({errorMessage, errorType}) into the task error', async () => {
        const item = items[1];
        const cause = JSON.stringify({
          errorMessage: 'boom',
          errorType: 'Error',
          trace: ['Error: boom', '    at handler (/var/task/index.js:1:1)'],
        });
        const output = await recordFailureHandler({ ...item, error: { Error: 'Error', Cause: cause } });
        assert.deepEqual(output, { ...item, failed: true });
        const record = await task(item);
        assert.equal(record.status, 'FAILED');
        assert.equal(record.error, 'Error: boom');
      });

      test('aggregate: one task done, one failed -> PARTIAL, with summary.json and the report', async () => {
        const output = await aggregateHandler({ sweepId: planned.sweepId });
        assert.equal(output.status, 'PARTIAL');
        assert.ok(existsSync(join(dir, output.summaryKey)) && existsSync(join(dir, output.reportKey)));
        const summary = readSummary(dir, planned.sweepId);
        assert.equal(summary.succeededTasks, 1);
        assert.deepEqual(
          summary.failedTasks.map((t) => [t.taskId, t.status, t.error]),
          [[items[1].taskId, 'FAILED', 'Error: boom']],
        );
        assert.equal((await store.getSweep(planned.sweepId))?.status, 'PARTIAL');
      });
    });

    describe('a task whose checkpoint is corrupt', { concurrency: 1 }, () => {
      const dir = freshDir('partial');
      const stores = openStores({ kind: 'local', rootDir: dir });
      let sweepId: string;
      let victim: TaskRecord;
      let checkpointFile: string;
      let corrupt: Buffer;

      before(async () => {
        const planned = await plan(stores, { input: { spec: readFixture('partial.json') }, executionName: 'sweep-test-partial' });
        sweepId = planned.sweepId;
        const tasks = await stores.metrics.listTasks(sweepId);
        victim = tasks.find((t) => t.config.floodLevel === 0.2)!;
        // The victim's own checkpoint, cut in half (as a partial write would leave it).
        await initBackend('wasm');
        const run = TrainingRun.start(victim.config);
        run.trainEpoch();
        const whole = Buffer.from(run.checkpoint());
        run.dispose();
        corrupt = whole.subarray(0, Math.floor(whole.length / 2));
        const key = sweepKeys(sweepId).taskCheckpoint(victim.taskId);
        await stores.artifacts.put(key, corrupt);
        checkpointFile = stores.artifacts.locate(key);
      });

      test('the workflow records it FAILED naming the checkpoint, the others succeed, the sweep is PARTIAL', async () => {
        const { result } = runWorkflowLocally(
          { spec: readFixture('partial.json'), sweepId },
          { stores: { kind: 'local', rootDir: dir }, backend: 'auto', workers: 1 },
        );
        const { plan: planned, aggregate } = await result;
        assert.equal(planned.sweepId, sweepId, 'the planned sweep is reused');
        assert.equal(planned.taskCount, 3);
        assert.equal(aggregate.status, 'PARTIAL');

        const tasks = await readTasks(dir, sweepId);
        for (const { task, rows } of tasks) {
          if (task.taskId === victim.taskId) {
            assert.equal(task.status, 'FAILED');
            assert.ok(task.error?.includes(checkpointFile), `the error names the checkpoint file: ${task.error}`);
            assert.match(task.error!, /truncated|corrupt/);
            assert.deepEqual(rows, [], 'not silently retrained from scratch');
          } else {
            assert.equal(task.status, 'SUCCEEDED', task.taskId);
            assert.deepEqual(
              rows.map((row) => row.epoch),
              [0, 2, 4],
            );
          }
        }
        assert.ok(readFileSync(checkpointFile).equals(corrupt), 'the corrupt checkpoint is left for inspection');

        const summary = readSummary(dir, sweepId);
        assert.equal(summary.status, 'PARTIAL');
        assert.equal(summary.succeededTasks, 2);
        assert.equal(summary.failedTasks.length, 1);
        assert.equal(summary.failedTasks[0].taskId, victim.taskId);
        assert.equal(summary.failedTasks[0].floodLevel, 0.2);
        assert.equal(summary.failedTasks[0].error, tasks.find(({ task }) => task.taskId === victim.taskId)!.task.error);
        assert.equal((await stores.metrics.getSweep(sweepId))?.status, 'PARTIAL');
      });

      test('sweep run --resume on it exits 1 and lists the failed task with its message', async () => {
        const result = await floodsweep(['sweep', 'run', '--resume', sweepId, '--results', dir, '--workers', '1']);
        assert.equal(result.code, 1, show(result));
        assert.match(result.stdout, new RegExp(`^sweep ${sweepId}: PARTIAL · 2/3 tasks succeeded`, 'm'));
        assert.match(result.stdout, new RegExp(`^failed tasks:\\n {2}${victim.taskId} b=0\\.2 seed 0 FAILED: .*checkpoint\\.bin`, 'm'));
        assert.equal((await stores.metrics.getTask(sweepId, victim.taskId))?.status, 'FAILED');
      });
    });
  });
});

// Alone, after the others: it stretches this process's clock.
describe('the local executor and Train calls longer than a minute', () => {
  test('a long Train call is not failed by a timeout the cloud does not have (clock compressed 20x)', async () => {
    const dir = freshDir('long-train-call');
    const realSetTimeout = globalThis.setTimeout;
    // Every delay runs 20x faster: aws-local-stepfunctions' default 60 s task timeout becomes 3 s,
    // shorter than a Train call (it starts a worker thread); the definition's 900 s become 45 s.
    globalThis.setTimeout = ((callback: (...args: unknown[]) => void, ms?: number, ...args: unknown[]) =>
      realSetTimeout(callback, (ms ?? 0) / 20, ...args)) as unknown as typeof setTimeout;
    let status: string;
    let sweepId: string;
    try {
      const { result } = runWorkflowLocally(
        { spec: readFixture('handlers.json') },
        { stores: { kind: 'local', rootDir: dir }, backend: 'auto', workers: 1 },
      );
      ({ status, sweepId } = (await result).aggregate);
    } finally {
      globalThis.setTimeout = realSetTimeout;
    }
    assert.equal(status, 'SUCCEEDED', await describeTasks(dir, sweepId));
  });
});
