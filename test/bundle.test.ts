/**
 * The Lambda artifacts work: each handler is bundled with exactly the options the stack deploys
 * (infra/bundling.ts, zip variant), copied with its runtime files into a directory with no
 * node_modules anywhere above it, and run there by a child `node` process (so module resolution
 * cannot fall back on the project's node_modules): plan a tiny sweep, train every task on the wasm
 * backend until done (resuming from a checkpoint), record a failure, aggregate into a report,
 * compare the run with itself as a reproducibility baseline.
 * Stores: the local file stores (no table or bucket in the environment).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import {
  BUNDLE_FILE,
  copyRuntimeFiles,
  esbuildOptions,
  FUNCTION_IDS,
  type FunctionId,
  RUNTIME_FILES,
  runtimeFileEnvironment,
} from '../infra/bundling.js';

const run = promisify(execFile);
const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** examples/tiny.json, cut to 2 epochs (evaluated every epoch) so the test stays quick. */
async function tinySpec(): Promise<Record<string, unknown>> {
  const file = path.join(PROJECT_ROOT, 'examples', 'tiny.json');
  const spec = existsSync(file)
    ? (JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>)
    : {
        name: 'tiny',
        dataset: { name: 'sinusoid2d', nTrain: 64, nVal: 64, nTest: 256 },
        model: { kind: 'mlp', depth: 2, width: 16 },
        floodLevels: [0, 0.3],
        seeds: [0],
      };
  return { ...spec, training: { ...(spec.training as object), epochs: 2, batchSize: 32, evalEvery: 1 } };
}

/** A handler module run by a plain `node` child: argv = bundle path, event JSON; prints the result. */
const RUNNER = `
const [bundle, event] = process.argv.slice(2);
const { handler } = await import(bundle);
const context = { getRemainingTimeInMillis: () => 600000 };
const result = await handler(JSON.parse(event), context);
process.stdout.write(JSON.stringify(result));
`;

function isPng(bytes: Buffer): boolean {
  return bytes.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
}

