/**
 * Every workflow step on the AWS adapters (dynalite + s3rver), each call checked against the IAM
 * policy the synthesized template gives the function the step deploys as (test/iam.ts): a call
 * its role does not allow fails here as it fails in AWS, naming the step, the action and the
 * resource, and a read of a missing key without s3:ListBucket answers 403 as S3 does.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { App, type CfnElement, type Stack } from 'aws-cdk-lib';
import { buildApp } from '../infra/app.js';
import { FUNCTION_IDS, type FunctionId } from '../infra/bundling.js';
import { initBackend } from '../src/flooding/backend.js';
import { storeBaseline } from '../src/run.js';
import { SweepLeasedError } from '../src/store/lease.js';
import type { Stores } from '../src/store/open.js';
import { sweepKeys } from '../src/store/ports.js';
import { leaseExpired } from '../src/sweep/records.js';
import { validateSpec } from '../src/sweep/spec.js';
import { aggregate } from '../src/workflow/aggregate.js';
import { compare, loadSnapshot } from '../src/workflow/compare.js';
import { plan } from '../src/workflow/plan.js';
import { recordFailure } from '../src/workflow/record-failure.js';
import { trainStep } from '../src/workflow/train.js';
import { EXECUTION_TIMEOUT_SECONDS } from '../src/workflow-steps.js';
import { type AwsStores, type Emulators, startEmulators } from './emulators.js';
import { type Deployment, enforceIam, functionPrincipal, type Principal, resolveIntrinsics } from './iam.js';

process.env.CDK_DISABLE_CLI_TELEMETRY = 'true';

// biome-ignore lint/suspicious/noExplicitAny: synthesized CloudFormation JSON
type Json = any;

/** Four tasks of two epochs each, trained one epoch per call: a first call finds no checkpoint, a second resumes from one. */
const SPEC = validateSpec({
  name: 'iam',
  dataset: { name: 'sinusoid2d', nTrain: 32, nVal: 16, nTest: 32 },
  model: { kind: 'mlp', depth: 1, width: 8 },
  training: { epochs: 2, batchSize: 16, evalEvery: 1 },
  floodLevels: [0, 0.3],
  seeds: [0, 1],
});

const outdir = mkdtempSync(path.join(tmpdir(), 'floodsweep-iam-cdk-'));
after(() => rmSync(outdir, { recursive: true, force: true }));

/** The zip variant's template (the container's roles are the same; its image needs Docker to build). */
function synthesize(): { template: Json; logicalId: (construct: { node: { defaultChild?: unknown } }) => string; stack: Stack } {
  const app = new App({ outdir, context: { 'aws:cdk:bundling-stacks': [], trainRuntime: 'zip' } });
  const stack = buildApp(app);
  const template = app.synth().getStackByName(stack.stackName).template as Json;
  const logicalId = (construct: { node: { defaultChild?: unknown } }) =>
    (stack as Stack).resolve(((construct.node.defaultChild ?? construct) as CfnElement).logicalId) as string;
  return { template, logicalId, stack };
}

let emulators: Emulators;
let aws: AwsStores;
let stores: Stores;
let principals: Record<FunctionId, Principal>;
let iam: ReturnType<typeof enforceIam>;
let current: Principal | undefined;

/** Runs one step as the function it deploys as. */
async function as<T>(fn: FunctionId, step: () => Promise<T>): Promise<T> {
  current = principals[fn];
  try {
    return await step();
  } finally {
    current = undefined;
  }
}

