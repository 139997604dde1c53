/**
 * Faults a sweep must survive, with real processes: `kill -9` of the CLI during Plan, training and
 * Aggregate (each followed by status and resume), two concurrent resumes of one sweep, a failing
 * Aggregate, a resume with another spec, an unknown id and a backend that cannot start; and from
 * code (runSweep, resumeSweep) against both store adapters.
 *
 * The CLI children run with a lease of 1 s (FLOODSWEEP_LEASE_SECONDS), so a killed run's sweep
 * shows as INTERRUPTED a second after its death. The CLI runs from dist/: `npm run build` first.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { FloodsweepError } from '../src/errors.js';
import { resumeSweep, runSweep } from '../src/run.js';
import { SweepLeasedError } from '../src/store/lease.js';
import { LocalMetricsStore } from '../src/store/local.js';
import { openStores, type StoreConfig } from '../src/store/open.js';
import { type MetricsStore, sweepKeys } from '../src/store/ports.js';
import { validateSpec } from '../src/sweep/spec.js';
import { runWorkflowLocally, WorkflowAbortedError } from '../src/workflow/local-executor.js';
import { floodsweep, show, startCli } from './cli-helpers.js';
import { credentials, type Emulators, region, startEmulators } from './emulators.js';
import { tfjsNodeInstalled } from './tfjs-node-installed.js';

const SPEC = fileURLToPath(new URL('./fixtures/sweep/interrupt.json', import.meta.url));
const SPEC_OBJECT = JSON.parse(readFileSync(SPEC, 'utf8')) as Record<string, unknown>;
/** interrupt.json evaluates every 3 of its 30 epochs. */
const EVALUATED = [0, 3, 6, 9, 12, 15, 18, 21, 24, 27, 30];
const LEASE = { FLOODSWEEP_LEASE_SECONDS: '1' };