describe('bundled Lambda handlers, outside the project', { timeout: 600_000 }, () => {
  let buildDir: string;
  let runDir: string;
  let resultsDir: string;

  before(async () => {
    buildDir = await mkdtemp(path.join(tmpdir(), 'floodsweep-build-'));
    runDir = await mkdtemp(path.join(tmpdir(), 'floodsweep-lambda-'));
    resultsDir = path.join(runDir, 'results');
    // Build each function as the stack does, then copy only the artifact (bundle, esbuild's
    // copied files, the runtime files) to where no node_modules can be found.
    for (const fn of FUNCTION_IDS) {
      const outdir = path.join(buildDir, fn);
      await build(esbuildOptions(fn, { projectRoot: PROJECT_ROOT, outdir }));
      await copyRuntimeFiles(fn, PROJECT_ROOT, outdir);
      await cp(outdir, path.join(runDir, fn), { recursive: true });
    }
    await writeFile(path.join(runDir, 'run.mjs'), RUNNER);
  });

  after(async () => {
    await rm(buildDir, { recursive: true, force: true });
    await rm(runDir, { recursive: true, force: true });
  });

  async function invoke<T>(fn: FunctionId, event: unknown, extraEnv: Record<string, string> = {}): Promise<T> {
    const bundleDir = path.join(runDir, fn);
    // A clean environment: no NODE_OPTIONS (tsx), no test-runner variables, no AWS settings.
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      FLOODSWEEP_RESULTS_DIR: resultsDir,
      FLOODSWEEP_BACKEND: 'wasm',
      ...runtimeFileEnvironment(fn, bundleDir),
      ...extraEnv,
    };
    try {
      const { stdout } = await run(process.execPath, ['run.mjs', path.join(bundleDir, BUNDLE_FILE), JSON.stringify(event)], {
        cwd: runDir,
        env,
        maxBuffer: 16 * 1024 * 1024,
      });
      return JSON.parse(stdout) as T;
    } catch (error) {
      const { stderr } = error as { stderr?: string };
      throw new Error(`${fn} handler failed: ${stderr ?? String(error)}`);
    }
  }

  it('copies nothing but the artifact, with no node_modules above it', async () => {
    for (let dir = runDir; ; dir = path.dirname(dir)) {
      assert.equal(existsSync(path.join(dir, 'node_modules')), false, `${dir}/node_modules exists`);
      if (path.dirname(dir) === dir) break;
    }
    for (const fn of FUNCTION_IDS) {
      const files = await readdir(path.join(runDir, fn), { recursive: true });
      assert.ok(files.includes(BUNDLE_FILE), `${fn}: ${BUNDLE_FILE}`);
      for (const file of RUNTIME_FILES[fn]) assert.ok(files.includes(file.to.replace(/^\.\//, '')), `${fn}: ${file.to}`);
      assert.ok(
        files.every((file) => !file.split(path.sep).includes('node_modules')),
        `${fn} ships no node_modules`,
      );
    }
  });

  it('plans, trains (resuming from a checkpoint), records a failure, aggregates and compares a tiny sweep', async () => {
    const spec = await tinySpec();
    const sweepId = 'bundle-test';
    const planned = await invoke<{ sweepId: string; manifestKey: string; taskCount: number; maxConcurrency: number }>('plan', {
      spec,
      sweepId,
    });
    assert.equal(planned.sweepId, sweepId);
    assert.ok(planned.taskCount >= 2, `task count ${planned.taskCount}`);

    // The local artifact store mirrors S3 keys on disk.
    const manifest = JSON.parse(await readFile(path.join(resultsDir, ...planned.manifestKey.split('/')), 'utf8')) as Array<{
      sweepId: string;
      taskId: string;
    }>;
    assert.equal(manifest.length, planned.taskCount);

    for (const item of manifest) {
      // One epoch per call: the first call checkpoints and returns done=false, the next resumes.
      const calls: Array<{ done: boolean; epoch: number }> = [];
      for (let call = 0; call < 10; call++) {
        const output = await invoke<{ done: boolean; epoch: number }>('train', item, { FLOODSWEEP_EPOCHS_PER_CALL: '1' });
        calls.push(output);
        if (output.done) break;
      }
      assert.deepEqual(
        calls.map((c) => c.done),
        [false, true],
        `task ${item.taskId}: ${JSON.stringify(calls)}`,
      );
      assert.equal(calls.at(-1)!.epoch, 2);
    }

    // Run against a finished task, the failure recorder changes nothing (only PENDING/RUNNING/FAILED tasks are marked).
    const failed = await invoke<{ failed: boolean }>('recordFailure', {
      ...manifest[0],
      error: { Error: 'Test', Cause: 'not really' },
    });
    assert.equal(failed.failed, true);

    const aggregated = await invoke<{ status: string; summaryKey: string; reportKey: string }>('aggregate', { sweepId });
    assert.equal(aggregated.status, 'SUCCEEDED');

    // A reproducibility run compared with itself: same spec, same backend, same numbers.
    const compared = await invoke<{ verdict: string; message: string }>('compare', {
      sweepId,
      repro: { name: 'bundle-test', baseline: { sweepId } },
    });
    assert.equal(compared.verdict, 'REPRODUCED', compared.message);

    const { LocalMetricsStore } = await import('../src/store/local.js');
    const tasks = await new LocalMetricsStore(resultsDir).listTasks(sweepId);
    assert.equal(tasks.length, planned.taskCount);
    for (const task of tasks) {
      assert.equal(task.status, 'SUCCEEDED', `${task.taskId}: ${task.status} ${task.error ?? ''}`);
      assert.equal(task.backend, 'wasm');
      assert.equal(task.epochsDone, 2);
    }

    const sweepDir = path.join(resultsDir, 'sweeps', sweepId);
    const summary = JSON.parse(await readFile(path.join(resultsDir, ...aggregated.summaryKey.split('/')), 'utf8')) as {
      status: string;
    };
    assert.equal(summary.status, 'SUCCEEDED');
    const report = await readFile(path.join(resultsDir, ...aggregated.reportKey.split('/')), 'utf8');
    assert.match(report, /<html/i);
    assert.ok(report.includes('vegaEmbed('), 'the interactive charts: vega inlined from the files beside the bundle');
    assert.ok(existsSync(path.join(sweepDir, 'repro.json')), 'repro.json');

    const plots = (await readdir(path.join(sweepDir, 'plots'))).filter((file) => file.endsWith('.png'));
    assert.ok(plots.length > 0, 'no PNG plots');
    for (const plot of plots) {
      const bytes = await readFile(path.join(sweepDir, 'plots', plot));
      assert.ok(isPng(bytes), `${plot} is not a PNG`);
      // Width and height from the IHDR chunk; a real chart with text is tens of kilobytes.
      const [width, height] = [bytes.readUInt32BE(16), bytes.readUInt32BE(20)];
      assert.ok(width >= 400 && height >= 200, `${plot}: ${width}x${height}`);
      assert.ok((await stat(path.join(sweepDir, 'plots', plot))).size > 10_000, `${plot} is only ${bytes.length} bytes`);
    }
  });
});