before(async () => {
  await initBackend('wasm');
  const { template, logicalId, stack } = synthesize();
  const floodsweep = stack as unknown as import('../infra/stack.js').FloodsweepStack;
  emulators = await startEmulators();
  aws = await emulators.newAwsStores();
  stores = { metrics: aws.metrics, artifacts: aws.artifacts };
  const bucketLogicalId = logicalId(floodsweep.bucket);
  const deployment: Deployment = { bucketLogicalId, bucket: aws.bucket, tableLogicalId: logicalId(floodsweep.table), table: aws.tableName };
  principals = Object.fromEntries(
    FUNCTION_IDS.map((fn) => [fn, functionPrincipal(template, logicalId(floodsweep.functions[fn]), `step ${fn}`, deployment)]),
  ) as Record<FunctionId, Principal>;
  const bucketPolicy = Object.values(template.Resources as Record<string, Json>).find(
    (resource) => resource.Type === 'AWS::S3::BucketPolicy' && resource.Properties.Bucket.Ref === bucketLogicalId,
  );
  iam = enforceIam(aws.clients, {
    current: () => current,
    bucketPolicy: resolveIntrinsics(bucketPolicy.Properties.PolicyDocument, template, deployment),
  });
});

after(async () => {
  await aws?.cleanup();
  await emulators?.close();
});

/** Trains a task to its end, one epoch per call, as the Distributed Map's Train -> Choice loop does. */
async function trainToEnd(sweepId: string, taskId: string): Promise<void> {
  for (let call = 0; call < 10; call++) {
    if ((await as('train', () => trainStep(stores, { sweepId, taskId }, { maxEpochs: 1 }))).done) return;
  }
  assert.fail(`task ${taskId} did not finish`);
}

/** Plan as the plan function runs it: the execution takes the sweep's lease, the Train loop's history is checked. */
const CLOUD_PLAN = { executionLeaseSeconds: EXECUTION_TIMEOUT_SECONDS, epochsPerCall: 1 };
const executionArn = (name: string) => `arn:aws:states:us-east-1:123456789012:execution:Sweeps:${name}`;

