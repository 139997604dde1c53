import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { DescribeExecutionCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { z } from 'zod';
import { DEFAULT_STACK } from '../env.js';
import { FloodsweepError, UsageError } from '../errors.js';
import { openStores, type StoreConfig, type Stores } from '../store/open.js';
import { sweepKeys } from '../store/ports.js';
import { type CompareOutput, compareOutputSchema, type PlanInput, parsePayload } from './payloads.js';
import { newSweepId } from './plan.js';

/** The deployed stack a `--cloud` command talks to, from its CloudFormation outputs. */
export interface CloudTarget {
  stackName: string;
  region?: string;
  stateMachineArn: string;
  stores: Extract<StoreConfig, { kind: 'aws' }>;
}

/** Turns the SDK's failures into one line saying what to do. */
function explainAwsError(error: unknown, stackName: string, region: string | undefined): Error {
  const e = error as Error & { name?: string };
  const where = region ? ` in ${region}` : '';
  if (e.name === 'CredentialsProviderError' || /credential/i.test(e.message)) {
    return new UsageError(
      '--cloud: no AWS credentials found; set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (or run `aws configure`)',
    );
  }
  if (/region/i.test(e.message) && /missing/i.test(e.message)) {
    return new UsageError('--region: no AWS region configured; pass --region or set AWS_REGION');
  }
  if (/does not exist/i.test(e.message)) {
    return new UsageError(`--stack: stack "${stackName}" not found${where}; deploy it with \`npx cdk deploy\` or name yours with --stack`);
  }
  return new FloodsweepError('service', `AWS: ${e.message}`, { cause: error });
}

export async function resolveCloudTarget(stackName = DEFAULT_STACK, region?: string): Promise<CloudTarget> {
  const client = new CloudFormationClient({ region });
  let outputs: Record<string, string>;
  try {
    const { Stacks } = await client.send(new DescribeStacksCommand({ StackName: stackName }));
    outputs = Object.fromEntries((Stacks?.[0]?.Outputs ?? []).map((o) => [o.OutputKey ?? '', o.OutputValue ?? '']));
  } catch (error) {
    throw explainAwsError(error, stackName, region);
  } finally {
    client.destroy();
  }
  const required = ['StateMachineArn', 'BucketName', 'TableName'];
  const missing = required.filter((key) => !outputs[key]);
  if (missing.length > 0)
    throw new UsageError(`--stack: stack "${stackName}" has no output ${missing.join(', ')}; is it a floodsweep stack?`);
  return {
    stackName,
    region,
    stateMachineArn: outputs.StateMachineArn,
    stores: { kind: 'aws', table: outputs.TableName, bucket: outputs.BucketName, region },
  };
}

const cloudOutputSchema = z.object({ compare: compareOutputSchema.optional() });

/** Task counts of a sweep running in the cloud, read from its task records. */
export interface CloudProgress {
  tasksTotal: number;
  succeeded: number;
  failed: number;
  running: number;
  epochsDone: number;
  epochsTotal: number;
}

export interface CloudRunOptions {
  onStarted?: (sweepId: string, stateMachineArn: string) => void;
  onProgress?: (progress: CloudProgress) => void;
  /** Stops following (the execution keeps running in the cloud). */
  signal?: AbortSignal;
  pollMs?: number;
}

/**
 * Starts the sweep on the deployed state machine and follows its tasks in the table until the
 * execution ends. Returns the Compare output of reproducibility runs.
 */
export async function runWorkflowInCloud(
  input: PlanInput & { spec: { name: string } },
  target: CloudTarget,
  options: CloudRunOptions = {},
): Promise<{ sweepId: string; compare?: CompareOutput }> {
  const sweepId = input.sweepId ?? newSweepId(input.spec.name);
  const sfn = new SFNClient({ region: target.region });
  const stores = openStores(target.stores);
  try {
    let executionArn: string;
    try {
      ({ executionArn = '' } = await sfn.send(
        new StartExecutionCommand({ stateMachineArn: target.stateMachineArn, name: sweepId, input: JSON.stringify({ ...input, sweepId }) }),
      ));
    } catch (error) {
      throw explainAwsError(error, target.stackName, target.region);
    }
    options.onStarted?.(sweepId, target.stateMachineArn);
    for (;;) {
      const execution = await sfn.send(new DescribeExecutionCommand({ executionArn }));
      const tasks = await stores.metrics.listTasks(sweepId);
      const count = (status: string) => tasks.filter((t) => t.status === status).length;
      options.onProgress?.({
        tasksTotal: tasks.length,
        succeeded: count('SUCCEEDED'),
        failed: count('FAILED'),
        running: count('RUNNING'),
        epochsDone: tasks.reduce((n, t) => n + t.epochsDone, 0),
        epochsTotal: tasks.reduce((n, t) => n + t.epochsTotal, 0),
      });
      if (execution.status !== 'RUNNING') {
        if (execution.status !== 'SUCCEEDED') {
          throw new FloodsweepError('service', `execution ${execution.status}: ${execution.error ?? ''} ${execution.cause ?? ''}`.trim());
        }
        const output = parsePayload(cloudOutputSchema, JSON.parse(execution.output ?? '{}'), 'execution output');
        return { sweepId, compare: output.compare };
      }
      await sleep(options.pollMs ?? 5000, options.signal);
    }
  } finally {
    sfn.destroy();
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((done, fail) => {
    if (signal?.aborted) return fail(signal.reason);
    const timer = setTimeout(done, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        fail(signal.reason);
      },
      { once: true },
    );
  });
}

/** Copies a sweep's spec, summary, plots and report (not its checkpoints) into `outDir`, mirroring the keys. */
export async function downloadResults(stores: Stores, sweepId: string, outDir: string): Promise<string> {
  const keys = sweepKeys(sweepId);
  const wanted = [keys.spec, keys.summary, keys.report, keys.repro, ...(await stores.artifacts.list(keys.plot('x').slice(0, -1)))];
  for (const key of wanted) {
    const body = await stores.artifacts.get(key);
    if (!body) continue;
    const file = join(resolve(outDir), key);
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, body);
  }
  return join(resolve(outDir), keys.report);
}
