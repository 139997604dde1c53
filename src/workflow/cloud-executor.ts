import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { GetAccountSettingsCommand, LambdaClient } from '@aws-sdk/client-lambda';
import {
  DescribeExecutionCommand,
  DescribeMapRunCommand,
  ListMapRunsCommand,
  SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import { z } from 'zod';
import { DEFAULT_STACK } from '../env.js';
import { FloodsweepError, UsageError } from '../errors.js';
import { awsClientSettings } from '../store/aws-settings.js';
import { openStores, type StoreConfig, type Stores } from '../store/open.js';
import { sweepKeys } from '../store/ports.js';
import { OTHER_STEPS_CONCURRENCY } from '../workflow-steps.js';
import { executionNameFor, sweepIdOf } from './execution-names.js';
import { type CompareOutput, compareOutputSchema, type ExecutionInput, parsePayload } from './payloads.js';

/** The deployed stack a `--cloud` command talks to, from its CloudFormation outputs. */
export interface CloudTarget {
  stackName: string;
  region?: string;
  stateMachineArn: string;
  stores: Extract<StoreConfig, { kind: 'aws' }>;
  /** The memory of the train function (MB); stacks deployed before it was an output lack it. */
  trainMemoryMb?: number;
  /** The stack's cap on training tasks at once (older stacks lack the output). */
  maxConcurrency?: number;
  /** The train function's reserved concurrency, when the stack sets one. */
  trainReservedConcurrency?: number;
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
  const client = new CloudFormationClient({ region, ...awsClientSettings() });
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
    trainMemoryMb: outputs.TrainMemoryMb ? Number(outputs.TrainMemoryMb) : undefined,
    maxConcurrency: outputs.MaxConcurrency ? Number(outputs.MaxConcurrency) : undefined,
    trainReservedConcurrency: outputs.TrainReservedConcurrency ? Number(outputs.TrainReservedConcurrency) : undefined,
  };
}

/** The account's Lambda concurrency, as GetAccountSettings reports it. */
export interface AccountConcurrency {
  /** The quota "Concurrent executions" of the region. */
  total: number;
  /** What no function has reserved: the pool functions without reserved concurrency share. */
  unreserved: number;
}

/** How many training tasks a sweep may run at once in this account, or why it cannot run. */
export function concurrencyFor(
  requested: number,
  account: AccountConcurrency,
  target: Pick<CloudTarget, 'trainReservedConcurrency' | 'region'>,
): { maxConcurrency: number; notice?: string } {
  const where = target.region ? ` in ${target.region}` : '';
  const quota = `Lambda quota "Concurrent executions" (now ${account.total}${where}; Service Quotas, AWS Lambda)`;
  const reserved = target.trainReservedConcurrency;
  // With reserved concurrency Train has its own pool, and the other steps share what is left; without, they all share one.
  const allowed = reserved ?? account.unreserved - OTHER_STEPS_CONCURRENCY;
  if (allowed < 1 || account.unreserved < OTHER_STEPS_CONCURRENCY) {
    throw new FloodsweepError(
      'state',
      `--cloud: the account's unreserved Lambda concurrency is ${account.unreserved}${where}: ` +
        `Train needs at least 1 and the other steps ${OTHER_STEPS_CONCURRENCY} beside it; request a higher ${quota}`,
    );
  }
  if (requested <= allowed) return { maxConcurrency: requested };
  const pool =
    reserved === undefined
      ? `the account's unreserved Lambda concurrency is ${account.unreserved}${where}, ${OTHER_STEPS_CONCURRENCY} of it kept for the other steps`
      : `the train function's reserved concurrency is ${reserved}`;
  const raise = reserved === undefined ? `request a higher ${quota}` : 'deploy with a higher -c trainReservedConcurrency';
  return {
    maxConcurrency: allowed,
    notice: `maxConcurrency lowered from ${requested} to ${allowed}: ${pool}; to run more at once, ${raise}`,
  };
}

/** The account's Lambda concurrency in the target's region (lambda:GetAccountSettings). */
export async function accountConcurrency(target: CloudTarget): Promise<AccountConcurrency> {
  const client = new LambdaClient({ region: target.region, ...awsClientSettings() });
  try {
    const { AccountLimit } = await client.send(new GetAccountSettingsCommand({}));
    const total = AccountLimit?.ConcurrentExecutions;
    const unreserved = AccountLimit?.UnreservedConcurrentExecutions;
    if (total === undefined || unreserved === undefined) throw new Error('GetAccountSettings returned no concurrency limits');
    return { total, unreserved };
  } catch (error) {
    throw explainAwsError(error, target.stackName, target.region);
  } finally {
    client.destroy();
  }
}