describe('IAM of every workflow step, on the AWS adapters', () => {
  test('a sweep planned, trained, resumed with a restarted task, aggregated, compared and failed makes only calls its roles allow', async () => {
    const sweepId = 'iam-sweep';
    const first = 'iam-sweep-00000001';
    await as('plan', () =>
      plan(stores, { input: { spec: SPEC, sweepId }, executionName: first, executionArn: executionArn(first) }, CLOUD_PLAN),
    );
    assert.equal((await stores.metrics.getSweep(sweepId))?.executionArn, executionArn(first), 'the sweep record names its execution');
    // A second execution of the sweep is refused in its Plan while the first holds the lease.
    await assert.rejects(
      as('plan', () =>
        plan(
          stores,
          { input: { spec: SPEC, sweepId }, executionName: 'iam-sweep-again', executionArn: executionArn('iam-sweep-again') },
          CLOUD_PLAN,
        ),
      ),
      (error: Error) => error instanceof SweepLeasedError && error.message.includes(`is running in execution ${executionArn(first)}`),
    );
    const taskIds = (await stores.metrics.listTasks(sweepId)).map((task) => task.taskId);
    assert.equal(taskIds.length, 4);
    for (const taskId of taskIds) await trainToEnd(sweepId, taskId);
    // A task's failure recorded after its retries (a no-op on a finished task, but the call is made).
    await as('recordFailure', () => recordFailure(stores, { sweepId, taskId: taskIds[0], error: { Error: 'Lambda.Unknown', Cause: 'x' } }));
    // A resume that retrains one task from scratch: Plan reads the stored spec, deletes the task's checkpoint, result and rows.
    await as('plan', () =>
      plan(
        stores,
        { input: { spec: SPEC, sweepId, restart: { taskIds: [taskIds[1]] } }, executionName: first, executionArn: executionArn(first) },
        CLOUD_PLAN,
      ),
    );
    await trainToEnd(sweepId, taskIds[1]);
    const aggregated = await as('aggregate', () => aggregate(stores, { sweepId, executionName: first }));
    assert.equal(aggregated.status, 'SUCCEEDED');
    assert.ok(leaseExpired((await stores.metrics.getLease(sweepId))!), "Aggregate released the execution's lease");

    // Reproducibility runs: a baseline file uploaded by `repro run` (as the CLI stores it), and an earlier sweep.
    const snapshot = await loadSnapshot(stores, sweepId);
    const baselineKey = await storeBaseline(stores, 'iam-repro', snapshot);
    const byFile = await as('compare', () => compare(stores, { sweepId, repro: { name: 'iam-repro', baseline: { key: baselineKey } } }));
    assert.equal(byFile.verdict, 'REPRODUCED');
    const bySweep = await as('compare', () => compare(stores, { sweepId, repro: { name: 'iam-repro', baseline: { sweepId } } }));
    assert.equal(bySweep.verdict, 'REPRODUCED');
    // A step after Plan failed: MarkSweepFailed.
    await as('recordFailure', () =>
      recordFailure(stores, { sweepId, executionName: first, error: { Error: 'States.Timeout', Cause: 'x' } }),
    );
    assert.equal((await stores.metrics.getSweep(sweepId))?.status, 'FAILED');
    // Plan failed after it wrote the sweep record (here: a scheduled execution, named by a UUID): MarkPlanFailed.
    const scheduled = '0f8fad5b-d9cb-469f-a165-70867728950e';
    const { sweepId: scheduledSweep } = await as('plan', () =>
      plan(stores, { input: { spec: SPEC }, executionName: scheduled, executionArn: executionArn(scheduled) }, CLOUD_PLAN),
    );
    const failed = await as('recordFailure', () =>
      recordFailure(stores, { input: { spec: SPEC }, executionName: scheduled, error: { Error: 'StoreError', Cause: 'x' } }),
    );
    assert.equal(failed.sweepId, scheduledSweep);
    assert.equal((await stores.metrics.getSweep(scheduledSweep))?.status, 'FAILED');
    assert.ok(leaseExpired((await stores.metrics.getLease(scheduledSweep))!), 'MarkPlanFailed released the lease');

    assert.deepEqual(iam.denials, [], 'calls the template does not allow');
    // The checks ran: every step made calls, and S3 and DynamoDB calls were both checked.
    const steps = new Set(iam.calls.map((call) => call.principal));
    assert.deepEqual([...steps].sort(), FUNCTION_IDS.map((fn) => `step ${fn}`).sort());
    for (const action of [
      's3:GetObject',
      's3:PutObject',
      's3:PutObjectTagging',
      's3:DeleteObject',
      'dynamodb:Query',
      'dynamodb:BatchWriteItem',
    ]) {
      assert.ok(
        iam.calls.some((call) => call.action === action),
        action,
      );
    }
  });

  test('a call outside the role is denied with the step, the action and the resource; a missing key reads as 403 without s3:ListBucket', async () => {
    const key = sweepKeys('iam-denied').summary;
    await assert.rejects(
      as('recordFailure', () => stores.artifacts.get(key)),
      (error: Error) =>
        error.message.includes(
          `step recordFailure is not authorized to perform s3:GetObject on resource arn:aws:s3:::${aws.bucket}/${key}`,
        ),
    );
    // Train may read task keys and list the bucket: its first checkpoint read finds nothing (404), not an error.
    const checkpoint = sweepKeys('iam-denied').taskCheckpoint('t1');
    assert.equal(await as('train', () => stores.artifacts.get(checkpoint)), undefined);
    // Without s3:ListBucket the same read of a missing key is 403 Forbidden: the adapter must not read it as absent.
    const denied = principals.train.policies.map(({ name, policy }) => ({
      name,
      policy: { ...policy, Statement: policy.Statement.filter((statement: Json) => statement.Action !== 's3:ListBucket') },
    }));
    current = { ...principals.train, name: 'train without s3:ListBucket', policies: denied };
    try {
      await assert.rejects(stores.artifacts.get(checkpoint), /S3 GetObject .* failed: AccessDenied/);
      await assert.rejects(stores.artifacts.exists(checkpoint), /S3 HeadObject .* failed: Forbidden/);
    } finally {
      current = undefined;
    }
    iam.denials.length = 0;
  });
});
