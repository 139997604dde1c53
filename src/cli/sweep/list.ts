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
      const { readOrDamaged } = await import('../../store/encoding.js');
      const { isDamaged } = await import('../../sweep/records.js');
      const sweeps = await stores.metrics.listSweeps();
      if (sweeps.length === 0) process.stdout.write('no sweeps yet\n');
      let damaged = 0;
      for (const stored of sweeps) {
        // A damaged record or summary is one line of the listing; the other sweeps are listed as ever.
        const line = isDamaged(stored)
          ? stored
          : await readOrDamaged({ sweepId: stored.sweepId }, async () => {
              const s = await observeSweep(stores.metrics, stored);
              const summary = s.status === 'RUNNING' || s.status === 'INTERRUPTED' ? undefined : await readSummary(stores, s.sweepId, s);
              const best = summary ? bestResult(summary) : null;
              const value = best && (isLossMetric(best.metric) ? best.value.toFixed(4) : `${percent(best.value)}%`);
              const bestText = best ? `  best b=${formatLevel(best.floodLevel)} ${best.metric} ${value}` : '';
              return `${s.sweepId}  ${s.status.padEnd(11)} ${String(s.taskCount).padStart(5)} tasks  ${s.createdAt}  ${s.name}${bestText}${best && summary!.groups.length > 1 ? ` (${best.setting})` : ''}`;
            });
        if (typeof line !== 'string') damaged += 1;
        process.stdout.write(`${typeof line === 'string' ? line : `${line.sweepId}  ${'DAMAGED'.padEnd(11)} ${line.damage}`}\n`);
      }
      if (damaged > 0) {
        process.stderr.write(`floodsweep: ${damaged} of ${sweeps.length} sweeps are damaged (listed as DAMAGED)\n`);
        process.exitCode = 1;
      }
    });
}