const cloudOutputSchema = z.object({ compare: compareOutputSchema.optional() });

/** Child executions of the sweep's Distributed Map (one per task), from DescribeMapRun. */
export interface CloudProgress {
  tasksTotal: number;
  /** Children that ended (a task that failed and was recorded counts here too). */
  succeeded: number;
  failed: number;
  running: number;
}

export interface FollowOptions {
  onProgress?: (progress: CloudProgress) => void;
  /** Stops following (the execution keeps running in the cloud). */
  signal?: AbortSignal;
  /** First poll interval; it grows by half up to POLL_MAX_MS while nothing changes. */
  pollMs?: number;
}

const POLL_MAX_MS = 60_000;

/** Starts one execution of the sweep: a fresh execution name each time, the sweep id in the input. */
export async function startCloudExecution(input: ExecutionInput, target: CloudTarget): Promise<{ sweepId: string; executionArn: string }> {
  const sweepId = sweepIdOf(input);
  const sfn = new SFNClient({ region: target.region, ...awsClientSettings() });
  try {
    const { executionArn } = await sfn.send(
      new StartExecutionCommand({
        stateMachineArn: target.stateMachineArn,
        name: executionNameFor(sweepId),
        input: JSON.stringify({ ...input, sweepId }),
      }),
    );
    if (!executionArn) throw new FloodsweepError('service', 'Step Functions: StartExecution returned no execution ARN');
    return { sweepId, executionArn };
  } catch (error) {
    throw explainAwsError(error, target.stackName, target.region);
  } finally {
    sfn.destroy();
  }
}

/**
 * Follows an execution until it ends: progress from its Map Run's item counts (DescribeMapRun,
 * one read per poll whatever the sweep's size), polled with backoff. Returns the Compare output of
 * reproducibility runs; an execution that did not succeed is an error with its cause.
 */
export async function followCloudExecution(
  executionArn: string,
  target: CloudTarget,
  options: FollowOptions = {},
): Promise<{ compare?: CompareOutput }> {
  const sfn = new SFNClient({ region: target.region, ...awsClientSettings() });
  const firstPollMs = options.pollMs ?? 5000;
  let pollMs = firstPollMs;
  let last = '';
  try {
    for (;;) {
      const execution = await sfn.send(new DescribeExecutionCommand({ executionArn }));
      const { mapRuns } = await sfn.send(new ListMapRunsCommand({ executionArn }));
      if (mapRuns?.[0]?.mapRunArn) {
        const { itemCounts } = await sfn.send(new DescribeMapRunCommand({ mapRunArn: mapRuns[0].mapRunArn }));
        const progress: CloudProgress = {
          tasksTotal: itemCounts?.total ?? 0,
          succeeded: itemCounts?.succeeded ?? 0,
          failed: (itemCounts?.failed ?? 0) + (itemCounts?.timedOut ?? 0) + (itemCounts?.aborted ?? 0),
          running: itemCounts?.running ?? 0,
        };
        options.onProgress?.(progress);
        const now = JSON.stringify(progress);
        pollMs = now === last ? Math.min(POLL_MAX_MS, pollMs * 1.5) : firstPollMs;
        last = now;
      }
      if (execution.status !== 'RUNNING') {
        if (execution.status !== 'SUCCEEDED') {
          throw new FloodsweepError('service', `execution ${execution.status}: ${execution.error ?? ''} ${execution.cause ?? ''}`.trim());
        }
        return parsePayload(cloudOutputSchema, JSON.parse(execution.output ?? '{}'), 'execution output');
      }
      await sleep(pollMs, options.signal);
    }
  } finally {
    sfn.destroy();
  }
}

/**
 * The running execution of a sweep, if any: the one its sweep record names (Plan records it, for
 * executions a schedule started too), if Step Functions says it runs. No ListExecutions, which is
 * eventually consistent and knows executions by name only.
 */
export async function findRunningExecution(target: CloudTarget, sweepId: string): Promise<string | undefined> {
  const executionArn = (await openStores(target.stores).metrics.getSweep(sweepId))?.executionArn;
  if (!executionArn) return undefined;
  const sfn = new SFNClient({ region: target.region, ...awsClientSettings() });
  try {
    const { status } = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    return status === 'RUNNING' ? executionArn : undefined;
  } catch (error) {
    throw explainAwsError(error, target.stackName, target.region);
  } finally {
    sfn.destroy();
  }
}

export async function stopCloudExecution(target: CloudTarget, executionArn: string, cause: string): Promise<void> {
  const sfn = new SFNClient({ region: target.region, ...awsClientSettings() });
  try {
    await sfn.send(new StopExecutionCommand({ executionArn, error: 'StoppedByUser', cause }));
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
