/**
 * The Lambda artifacts work on the runtime they deploy to: each handler is bundled with exactly the
 * options the stack deploys (infra/bundling.ts, zip variant), copied with its runtime files into a
 * directory with no node_modules anywhere above it, and run there by a child process on the
 * deployed Node major (the npm registry's `node` package, so module resolution cannot fall back on
 * the project's node_modules and the test's own Node version does not matter): plan a tiny sweep,
 * train every task on the wasm backend until done (resuming from a checkpoint), record a failure,
 * aggregate into a report, compare the run with itself as a reproducibility baseline.
 * Stores: once the local files, once DynamoDB and S3 (dynalite and s3rver, in process).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { buildTrainingCheck, CHECK_FILE } from '../infra/build-image.js';
import {
  BUNDLE_FILE,
  copyRuntimeFiles,
  esbuildOptions,
  FUNCTION_IDS,
  type FunctionId,
  LAMBDA_NODE_MAJOR,
  RUNTIME_FILES,
  runtimeFileEnvironment,
} from '../infra/bundling.js';
import { ENV_NAMES } from '../src/env-names.js';
import { openStores, type Stores } from '../src/store/open.js';
import { credentials, type Emulators, region, startEmulators } from './emulators.js';
import { tfjsNodeInstalled } from './tfjs-node-installed.js';

const run = promisify(execFile);
const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** The `node` binary of the Lambda runtime's major, from the npm registry's `node` package. */
async function lambdaNode(): Promise<string> {
  const { stdout } = await run('npx', ['-y', '-p', `node@${LAMBDA_NODE_MAJOR}`, 'node', '-p', 'process.execPath']);
  return stdout.trim();
}

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

/** Where a sweep run by the handlers keeps its records and artifacts, and how the test reads them back. */
interface StoreTarget {
  env: Record<string, string>;
  stores: Stores;
}

