/** How the commands that run sweeps (sweep run, repro run, demo) start them and show their progress. */
import { DEFAULT_RESULTS_DIR } from '../env.js';
import { EXIT_INTERRUPTED, EXIT_TERMINATED, UsageError } from '../errors.js';
import type { ResumeFindings, RunSweepOptions, SweepRunResult } from '../run.js';
import { invocation } from './invocation.js';
import { describeProgress, Eta, formatDuration, ProgressLine } from './progress.js';
import { checkAwsNames, checkOutputDir, cloudFlags, cloudTarget, type StoreOptions, storeConfig, storeFlags } from './stores.js';

/** Where a run goes, as its flags say: checked (paths, store names, the stack) before anything is trained or written. */
export async function runTarget(flags: StoreOptions & { out?: string }): Promise<Pick<RunSweepOptions, 'cloud' | 'stores'>> {
  checkOutFlag(flags);
  if (flags.cloud) return { cloud: { target: await cloudTarget(flags), downloadDir: flags.out ?? DEFAULT_RESULTS_DIR } };
  return { stores: await storeConfig(flags, 'writing') };
}

/**
 * The checks of runTarget that need no AWS call: a cloud run's cost limit is judged after them
 * and before the deployed stack is looked up, so an estimate above the limit is refused offline.
 */
export function checkCloudRunFlags(flags: StoreOptions & { out?: string }): void {
  checkOutFlag(flags);
  checkAwsNames(flags);
}

function checkOutFlag(flags: StoreOptions & { out?: string }): void {
  if (flags.out !== undefined && !flags.cloud)
    throw new UsageError('--out: only with --cloud (where the results are copied); the local results directory is --results');
  if (flags.out !== undefined) checkOutputDir('--out', flags.out);
}

/**
 * Runs a sweep (or a reproducibility run) at `target` (from runTarget), with a progress line on stderr.
 * Ctrl-C stops a local run and says how to resume it; for a cloud run it stops only the following.
 */
export async function runWithProgress<T extends SweepRunResult>(
  flags: StoreOptions,
  { cloud, stores }: Pick<RunSweepOptions, 'cloud' | 'stores'>,
  settings: Pick<
    RunSweepOptions,
    | 'backend'
    | 'workers'
    | 'oversubscribe'
    | 'ignoreMemoryLimit'
    | 'epochsPerCall'
    | 'maxTasks'
    | 'restartTasks'
    | 'restartFailed'
    | 'costEstimate'
    | 'plannedTasks'
  >,
  start: (options: RunSweepOptions) => Promise<T>,
): Promise<T> {
  const progress = new ProgressLine();
  const eta = new Eta();
  const started = Date.now();
  const controller = new AbortController();
  let sweepId: string | undefined;
  const exitAfterInterrupt = (signal: NodeJS.Signals) => {
    progress.finish();
    const id = sweepId ?? '<sweepId>';
    const hint = cloud
      ? `stopped following; the execution keeps running in the cloud. Follow it again: ${invocation()} sweep status ${id} ${cloudFlags(flags)} --follow; stop it: ${invocation()} sweep stop ${id} ${cloudFlags(flags)}`
      : `interrupted; finish it with: ${invocation()} sweep run --resume ${id} ${storeFlags(stores!)}`;
    process.stderr.write(`${hint}\n`);
    process.exit(signal === 'SIGTERM' ? EXIT_TERMINATED : EXIT_INTERRUPTED);
  };
  // The run marks its sweep INTERRUPTED and releases its lease once aborted; a second signal does not wait.
  const interrupt = (signal: NodeJS.Signals) => {
    if (controller.signal.aborted) exitAfterInterrupt(signal);
    controller.abort(signal);
    setTimeout(() => exitAfterInterrupt(signal), INTERRUPT_GRACE_MS).unref();
  };
  process.on('SIGINT', interrupt);
  process.on('SIGTERM', interrupt);
  const { readEnvironment } = await import('../env.js');
  try {
    const result = await start({
      ...settings,
      leaseSeconds: readEnvironment().leaseSeconds,
      // TensorFlow's load-time lines from the workers only with --debug.
      debug: process.argv.includes('--debug'),
      stores,
      cloud,
      signal: controller.signal,
      onEvent: (event) => {
        if (event.type === 'started') {
          sweepId = event.sweepId;
          const workers = event.workers ? ` with ${event.workers} worker${event.workers === 1 ? '' : 's'}` : '';
          process.stderr.write(
            `sweep ${event.sweepId}: ${event.taskCount ? `${event.taskCount} tasks ` : ''}on ${event.where}${workers}\n`,
          );
          if (event.resumed) process.stderr.write(`${describeResume(event.resumed, event.taskCount)}\n`);
        } else if (event.type === 'progress') {
          progress.update(
            describeProgress(event.progress, eta.estimate(event.progress.epochsDone, event.progress.epochsTotal), progress.width),
          );
        } else if (event.type === 'notice') {
          process.stderr.write(`note: ${event.message}\n`);
        } else {
          process.stderr.write(`alert: ${event.subject} (sent to the alert topic when run in the cloud)\n`);
        }
      },
    });
    progress.finish(`sweep ${result.sweepId}: ${result.summary.status} in ${formatDuration(Date.now() - started)}`);
    return result;
  } catch (error) {
    const signal = controller.signal.reason as NodeJS.Signals | undefined;
    if (controller.signal.aborted && signal) exitAfterInterrupt(signal);
    throw error;
  } finally {
    process.off('SIGINT', interrupt);
    process.off('SIGTERM', interrupt);
  }
}

/** How long an interrupted run may take to record that it stopped before the command exits anyway. */
const INTERRUPT_GRACE_MS = 10_000;

/** "resuming: 3 of 8 tasks done; 2 continue from checkpoints (1a2b3c at epoch 50, 4d5e6f at epoch 20); 3 start from the beginning". */
export function describeResume({ done, fromCheckpoint, fromScratch }: ResumeFindings, taskCount: number, listed = 5): string {
  const parts = [`resuming: ${done} of ${taskCount} tasks done`];
  if (fromCheckpoint.length > 0) {
    const some = fromCheckpoint.slice(0, listed).map((t) => `${t.taskId.slice(0, 6)} at epoch ${t.epoch}`);
    const more = fromCheckpoint.length > listed ? `, and ${fromCheckpoint.length - listed} more` : '';
    parts.push(`${fromCheckpoint.length} continue from checkpoints (${some.join(', ')}${more})`);
  }
  if (fromScratch > 0) parts.push(`${fromScratch} start from the beginning`);
  return parts.join('; ');
}