const scratch = mkdtempSync(join(tmpdir(), 'floodsweep-faults-test-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
let dirCounter = 0;
const freshDir = (what: string) => join(scratch, `${what}-${++dirCounter}`);
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

function onlySweepId(dir: string): string {
  const ids = readdirSync(join(dir, 'sweeps'));
  assert.equal(ids.length, 1, `one sweep in ${dir}: ${ids.join(', ')}`);
  return ids[0];
}

/** Every task's final metrics and epoch rows (without their wall-clock seconds): what two runs of one spec must agree on. */
function outcomes(dir: string, sweepId: string) {
  return outcomesIn(new LocalMetricsStore(dir), sweepId);
}

async function outcomesIn(store: MetricsStore, sweepId: string) {
  const tasks = await store.listTasks(sweepId);
  const entries = await Promise.all(
    tasks.map(async (task) => {
      const rows = (await store.getEpochs(sweepId, task.taskId)).map(({ seconds: _seconds, ...row }) => row);
      return [task.taskId, { status: task.status, epochsDone: task.epochsDone, final: task.final, rows }] as const;
    }),
  );
  return Object.fromEntries(entries);
}

/**
 * Sends `signal` to `pid` as soon as a file whose path (relative to `dir`) matches `pattern`
 * appears. A worker thread polls, so that this process's busy main thread cannot delay it.
 * Resolves with the path seen, or undefined if the process exited first.
 */
function signalWhenWritten(dir: string, pattern: RegExp, pid: number, signal: NodeJS.Signals): Promise<string | undefined> {
  const source = `
    const { parentPort, workerData: { dir, pattern, pid, signal } } = require('node:worker_threads');
    const { existsSync, readdirSync } = require('node:fs');
    const matcher = new RegExp(pattern);
    const timer = setInterval(() => {
      try { process.kill(pid, 0); } catch { clearInterval(timer); parentPort.postMessage(null); return; }
      if (!existsSync(dir)) return;
      const seen = readdirSync(dir, { recursive: true, encoding: 'utf8' }).find((path) => matcher.test(path));
      if (!seen) return;
      clearInterval(timer);
      process.kill(pid, signal);
      parentPort.postMessage(seen);
    }, 10);`;
  const worker = new Worker(source, { eval: true, workerData: { dir, pattern: pattern.source, pid, signal } });
  return new Promise((resolve, reject) => {
    worker.once('message', (seen: string | null) => {
      resolve(seen ?? undefined);
      void worker.terminate();
    });
    worker.once('error', reject);
  });
}

/** The same spec run once in process without any fault: the numbers every recovered run must reproduce. */
let reference: ReturnType<typeof outcomes>;
before(() => {
  const dir = freshDir('reference');
  const run = runWorkflowLocally({ spec: SPEC_OBJECT }, { stores: { kind: 'local', rootDir: dir }, backend: 'auto', workers: 1 });
  reference = run.result.then(({ aggregate }) => outcomes(dir, aggregate.sweepId));
  reference.catch(() => undefined);
});

describe('faults', { concurrency: true }, () => {
  const killPoints = [
    { phase: 'Plan', pattern: /^metrics\/sweeps\/[^/]+\/sweep\.json$/ },
    { phase: 'training', pattern: /checkpoint\.bin$/ },
    { phase: 'Aggregate', pattern: /^sweeps\/[^/]+\/summary\.json$/ },
  ];
  for (const { phase, pattern } of killPoints) {
    describe(`kill -9 during ${phase}`, { concurrency: 1 }, () => {
      const dir = freshDir(`killed-in-${phase}`);
      const args = ['--results', dir, '--workers', '1', '--epochs-per-call', '2'];
      let sweepId: string;

      before(async () => {
        const { child, result } = startCli(['sweep', 'run', SPEC, ...args], { env: LEASE });
        const seen = await signalWhenWritten(dir, pattern, child.pid!, 'SIGKILL');
        const killed = await result;
        assert.ok(seen, `the run ended before ${phase}:\n${show(killed)}`);
        assert.equal(killed.signal, 'SIGKILL', show(killed));
        sweepId = onlySweepId(dir);
      });

      test('once its lease expired, status shows the sweep INTERRUPTED with the command that resumes it', async () => {
        await sleep(1500);
        const status = await floodsweep(['sweep', 'status', sweepId, '--results', dir]);
        assert.equal(status.code, 0, show(status));
        const [first, second] = status.stdout.split('\n');
        assert.match(first, new RegExp(`^${sweepId}: INTERRUPTED;`), show(status));
        assert.match(second, /INTERRUPTED at \d\/2 tasks \(its process \(host .+, pid \d+\) stopped without finishing/, show(status));
        assert.ok(second.includes(`sweep run --resume ${sweepId} --results ${dir}`), show(status));
      });

      test('resume ends SUCCEEDED with the numbers of an uninterrupted run, each evaluated epoch once', async () => {
        const resumed = await floodsweep(['sweep', 'run', '--resume', sweepId, ...args], { env: LEASE });
        assert.equal(resumed.code, 0, show(resumed));
        assert.match(resumed.stdout, new RegExp(`^sweep ${sweepId}: SUCCEEDED · 2/2 tasks succeeded`, 'm'));
        const recovered = await outcomes(dir, sweepId);
        for (const [taskId, task] of Object.entries(recovered)) {
          assert.deepEqual(
            task.rows.map((row) => row.epoch),
            EVALUATED,
            `${taskId}: each evaluated epoch once`,
          );
        }
        assert.deepEqual(recovered, await reference);
        assert.equal((await new LocalMetricsStore(dir).getSweep(sweepId))?.status, 'SUCCEEDED');
        const summary = JSON.parse(readFileSync(join(dir, sweepKeys(sweepId).summary), 'utf8')) as { status: string };
        assert.equal(summary.status, 'SUCCEEDED');
      });
    });
  }

  describe('kill -9 with a lease far from expiry: the dead holder is known by its pid and start time', { concurrency: 1 }, () => {
    const dir = freshDir('killed-long-lease');
    const args = ['--results', dir, '--workers', '1', '--epochs-per-call', '2'];
    const LONG_LEASE = { FLOODSWEEP_LEASE_SECONDS: '3600' };
    let sweepId: string;
    let killedPid: number;

    before(async () => {
      const { child, result } = startCli(['sweep', 'run', SPEC, ...args], { env: LONG_LEASE });
      killedPid = child.pid!;
      assert.ok(await signalWhenWritten(dir, /checkpoint\.bin$/, child.pid!, 'SIGKILL'));
      assert.equal((await result).signal, 'SIGKILL');
      sweepId = onlySweepId(dir);
    });

    test('status shows INTERRUPTED at once, naming the process that is gone', async () => {
      const lease = await new LocalMetricsStore(dir).getLease(sweepId);
      assert.ok(lease && Date.parse(lease.expiresAt) > Date.now() + 3_000_000, 'the lease has not expired');
      const status = await floodsweep(['sweep', 'status', sweepId, '--results', dir]);
      assert.match(status.stdout, new RegExp(`^${sweepId}: INTERRUPTED;`), show(status));
      assert.match(status.stdout, new RegExp(`pid ${killedPid}\\) stopped without finishing; it is gone from this host`), show(status));
    });

    test('a resume takes the lease over at once and ends SUCCEEDED with the numbers of an uninterrupted run', async () => {
      const resumed = await floodsweep(['sweep', 'run', '--resume', sweepId, ...args], { env: LONG_LEASE });
      assert.equal(resumed.code, 0, show(resumed));
      assert.deepEqual(await outcomes(dir, sweepId), await reference);
    });
  });

  describe('a full disk', { concurrency: 1 }, () => {
    // A small tmpfs is a disk that fills; mounting one needs root (CI runs as root; elsewhere this is skipped).
    const mountPoint = freshDir('full-disk');
    mkdirSync(mountPoint);
    const mounted = (() => {
      try {
        execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=400k', 'tmpfs', mountPoint], { stdio: 'ignore' });
        return true;
      } catch {
        return false;
      }
    })();
    after(() => {
      if (mounted) execFileSync('umount', [mountPoint]);
    });
    const WIDE = join(scratch, 'wide.json');
    writeFileSync(WIDE, JSON.stringify({ ...SPEC_OBJECT, name: 'wide', model: { kind: 'mlp', depth: 2, width: 256 } }));

    test('ENOSPC is named as the cause, the sweep is INTERRUPTED at once, and no task is failed for it', { skip: !mounted }, async () => {
      const dir = join(mountPoint, 'results');
      const run = await floodsweep(['sweep', 'run', WIDE, '--results', dir, '--workers', '1', '--epochs-per-call', '2']);
      assert.equal(run.code, 1, show(run));
      const last = run.stderr.trimEnd().split('\n').at(-1) ?? '';
      assert.match(last, /^floodsweep: the disk is full \(ENOSPC\): cannot write \S+; the sweep is INTERRUPTED/, show(run));
      const sweepId = onlySweepId(dir);
      const status = await floodsweep(['sweep', 'status', sweepId, '--results', dir]);
      assert.match(status.stdout, new RegExp(`^${sweepId}: INTERRUPTED;`), show(status));
      assert.doesNotMatch(status.stdout, /failed/, show(status));
    });
  });

  describe('two resumes of one sweep at once', { concurrency: 1 }, () => {
    const dir = freshDir('two-resumes');
    const args = ['--results', dir, '--workers', '1', '--epochs-per-call', '2'];
    let sweepId: string;

    before(async () => {
      const { child, result } = startCli(['sweep', 'run', SPEC, ...args], { env: LEASE });
      assert.ok(await signalWhenWritten(dir, /checkpoint\.bin$/, child.pid!, 'SIGINT'));
      const interrupted = await result;
      assert.equal(interrupted.code, 130, show(interrupted));
      sweepId = onlySweepId(dir);
    });

    test('Ctrl-C marked the sweep INTERRUPTED itself, at once', async () => {
      const status = await floodsweep(['sweep', 'status', sweepId, '--results', dir]);
      assert.match(status.stdout, new RegExp(`^${sweepId}: INTERRUPTED;`), show(status));
      assert.match(status.stdout, /INTERRUPTED at \d\/2 tasks \(stopped by SIGINT before the end\); resume with: /, show(status));
    });

    test('exactly one trains; the other exits 1 naming the holder; the numbers are those of an uninterrupted run', async () => {
      const runs = [0, 1].map(() => startCli(['sweep', 'run', '--resume', sweepId, ...args], { env: LEASE }));
      const results = await Promise.all(runs.map((run) => run.result));
      const winners = results.filter((result) => result.code === 0);
      assert.equal(winners.length, 1, results.map(show).join('\n'));
      const winner = runs[results.indexOf(winners[0])].child;
      const loser = results.find((result) => result.code !== 0)!;
      assert.equal(loser.code, 1, show(loser));
      assert.match(
        loser.stderr,
        new RegExp(`^floodsweep: sweep ${sweepId} is running on host .+, pid ${winner.pid}, since \\d{4}-\\d\\d-\\d\\dT.*Z`),
        show(loser),
      );
      assert.equal(loser.stderr.trim().split('\n').length, 1, show(loser));
      const recovered = await outcomes(dir, sweepId);
      for (const task of Object.values(recovered))
        assert.deepEqual(
          task.rows.map((row) => row.epoch),
          EVALUATED,
        );
      assert.deepEqual(recovered, await reference);
    });
  });

  describe('a failed Aggregate', { concurrency: 1 }, () => {
    const dir = freshDir('failed-aggregate');
    let sweepId: string;

    before(async () => {
      // A directory where summary.json goes: the disk refuses Aggregate's write.
      const run = runWorkflowLocally(
        { spec: SPEC_OBJECT },
        {
          stores: { kind: 'local', rootDir: dir },
          backend: 'auto',
          workers: 1,
          onPlanned: (planned) => {
            mkdirSync(join(dir, sweepKeys(planned.sweepId).summary, 'blocker'), { recursive: true });
          },
        },
      );
      await assert.rejects(run.result, /summary\.json/);
      sweepId = onlySweepId(dir);
    });

    test('marks the sweep FAILED with the cause; status says so and how to resume', async () => {
      const record = await new LocalMetricsStore(dir).getSweep(sweepId);
      assert.equal(record?.status, 'FAILED');
      assert.match(record?.error ?? '', /summary\.json/);
      const status = await floodsweep(['sweep', 'status', sweepId, '--results', dir]);
      assert.match(
        status.stdout,
        new RegExp(
          `^${sweepId}: FAILED; 2 succeeded\\n  FAILED: .*summary\\.json.*; resume with: .*sweep run --resume ${sweepId} --results`,
        ),
        show(status),
      );
    });

    test('resume, once the cause is gone, retrains nothing and ends SUCCEEDED', async () => {
      const before = await outcomes(dir, sweepId);
      rmSync(join(dir, sweepKeys(sweepId).summary), { recursive: true });
      const resumed = await floodsweep(['sweep', 'run', '--resume', sweepId, '--results', dir, '--workers', '1']);
      assert.equal(resumed.code, 0, show(resumed));
      assert.match(resumed.stderr, /^resuming: 2 of 2 tasks done$/m);
      assert.equal((await new LocalMetricsStore(dir).getSweep(sweepId))?.status, 'SUCCEEDED');
      assert.deepEqual(await outcomes(dir, sweepId), before);
      assert.deepEqual(before, await reference);
    });
  });

  describe('refused before anything is written', { concurrency: 1 }, () => {
    const dir = freshDir('refused');
    let sweepId: string;

    before(async () => {
      const run = await floodsweep(['sweep', 'run', SPEC, '--results', dir, '--workers', '1']);
      assert.equal(run.code, 0, show(run));
      sweepId = onlySweepId(dir);
    });

    test('resume with another spec: exit 2 naming the first difference; spec.json and the sweep unchanged byte for byte', async () => {
      const specFile = join(dir, sweepKeys(sweepId).spec);
      const sweepFile = join(dir, 'metrics', 'sweeps', sweepId, 'sweep.json');
      const stored = [readFileSync(specFile), readFileSync(sweepFile)];
      const other = join(scratch, 'other.json');
      // Two differences; the first in key order is named. A default written out is no difference.
      const { training } = SPEC_OBJECT as { training: Record<string, unknown> };
      writeFileSync(
        other,
        JSON.stringify({
          ...SPEC_OBJECT,
          training: { ...training, epochs: 31 },
          execution: { maxConcurrency: 3 },
          seeds: [0],
          selection: {},
        }),
      );
      const refused = await floodsweep(['sweep', 'run', other, '--resume', sweepId, '--results', dir]);
      assert.equal(refused.code, 2, show(refused));
      assert.match(
        refused.stderr,
        new RegExp(
          `^floodsweep: training\\.epochs: differs from the spec of sweep ${sweepId} \\(stored 30, given 31\\); .*resume it without a spec file`,
        ),
      );
      assert.equal(refused.stderr.trim().split('\n').length, 1, show(refused));
      assert.deepEqual([readFileSync(specFile), readFileSync(sweepFile)], stored);
      // The sweep's own spec, given again, is a plain resume.
      const same = await floodsweep(['sweep', 'run', SPEC, '--resume', sweepId, '--results', dir, '--workers', '1']);
      assert.equal(same.code, 0, show(same));
      assert.deepEqual(readFileSync(specFile), stored[0]);
    });

    test('an unknown sweep id: exit 2, one line naming it, nothing created', async () => {
      const empty = freshDir('unknown-id');
      const refused = await floodsweep(['sweep', 'run', '--resume', 'no-such-sweep', '--results', empty]);
      assert.equal(refused.code, 2, show(refused));
      assert.equal(refused.stderr, `floodsweep: sweep "no-such-sweep" not found in ${empty}\n`);
      assert.equal(existsSync(join(empty, 'sweeps')), false);
      assert.equal(existsSync(join(empty, 'metrics', 'sweeps')), false);
    });

    test('a forced backend that cannot start: exit 2 before Plan writes anything', {
      skip: tfjsNodeInstalled && 'tfjs-node is installed here',
    }, async () => {
      const empty = freshDir('no-backend');
      const refused = await floodsweep(['sweep', 'run', SPEC, '--results', empty, '--backend', 'tfjs-node']);
      assert.equal(refused.code, 2, show(refused));
      assert.match(refused.stderr, /tfjs-node/);
      assert.equal(existsSync(join(empty, 'sweeps')), false, 'no spec, manifest or summary');
      assert.equal(existsSync(join(empty, 'metrics', 'sweeps')), false, 'no sweep, task or lease record');
    });
  });
});

/**
 * The same guarantees from code, against both store adapters: local files, and DynamoDB + S3
 * (dynalite and s3rver in process). An aborted run is INTERRUPTED with its lease released; a
 * second run of a sweep that runs is refused naming the holder; another spec is refused and the
 * stored one kept.
 */
describe('from code, against both adapters', { concurrency: 1 }, () => {
  let emulators: Emulators;
  before(async () => {
    emulators = await startEmulators();
    // The worker processes build their AWS clients from the environment.
    process.env.AWS_ACCESS_KEY_ID = credentials.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = credentials.secretAccessKey;
  });
  after(() => emulators.close());

  const adapters: Array<[string, () => Promise<StoreConfig>]> = [
    ['local', async () => ({ kind: 'local', rootDir: freshDir('library') })],
    [
      'aws',
      async () => {
        const { tableName, bucket, cleanup } = await emulators.newAwsStores();
        await cleanup();
        return { kind: 'aws', table: tableName, bucket, region, ...emulators.endpoints };
      },
    ],
  ];
  for (const [name, makeConfig] of adapters) {
    test(`${name}: abort marks INTERRUPTED; a concurrent run is refused naming the holder; another spec is refused`, async () => {
      const stores = await makeConfig();
      const { metrics, artifacts } = openStores(stores);
      const spec = validateSpec(SPEC_OBJECT);
      const settings = { stores, workers: 1, epochsPerCall: 2, backend: 'auto' as const };

      const controller = new AbortController();
      let sweepId = '';
      const aborted = runSweep(spec, {
        ...settings,
        signal: controller.signal,
        onEvent: (event) => {
          if (event.type === 'started') sweepId = event.sweepId;
          if (event.type === 'progress' && event.progress.epochsDone >= 2) controller.abort('a test');
        },
      });
      await assert.rejects(aborted, WorkflowAbortedError);
      const interrupted = await metrics.getSweep(sweepId);
      assert.equal(interrupted?.status, 'INTERRUPTED');
      assert.equal(interrupted?.error, 'stopped by a test before the end');
      const released = await metrics.getLease(sweepId);
      assert.ok(released && Date.parse(released.expiresAt) <= Date.now(), 'the lease is released');
      assert.equal(released.pid, process.pid);

      const storedSpec = await artifacts.get(sweepKeys(sweepId).spec);
      const other = validateSpec({ ...SPEC_OBJECT, floodLevels: [0, 0.25] });
      await assert.rejects(runSweep(other, { ...settings, sweepId }), (error: unknown) => {
        assert.ok(error instanceof FloodsweepError && error.kind === 'input', String(error));
        assert.match(error.message, /^floodLevels\[1\]: differs from the spec of sweep .* \(stored 0\.3, given 0\.25\)/);
        return true;
      });
      assert.deepEqual(await artifacts.get(sweepKeys(sweepId).spec), storedSpec);

      let secondTried: Promise<unknown> | undefined;
      const resumed = await resumeSweep(sweepId, {
        ...settings,
        onEvent: (event) => {
          // The first resume holds the lease from before its Plan: a second one started now is refused.
          if (event.type === 'started') secondTried ??= resumeSweep(sweepId, settings).catch((error: unknown) => error);
        },
      });
      assert.equal(resumed.summary.status, 'SUCCEEDED', JSON.stringify(resumed.summary.failedTasks));
      const refusal = await secondTried;
      assert.ok(refusal instanceof SweepLeasedError, String(refusal));
      assert.equal(refusal.kind, 'state');
      assert.match(refusal.message, new RegExp(`^sweep ${sweepId} is running on host .+, pid ${process.pid}, since `));
      assert.deepEqual(await outcomesIn(openStores(stores).metrics, sweepId), await reference);
    });
  }
});
