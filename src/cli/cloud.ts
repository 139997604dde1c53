import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { DescribeExecutionCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { openStores, type StoreConfig, type Stores } from '../store/open.js';
import { sweepKeys } from '../store/ports.js';
import type { SweepSummary } from '../sweep/aggregate.js';
import type { CompareOutput, ReproBlock } from '../sweep/repro.js';
import type { SweepSpec } from '../sweep/spec.js';
import { newSweepId } from '../sweep/steps.js';
import { UsageError } from './errors.js';
import { Eta, formatDuration, ProgressLine } from './progress.js';

/** The deployed stack a `--cloud` command talks to, from its CloudFormation outputs. */
export interface CloudTarget {
  stackName: string;
  region?: string;
  stateMachineArn: string;
  stores: Extract<StoreConfig, { kind: 'aws' }>;
}

export const DEFAULT_STACK = 'Floodsweep';

/** Turns the SDK's failures into one line saying what to do. */
function explainAwsError(error: unknown, stackName: string, region: string | undefined): Error {
  const e = error as Error & { name?: string };
  const where = region ? ` in ${region}` : '';
  if (e.name === 'CredentialsProviderError' || /credential/i.test(e.message)) {
    return new UsageError('--cloud: no AWS credentials found; set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (or run `aws configure`)');
  }
  if (/region/i.test(e.message) && /missing/i.test(e.message)) {
    return new UsageError('--region: no AWS region configured; pass --region or set AWS_REGION');
  }
  if (/does not exist/i.test(e.message)) {
    return new UsageError(`--stack: stack "${stackName}" not found${where}; deploy it with \`npx cdk deploy\` or name yours with --stack`);
  }
  return new Error(`AWS: ${e.message}`);
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
  if (missing.length > 0) throw new UsageError(`--stack: stack "${stackName}" has no output ${missing.join(', ')}; is it a floodsweep stack?`);
  return {
    stackName,
    region,
    stateMachineArn: outputs.StateMachineArn,
    stores: { kind: 'aws', table: outputs.TableName, bucket: outputs.BucketName, region },
  };
}

/**
 * Starts the sweep on the deployed state machine, follows its tasks in the table with the same
 * progress line as local runs, and downloads summary, plots and report to `outDir` when it ends.
 */
export async function runSweepInCloud(
  input: { spec: SweepSpec; sweepId?: string; maxTasks?: number; repro?: ReproBlock },
  target: CloudTarget,
  outDir: string,
  pollMs = 5000,
): Promise<{ summary: SweepSummary; reportLocation: string; compare?: CompareOutput }> {
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
    process.stderr.write(`sweep ${sweepId}: started on ${target.stateMachineArn}\n`);
    const progress = new ProgressLine();
    const eta = new Eta();
    const started = Date.now();
    for (;;) {
      const execution = await sfn.send(new DescribeExecutionCommand({ executionArn }));
      const tasks = await stores.metrics.listTasks(sweepId);
      const count = (status: string) => tasks.filter((t) => t.status === status).length;
      const epochs = tasks.reduce((n, t) => n + t.epochsDone, 0);
      const total = tasks.reduce((n, t) => n + t.epochsTotal, 0);
      progress.update(
        `tasks ${count('SUCCEEDED') + count('FAILED')}/${tasks.length} done (${count('FAILED')} failed), ${count('RUNNING')} running · ${eta.estimate(epochs, total)}`,
      );
      if (execution.status !== 'RUNNING') {
        progress.finish(`sweep ${sweepId}: execution ${execution.status} in ${formatDuration(Date.now() - started)}`);
        if (execution.status !== 'SUCCEEDED') {
          throw new Error(`execution ${execution.status}: ${execution.error ?? ''} ${execution.cause ?? ''}`.trim());
        }
        const output = JSON.parse(execution.output ?? '{}') as { compare?: CompareOutput };
        const local = await downloadResults(stores, sweepId, outDir);
        return { summary: local.summary, reportLocation: local.report, compare: output.compare };
      }
      await new Promise((r) => setTimeout(r, pollMs));
    }
  } finally {
    sfn.destroy();
  }
}

/** Copies a sweep's summary, plots and report (not its checkpoints) into `outDir`, mirroring the keys. */
async function downloadResults(stores: Stores, sweepId: string, outDir: string): Promise<{ summary: SweepSummary; report: string }> {
  const keys = sweepKeys(sweepId);
  const wanted = [keys.spec, keys.summary, keys.report, keys.repro, ...(await stores.artifacts.list(keys.plot('x').slice(0, -1)))];
  for (const key of wanted) {
    const body = await stores.artifacts.get(key);
    if (!body) continue;
    const file = join(resolve(outDir), key);
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, body);
  }
  const summary = JSON.parse((await stores.artifacts.get(keys.summary))!.toString('utf8')) as SweepSummary;
  return { summary, report: join(resolve(outDir), keys.report) };
}
