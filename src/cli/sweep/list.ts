import type { Command } from 'commander';
import { addStoreOptions, openFor, type StoreOptions } from '../stores.js';
import { percent } from '../summary-format.js';

/** `sweep list`: every sweep, newest first, with its best result. */
export function registerList(sweep: Command): void {
  addStoreOptions(sweep.command('list').description('list sweeps, newest first'))
    .addHelpText('after', '\nExample:\n  $ floodsweep sweep list --results ./floodsweep-results')
    .action(async (options: StoreOptions) => {
      const stores = await openFor(options);
      const { readSummary } = await import('../../store/summary.js');
      const [{ bestResult, formatLevel }, { isLossMetric }] = await Promise.all([
        import('../../sweep/aggregate.js'),
        import('../../sweep/selection.js'),
      ]);
      const { observeSweep } = await import('../../store/lease.js');
      const sweeps = await stores.metrics.listSweeps();
      if (sweeps.length === 0) process.stdout.write('no sweeps yet\n');
      for (const stored of sweeps) {
        const s = await observeSweep(stores.metrics, stored);
        const summary = s.status === 'RUNNING' || s.status === 'INTERRUPTED' ? undefined : await readSummary(stores, s.sweepId);
        const best = summary ? bestResult(summary) : null;
        const value = best && (isLossMetric(best.metric) ? best.value.toFixed(4) : `${percent(best.value)}%`);
        const bestText = best ? `  best b=${formatLevel(best.floodLevel)} ${best.metric} ${value}` : '';
        process.stdout.write(
          `${s.sweepId}  ${s.status.padEnd(11)} ${String(s.taskCount).padStart(5)} tasks  ${s.createdAt}  ${s.name}${bestText}${best && summary!.groups.length > 1 ? ` (${best.setting})` : ''}\n`,
        );
      }
    });
}
