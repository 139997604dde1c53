import type { Command } from 'commander';
import { DEFAULT_STACK } from '../../env.js';
import { UsageError } from '../../errors.js';
import { invocation } from '../invocation.js';
import { cloudFlags, cloudTarget, type StoreOptions } from '../stores.js';

/** `sweep stop <sweepId> --cloud`: stops a sweep's running execution on the deployed stack. */
export function registerStop(sweep: Command): void {
  sweep
    .command('stop <sweepId>')
    .description("stop a sweep's running execution on the deployed stack (a local run stops with Ctrl-C)")
    .requiredOption('--cloud', 'the deployed stack (required)')
    .option('--stack <name>', `the deployed stack's name (default ${DEFAULT_STACK})`)
    .option('--region <region>', 'AWS region (default from the AWS environment)')
    .addHelpText(
      'after',
      '\nExample:\n  $ floodsweep sweep stop <sweepId> --cloud\n\nResume it later with: floodsweep sweep run --resume <sweepId> --cloud',
    )
    .action(async (sweepId: string, options: StoreOptions) => {
      const { findRunningExecution, stopCloudExecution } = await import('../../workflow/cloud-executor.js');
      const { executionNameOf } = await import('../../workflow/execution-names.js');
      const { executionLeaseToken } = await import('../../store/lease.js');
      const { openStores } = await import('../../store/open.js');
      const target = await cloudTarget(options);
      const executionArn = await findRunningExecution(target, sweepId);
      if (!executionArn) throw new UsageError(`sweep ${JSON.stringify(sweepId)} has no running execution on ${target.stateMachineArn}`);
      const cause = 'stopped by the user (floodsweep sweep stop)';
      await stopCloudExecution(target, executionArn, cause);
      // A stopped execution runs no Catch: the sweep record would stay RUNNING, and its lease held until it expires.
      const { metrics } = openStores(target.stores);
      await metrics.updateSweep(sweepId, ['RUNNING'], { status: 'FAILED', error: cause });
      await metrics.releaseLease(sweepId, executionLeaseToken(executionNameOf(executionArn)));
      process.stdout.write(`stopped ${executionArn}; resume with: ${invocation()} sweep run --resume ${sweepId} ${cloudFlags(options)}\n`);
    });
}
