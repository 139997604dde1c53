import type { Command } from 'commander';
import { UsageError } from '../../errors.js';
import type { Stores } from '../../store/open.js';
import type { SweepRecord, TaskRecord } from '../../sweep/records.js';
import { invocation } from '../invocation.js';
import { describeProgress, Eta, ProgressLine } from '../progress.js';
import { addStoreOptions, cloudFlags, cloudTarget, openFor, type StoreOptions, storeConfig, storeFlags } from '../stores.js';

/** `sweep status <sweepId>`: a sweep's status, its tasks' progress and its cost. */
export function registerStatus(sweep: Command): void {
  addStoreOptions(sweep.command('status <sweepId>').description("a sweep's status and the progress of its tasks"))
    .option('--json', 'print JSON')
    .option('--follow', 'with --cloud: follow the running execution until it ends, then print the status')
    .addHelpText('after', '\nExamples:\n  $ floodsweep sweep status <sweepId>\n  $ floodsweep sweep status <sweepId> --cloud --follow')
    .action(async (sweepId: string, options: StoreOptions & { json?: boolean; follow?: boolean }) => {
      if (options.follow && !options.cloud) throw new UsageError('--follow: only with --cloud; a local run shows its progress itself');
      if (options.follow) await followCloudSweep(sweepId, options);
      const stores = await openFor(options);
      const { observeSweep } = await import('../../store/lease.js');
      const stored = await stores.metrics.getSweep(sweepId);
      if (!stored) throw new UsageError(`sweep ${JSON.stringify(sweepId)} not found in ${stores.artifacts.locate('')}`);
      const record = await observeSweep(stores.metrics, stored);
      // Damage stays with what is damaged: a task record that cannot be read, or is missing, is shown as such.
      const { isDamaged } = await import('../../sweep/records.js');
      const { readOrDamaged } = await import('../../store/encoding.js');
      const scanned = await stores.metrics.scanTasks(sweepId);
      const tasks = scanned.filter((task): task is TaskRecord => !isDamaged(task));
      const damaged = scanned.filter(isDamaged);
      // Before Aggregate ran, a record may not be written yet (a run stopped in Plan); after it, a missing one was lost.
      const aggregated = record.status === 'SUCCEEDED' || record.status === 'PARTIAL';
      const missing = aggregated ? Math.max(0, record.taskCount - scanned.length) : 0;
      const lease = record.status === 'RUNNING' ? await stores.metrics.getLease(sweepId) : undefined;
      const incurred = await readOrDamaged({ sweepId }, () => incurredFor(stores, record, tasks));
      if (damaged.length > 0 || missing > 0 || isDamaged(incurred)) process.exitCode = 1;
      if (options.json) {
        const cost = isDamaged(incurred)
          ? { damage: incurred.damage }
          : { incurred: incurred.breakdown, unmeasuredTasks: incurred.unmeasuredTasks, estimate: record.costEstimate ?? null };
        const tasksJson = tasks.map(({ config: _c, ...t }) => t);
        process.stdout.write(
          `${JSON.stringify({ sweep: record, lease, tasks: tasksJson, damagedTasks: damaged, missingTasks: missing, cost })}\n`,
        );
        return;
      }
      const counts = new Map<string, number>();
      for (const t of tasks) counts.set(t.status, (counts.get(t.status) ?? 0) + 1);
      const succeeded = counts.get('SUCCEEDED') ?? 0;
      const resume = `${invocation()} sweep run --resume ${sweepId} ${options.cloud ? cloudFlags(options) : storeFlags(await storeConfig(options, 'reading'))}`;
      // What happened and what to do, under the status line.
      const whatNow: Partial<Record<typeof record.status, string>> = {
        RUNNING: lease && `running on host ${lease.host}, pid ${lease.pid}, since ${lease.startedAt}`,
        INTERRUPTED: `INTERRUPTED at ${succeeded}/${record.taskCount} tasks (${record.error}); resume with: ${resume}`,
        FAILED: `FAILED: ${record.error ?? 'no task succeeded'}; resume with: ${resume}`,
      };
      process.stdout.write(`${record.sweepId}: ${record.status}; ${[...counts].map(([s, n]) => `${n} ${s.toLowerCase()}`).join(', ')}\n`);
      if (whatNow[record.status]) process.stdout.write(`  ${whatNow[record.status]}\n`);
      if (damaged.length > 0 || missing > 0) {
        const what = [damaged.length > 0 && `${damaged.length} damaged`, missing > 0 && `${missing} missing`].filter(Boolean).join(', ');
        process.stdout.write(`  task records: ${what} of ${record.taskCount}; a resume plans them again: ${resume}\n`);
      }
      const { describeComparison } = await import('../../cost/model.js');
      process.stdout.write(
        `cost: ${isDamaged(incurred) ? `unknown: ${incurred.damage}` : describeComparison({ incurred, estimate: record.costEstimate })}\n`,
      );
      for (const t of tasks) {
        const line = `  ${t.taskId}  b=${t.config.floodLevel} seed ${t.config.seed}  ${t.status.padEnd(9)} epoch ${t.epochsDone}/${t.epochsTotal}`;
        process.stdout.write(`${line}${t.error ? `  ${t.error}` : ''}\n`);
      }
      for (const t of damaged) process.stdout.write(`  ${t.taskId}  DAMAGED  ${t.damage}\n`);
    });
}

/** The incurred cost of a sweep as its records tell, with the figures its report drew. */
async function incurredFor(stores: Stores, record: SweepRecord, tasks: TaskRecord[]) {
  const { sweepKeys } = await import('../../store/ports.js');
  const { incurredCost } = await import('../../cost/model.js');
  const { readStoredSpec } = await import('../../run.js');
  const spec = await readStoredSpec(stores, record.sweepId);
  const plots = await stores.artifacts.list(sweepKeys(record.sweepId).plot('x').slice(0, -1));
  return incurredCost(record, tasks, {
    figures: plots.filter((key) => key.endsWith('.png')).length,
    concurrency: spec.execution.maxConcurrency,
  });
}

/** Follows a sweep's running cloud execution with a progress line until it ends. */
async function followCloudSweep(sweepId: string, options: StoreOptions): Promise<void> {
  const { findRunningExecution } = await import('../../workflow/cloud-executor.js');
  const { followExecution } = await import('../../run.js');
  const target = await cloudTarget(options);
  const executionArn = await findRunningExecution(target, sweepId);
  if (!executionArn) return;
  const progress = new ProgressLine();
  const eta = new Eta();
  process.stderr.write(`following ${executionArn}\n`);
  try {
    await followExecution(sweepId, executionArn, target, {
      onEvent: (event) => {
        if (event.type === 'progress')
          progress.update(
            describeProgress(event.progress, eta.estimate(event.progress.epochsDone, event.progress.epochsTotal), progress.width),
          );
      },
    });
  } finally {
    progress.finish();
  }
}
