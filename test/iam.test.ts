/**
 * Every workflow step on the AWS adapters (dynalite + s3rver), each call checked against the IAM
 * policy the synthesized template gives the function the step deploys as (test/iam.ts): a call
 * its role does not allow fails here as it fails in AWS, naming the step, the action and the
 * resource, and a read of a missing key without s3:ListBucket answers 403 as S3 does.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { App, type CfnElement, type Stack } from 'aws-cdk-lib';
import { buildApp } from '../infra/app.js';
import { FUNCTION_IDS, type FunctionId } from '../infra/bundling.js';
import { initBackend } from '../src/flooding/backend.js';
import { planTasks } from '../src/planned-tasks.js';
import { resumeSweep, storeBaseline } from '../src/run.js';
import { executionLeaseToken, refuseIfLeased, SweepLeasedError } from '../src/store/lease.js';
import { openStores, type Stores } from '../src/store/open.js';
import { sweepKeys } from '../src/store/ports.js';
import { leaseExpired, SWEEP_STATUSES } from '../src/sweep/records.js';
import { validateSpec } from '../src/sweep/spec.js';
import { loadSweepList, loadSweepView } from '../src/ui/data.js';
import { aggregate } from '../src/workflow/aggregate.js';
import { type CloudTarget, findRunningExecution, resolveCloudTarget, stopCloudExecution } from '../src/workflow/cloud-executor.js';
import { compare, loadSnapshot } from '../src/workflow/compare.js';
import { executionNameOf } from '../src/workflow/execution-names.js';
import { plan } from '../src/workflow/plan.js';
import { recordFailure } from '../src/workflow/record-failure.js';
import { uploadTaskFiles } from '../src/workflow/task-files.js';
import { trainStep } from '../src/workflow/train.js';
import { EXECUTION_TIMEOUT_SECONDS } from '../src/workflow-steps.js';
import { type AwsStores, credentials, type Emulators, startEmulators } from './emulators.js';
import {
  ACCOUNT,
  checkingEndpoint,
  type Denial,
  type Deployment,
  enforceIam,
  functionPrincipal,
  isAllowed,
  managedPolicyPrincipal,
  type PolicyDocument,
  type Principal,
  REGION,
  resolveIntrinsics,
} from './iam.js';

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

const CSV_FILE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'hostile', 'csv-good.csv');

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
let deployment: Deployment;
let stateMachineName: string;
let cliUser: Principal;
let artifactBucketPolicy: PolicyDocument;

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
  deployment = {
    stackName: stack.stackName,
    bucketLogicalId,
    bucket: aws.bucket,
    tableLogicalId: logicalId(floodsweep.table),
    table: aws.tableName,
  };
  stateMachineName = logicalId(floodsweep.stateMachine);
  cliUser = managedPolicyPrincipal(template, logicalId(floodsweep.cliUserPolicy), 'CLI user', deployment);
  principals = Object.fromEntries(
    FUNCTION_IDS.map((fn) => [fn, functionPrincipal(template, logicalId(floodsweep.functions[fn]), `step ${fn}`, deployment)]),
  ) as Record<FunctionId, Principal>;
  const bucketPolicy = Object.values(template.Resources as Record<string, Json>).find(
    (resource) => resource.Type === 'AWS::S3::BucketPolicy' && resource.Properties.Bucket.Ref === bucketLogicalId,
  );
  artifactBucketPolicy = resolveIntrinsics(bucketPolicy.Properties.PolicyDocument, template, deployment);
  iam = enforceIam(aws.clients, { current: () => current, bucketPolicy: artifactBucketPolicy });
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
const CLOUD_PLAN = { takesExecutionLease: true, epochsPerCall: 1 };
const executionArn = (name: string) => `arn:aws:states:us-east-1:123456789012:execution:Sweeps:${name}`;

describe('IAM of every workflow step, on the AWS adapters', () => {
  test('a sweep planned, trained, resumed with a restarted task, aggregated, compared and failed makes only calls its roles allow', async () => {
    const sweepId = 'iam-sweep';
    const first = 'iam-sweep-00000001';
    await as('plan', () =>
      plan(stores, { input: { spec: SPEC, sweepId }, executionName: first, executionArn: executionArn(first) }, CLOUD_PLAN),
    );
    assert.equal((await stores.metrics.getSweep(sweepId))?.executionArn, executionArn(first), 'the sweep record names its execution');
    const held = await stores.metrics.getLease(sweepId);
    assert.equal(held?.host, executionArn(first));
    assert.ok(
      Math.abs(Date.parse(held.expiresAt) - Date.now() - EXECUTION_TIMEOUT_SECONDS * 1000) < 60_000,
      'held as long as the execution may run',
    );
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

/**
 * Step Functions, CloudFormation and Lambda as the CLI calls them, on one local endpoint (there is
 * no emulator for them here): every request is authorized against the CLI user policy as its IAM
 * action on its resource, then answered with what a deployed stack would say.
 */