describe(`bundled Lambda handlers, outside the project, on Node ${LAMBDA_NODE_MAJOR}`, { timeout: 600_000 }, () => {
  let buildDir: string;
  let runDir: string;
  let node: string;
  let emulators: Emulators;

  before(async () => {
    buildDir = await mkdtemp(path.join(tmpdir(), 'floodsweep-build-'));
    runDir = await mkdtemp(path.join(tmpdir(), 'floodsweep-lambda-'));
    // Build each function as the stack does, then copy only the artifact (bundle, esbuild's
    // copied files, the runtime files) to where no node_modules can be found.
    for (const fn of FUNCTION_IDS) {
      const outdir = path.join(buildDir, fn);
      await build(esbuildOptions(fn, { projectRoot: PROJECT_ROOT, outdir }));
      await copyRuntimeFiles(fn, PROJECT_ROOT, outdir);
      await cp(outdir, path.join(runDir, fn), { recursive: true });
    }
    await writeFile(path.join(runDir, 'run.mjs'), RUNNER);
    node = await lambdaNode();
    emulators = await startEmulators();
  });

  after(async () => {
    await emulators.close();
    await rm(buildDir, { recursive: true, force: true });
    await rm(runDir, { recursive: true, force: true });
  });

  function localTarget(): StoreTarget {
    const resultsDir = path.join(runDir, 'results');
    return { env: { [ENV_NAMES.resultsDir]: resultsDir }, stores: openStores({ kind: 'local', rootDir: resultsDir }) };
  }

  /** A table created from the stack's description and a bucket, on dynalite and s3rver. */
  async function awsTarget(): Promise<StoreTarget> {
    const { tableName: table, bucket, metrics, artifacts } = await emulators.newAwsStores();
    const { endpoints } = emulators;
    return {
      env: {
        [ENV_NAMES.table]: table,
        [ENV_NAMES.bucket]: bucket,
        AWS_REGION: region,
        AWS_ACCESS_KEY_ID: credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
        AWS_ENDPOINT_URL_DYNAMODB: endpoints.dynamodbEndpointUrl,
        AWS_ENDPOINT_URL_S3: endpoints.s3EndpointUrl,
      },
      stores: { metrics, artifacts },
    };
  }

  async function invoke<T>(fn: FunctionId, event: unknown, target: StoreTarget, extraEnv: Record<string, string> = {}): Promise<T> {
    const bundleDir = path.join(runDir, fn);
    // A clean environment: no NODE_OPTIONS (tsx), no test-runner variables, no AWS settings but the target's.
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      FLOODSWEEP_BACKEND: 'wasm',
      ...runtimeFileEnvironment(fn, bundleDir),
      ...target.env,
      ...extraEnv,
    };
    try {
      const { stdout } = await run(node, ['run.mjs', path.join(bundleDir, BUNDLE_FILE), JSON.stringify(event)], {
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

  it(`runs them on Node ${LAMBDA_NODE_MAJOR}, the deployed functions' runtime`, async () => {
    const { stdout } = await run(node, ['-p', 'process.versions.node']);
    assert.equal(stdout.trim().split('.')[0], String(LAMBDA_NODE_MAJOR));
  });

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

  /** Plans, trains (resuming from a checkpoint), records a failure, aggregates and compares a tiny sweep. */
  async function runTinySweep(target: StoreTarget): Promise<void> {
    const { metrics, artifacts } = target.stores;
    const spec = await tinySpec();
    const sweepId = 'bundle-test';
    const planned = await invoke<{ sweepId: string; manifestKey: string; taskCount: number; maxConcurrency: number }>(
      'plan',
      { input: { spec, sweepId }, executionName: `${sweepId}-0001` },
      target,
    );
    assert.equal(planned.sweepId, sweepId);
    assert.ok(planned.taskCount >= 2, `task count ${planned.taskCount}`);

    const manifest = JSON.parse(String(await artifacts.get(planned.manifestKey))) as Array<{ sweepId: string; taskId: string }>;
    assert.equal(manifest.length, planned.taskCount);

    for (const item of manifest) {
      // One epoch per call: the first call checkpoints and returns done=false, the next resumes.
      const calls: Array<{ done: boolean; epoch: number }> = [];
      for (let call = 0; call < 10; call++) {
        const output = await invoke<{ done: boolean; epoch: number }>('train', item, target, { FLOODSWEEP_EPOCHS_PER_CALL: '1' });
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
    const failed = await invoke<{ failed: boolean }>(
      'recordFailure',
      { ...manifest[0], error: { Error: 'Test', Cause: 'not really' } },
      target,
    );
    assert.equal(failed.failed, true);

    const aggregated = await invoke<{ status: string; summaryKey: string; reportKey: string }>('aggregate', { sweepId }, target);
    assert.equal(aggregated.status, 'SUCCEEDED');

    // A reproducibility run compared with itself: same spec, same backend, same numbers.
    const compared = await invoke<{ verdict: string; message: string }>(
      'compare',
      { sweepId, repro: { name: 'bundle-test', baseline: { sweepId } } },
      target,
    );
    assert.equal(compared.verdict, 'REPRODUCED', compared.message);

    const tasks = await metrics.listTasks(sweepId);
    assert.equal(tasks.length, planned.taskCount);
    for (const task of tasks) {
      assert.equal(task.status, 'SUCCEEDED', `${task.taskId}: ${task.status} ${task.error ?? ''}`);
      assert.equal(task.backend, 'wasm');
      assert.equal(task.epochsDone, 2);
    }

    const summary = JSON.parse(String(await artifacts.get(aggregated.summaryKey))) as { status: string };
    assert.equal(summary.status, 'SUCCEEDED');
    const report = String(await artifacts.get(aggregated.reportKey));
    assert.match(report, /<html/i);
    assert.ok(report.includes('vegaEmbed('), 'the interactive charts: vega inlined from the files beside the bundle');
    assert.ok(await artifacts.exists(`sweeps/${sweepId}/repro.json`), 'repro.json');

    const plots = (await artifacts.list(`sweeps/${sweepId}/plots/`)).filter((key) => key.endsWith('.png'));
    assert.ok(plots.length > 0, 'no PNG plots');
    for (const plot of plots) {
      const bytes = (await artifacts.get(plot))!;
      assert.ok(isPng(bytes), `${plot} is not a PNG`);
      // Width and height from the IHDR chunk; a real chart with text is tens of kilobytes.
      const [width, height] = [bytes.readUInt32BE(16), bytes.readUInt32BE(20)];
      assert.ok(width >= 400 && height >= 200, `${plot}: ${width}x${height}`);
      assert.ok(bytes.length > 10_000, `${plot} is only ${bytes.length} bytes`);
    }
  }

  it('runs a tiny sweep with the local file stores', async () => {
    await runTinySweep(localTarget());
  });

  it('runs a tiny sweep with the DynamoDB and S3 stores (dynalite, s3rver)', async () => {
    await runTinySweep(await awsTarget());
  });

  it("runs the training image's build check: one epoch trains on wasm, and on tfjs-node where it is installed, else fails", async () => {
    // As in the image: tfjs stays external and resolves from node_modules (here the project's).
    const cacheDir = path.join(PROJECT_ROOT, 'node_modules', '.cache');
    await mkdir(cacheDir, { recursive: true });
    const checkDir = await mkdtemp(path.join(cacheDir, 'floodsweep-check-'));
    try {
      await buildTrainingCheck(PROJECT_ROOT, checkDir);
      const check = (backend: string) =>
        run(node, [CHECK_FILE, backend], { cwd: checkDir, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
      const passed = (backend: string) =>
        new RegExp(`^training check passed: ${backend} \\(tfjs 4\\.22\\.0\\), train loss \\d\\.\\d+ -> \\d\\.\\d+ after one epoch$`, 'm');
      assert.match((await check('wasm')).stdout, passed('wasm'));
      if (tfjsNodeInstalled) {
        assert.match((await check('tfjs-node')).stdout, passed('tfjs-node'));
      } else {
        await assert.rejects(check('tfjs-node'), (error: { code?: number; stderr?: string }) => {
          assert.notEqual(error.code, 0);
          assert.match(error.stderr ?? '', /tfjs-node was requested but @tensorflow\/tfjs-node is not installed/);
          return true;
        });
      }
    } finally {
      await rm(checkDir, { recursive: true, force: true });
    }
  });
});