async function controlPlane(principal: Principal, outputs: Record<string, string>) {
  const denials: Denial[] = [];
  const calls: Denial[] = [];
  const execution = (name: string) => `arn:aws:states:${REGION}:${ACCOUNT}:execution:${stateMachineName}:${name}`;
  const mapRun = `arn:aws:states:${REGION}:${ACCOUNT}:mapRun:${stateMachineName}/TrainAll:0c3d`;
  // An execution started here ends at once (its work is the workflow tests'); `running()` makes one run.
  let status = 'SUCCEEDED';
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const target = String(req.headers['x-amz-target'] ?? '');
    let action: string;
    let resource: string;
    let answer: () => void;
    const json = (value: unknown) => () => {
      res.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' });
      res.end(JSON.stringify(value));
    };
    if (target.startsWith('AWSStepFunctions.')) {
      const operation = target.slice('AWSStepFunctions.'.length);
      const input = JSON.parse(body) as Record<string, string>;
      action = `states:${operation}`;
      resource = input.stateMachineArn ?? input.executionArn ?? input.mapRunArn;
      const now = Date.now() / 1000;
      answer = {
        StartExecution: json({ executionArn: execution(input.name ?? ''), startDate: now }),
        DescribeExecution: json({
          executionArn: input.executionArn,
          stateMachineArn: outputs.StateMachineArn,
          status,
          startDate: now,
          output: '{}',
        }),
        ListMapRuns: json({
          mapRuns: [{ mapRunArn: mapRun, executionArn: input.executionArn, stateMachineArn: outputs.StateMachineArn, startDate: now }],
        }),
        DescribeMapRun: json({
          mapRunArn: mapRun,
          executionArn: execution('x'),
          status: 'SUCCEEDED',
          startDate: now,
          maxConcurrency: 4,
          toleratedFailurePercentage: 100,
          toleratedFailureCount: 0,
          itemCounts: { pending: 0, running: 0, succeeded: 4, failed: 0, timedOut: 0, aborted: 0, total: 4, resultsWritten: 4 },
          executionCounts: { pending: 0, running: 0, succeeded: 4, failed: 0, timedOut: 0, aborted: 0, total: 4, resultsWritten: 4 },
        }),
        StopExecution: json({ stopDate: now }),
      }[operation]!;
      if (operation === 'StopExecution') status = 'ABORTED';
      if (operation === 'StartExecution') status = 'SUCCEEDED';
    } else if (req.url?.startsWith('/2016-08-19/account-settings')) {
      action = 'lambda:GetAccountSettings';
      resource = '*';
      answer = () => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ AccountLimit: { ConcurrentExecutions: 1000, UnreservedConcurrentExecutions: 1000 }, AccountUsage: {} }));
      };
    } else {
      const form = new URLSearchParams(body);
      action = `cloudformation:${form.get('Action')}`;
      resource = `arn:aws:cloudformation:${REGION}:${ACCOUNT}:stack/${form.get('StackName')}/5a4fb4a0-0000-11f0-8000-0a1b2c3d4e5f`;
      const members = Object.entries(outputs)
        .map(([key, value]) => `<member><OutputKey>${key}</OutputKey><OutputValue>${value}</OutputValue></member>`)
        .join('');
      answer = () => {
        res.writeHead(200, { 'content-type': 'text/xml' });
        res.end(
          `<DescribeStacksResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><DescribeStacksResult><Stacks><member><StackName>${form.get('StackName')}</StackName><StackStatus>CREATE_COMPLETE</StackStatus><CreationTime>2026-12-01T00:00:00Z</CreationTime><Outputs>${members}</Outputs></member></Stacks></DescribeStacksResult></DescribeStacksResponse>`,
        );
      };
    }
    const entry = { principal: principal.name, action, resource };
    calls.push(entry);
    if (await isAllowed(principal, { action, resource, context: { 'aws:SecureTransport': 'true' } })) return answer();
    denials.push(entry);
    res.writeHead(400, { 'content-type': 'application/x-amz-json-1.0' });
    res.end(
      JSON.stringify({
        __type: 'AccessDeniedException',
        message: `${principal.name} is not authorized to perform ${action} on resource ${resource}`,
      }),
    );
  });
  await new Promise<void>((listening) => server.listen(0, '127.0.0.1', listening));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    denials,
    calls,
    execution,
    running: () => {
      status = 'RUNNING';
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise((closed) => server.close(closed));
    },
  };
}

describe("IAM of the CLI's cloud calls, against the CLI user policy the stack ships", () => {
  test('resolve the stack, resume a sweep in the cloud, follow it, download it, list it, show it, store a baseline, stop it: every call allowed', async () => {
    // A sweep the workflow ran (the first describe's), as a user finds it.
    const sweepId = 'iam-cli-sweep';
    const first = 'iam-cli-sweep-00000001';
    await as('plan', () =>
      plan(stores, { input: { spec: SPEC, sweepId }, executionName: first, executionArn: executionArn(first) }, CLOUD_PLAN),
    );
    for (const { taskId } of await stores.metrics.listTasks(sweepId)) await trainToEnd(sweepId, taskId);
    await as('aggregate', () => aggregate(stores, { sweepId, executionName: first }));

    const dynamodb = await checkingEndpoint('dynamodb', emulators.endpoints.dynamodbEndpointUrl, cliUser);
    const s3 = await checkingEndpoint('s3', emulators.endpoints.s3EndpointUrl, cliUser, { bucketPolicy: artifactBucketPolicy });
    const outputs = {
      StateMachineArn: `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:${stateMachineName}`,
      BucketName: aws.bucket,
      TableName: aws.tableName,
      TrainMemoryMb: '1769',
      MaxConcurrency: '100',
    };
    const cloud = await controlPlane(cliUser, outputs);
    const saved = { ...process.env };
    Object.assign(process.env, {
      AWS_ENDPOINT_URL_SFN: cloud.url,
      AWS_ENDPOINT_URL_CLOUDFORMATION: cloud.url,
      AWS_ENDPOINT_URL_LAMBDA: cloud.url,
      AWS_ACCESS_KEY_ID: credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    });
    const out = mkdtempSync(path.join(tmpdir(), 'floodsweep-iam-cli-'));
    try {
      const resolved = await resolveCloudTarget(deployment.stackName, REGION);
      assert.equal(resolved.stateMachineArn, outputs.StateMachineArn);
      // The stores of the deployed stack, reached through endpoints that check the CLI user policy.
      const target: CloudTarget = {
        ...resolved,
        stores: { ...resolved.stores, dynamodbEndpointUrl: dynamodb.url, s3EndpointUrl: s3.url },
      };
      const user = openStores(target.stores);
      const notices: string[] = [];
      const resumed = await resumeSweep(sweepId, {
        cloud: { target, downloadDir: out },
        onEvent: (event) => event.type === 'notice' && notices.push(event.message),
      });
      assert.equal(resumed.summary.sweepId, sweepId);
      assert.deepEqual(notices, [], 'an account with 1,000 unreserved runs 4 tasks as asked');
      // sweep list / status / results, ui --cloud.
      assert.ok((await loadSweepList(user)).length > 0);
      assert.equal((await loadSweepView(user, sweepId)).sweep.sweepId, sweepId);
      await refuseIfLeased(user.metrics, sweepId);
      // repro run --cloud stores its baseline file.
      await storeBaseline(user, 'iam-cli', await loadSnapshot(user, sweepId));
      // sweep run --cloud uploads a sweep's data files by content hash (twice: the second finds it there).
      const csvSpec = validateSpec({ ...SPEC, name: 'iam-csv', dataset: { name: 'csv', path: CSV_FILE, labelColumn: 'y' } });
      assert.equal(await uploadTaskFiles(user.artifacts, planTasks(csvSpec)), 1);
      assert.equal(await uploadTaskFiles(user.artifacts, planTasks(csvSpec)), 0);
      // sweep status --follow and sweep stop find the execution the sweep record names.
      await user.metrics.updateSweep(sweepId, [...SWEEP_STATUSES], { status: 'RUNNING', executionArn: cloud.execution(first) });
      cloud.running();
      const running = await findRunningExecution(target, sweepId);
      assert.equal(running, cloud.execution(first));
      await stopCloudExecution(target, running!, 'stopped by the user');
      await user.metrics.updateSweep(sweepId, ['RUNNING'], { status: 'FAILED', error: 'stopped by the user' });
      await user.metrics.releaseLease(sweepId, executionLeaseToken(executionNameOf(running!)));

      const denials = [...dynamodb.denials, ...s3.denials, ...cloud.denials];
      assert.deepEqual(denials, [], 'calls the CLI user policy does not allow');
      const actions = new Set([...dynamodb.calls, ...s3.calls, ...cloud.calls].map((call) => call.action));
      for (const action of [
        'cloudformation:DescribeStacks',
        'lambda:GetAccountSettings',
        'states:StartExecution',
        'states:DescribeExecution',
        'states:ListMapRuns',
        'states:DescribeMapRun',
        'states:StopExecution',
        'dynamodb:GetItem',
        'dynamodb:Query',
        'dynamodb:UpdateItem',
        's3:GetObject',
        's3:ListBucket',
        's3:PutObject',
      ]) {
        assert.ok(actions.has(action), `the CLI made no ${action} call`);
      }
      // The checks bite: the policy lets the CLI read sweeps, not write their training state.
      await assert.rejects(
        user.artifacts.put(sweepKeys(sweepId).taskCheckpoint('t'), 'x'),
        /AccessDenied: CLI user is not authorized to perform s3:PutObject/,
      );
      dynamodb.denials.length = 0;
      s3.denials.length = 0;
    } finally {
      process.env = saved;
      rmSync(out, { recursive: true, force: true });
      await Promise.all([dynamodb.close(), s3.close(), cloud.close()]);
    }
  });
});
