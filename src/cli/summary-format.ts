import type { SweepSummary } from '../sweep/aggregate.js';

/** A fraction as a percentage with one decimal. */
export const percent = (x: number) => (x * 100).toFixed(1);
const estimateText = (e: { mean: number; sd: number } | null) => (e ? `${percent(e.mean)} ± ${percent(e.sd)}` : 'n/a');

export function formatSummary(summary: SweepSummary, reportLocation: string): string {
  const lines = [
    `sweep ${summary.sweepId}: ${summary.status} · ${summary.succeededTasks}/${summary.taskCount} tasks succeeded${summary.prunedTasks > 0 ? `, ${summary.prunedTasks} pruned` : ''} · backend ${summary.backends.join(', ') || 'n/a'} · flood level chosen by ${summary.selection.metric} at the ${summary.selection.epoch} epoch`,
  ];
  for (const group of summary.groups) {
    lines.push(
      '',
      `${group.setting}: chosen flood level ${group.chosenLevel ?? 'n/a'}${group.chosenFromPruned ? ' (every level had a pruned seed)' : ''}`,
    );
    lines.push(
      `  ${'b'.padEnd(8)}${'seeds'.padStart(5)}  ${'clean test acc %'.padStart(16)}  ${'noisy test acc %'.padStart(16)}  ${'clean diff to b=0 (95% CI)'.padStart(28)}`,
    );
    for (const level of group.levels) {
      const diff = level.diffToBaseline?.testCleanAcc;
      const diffText = diff
        ? `${diff.mean >= 0 ? '+' : ''}${percent(diff.mean)}${diff.ci95 ? ` [${percent(diff.ci95[0])}, ${percent(diff.ci95[1])}]` : ''}`
        : '';
      const mark = level.floodLevel === group.chosenLevel ? '*' : '';
      lines.push(
        `  ${`${level.floodLevel}${mark}`.padEnd(8)}${String(level.seeds.length).padStart(5)}  ${estimateText(level.testCleanAcc).padStart(16)}  ${estimateText(level.testAcc).padStart(16)}  ${diffText.padStart(28)}${level.pruned.length > 0 ? `  ${level.pruned.length} pruned` : ''}`,
      );
    }
  }
  if (summary.failedTasks.length > 0) {
    lines.push('', 'failed tasks:');
    for (const t of summary.failedTasks) lines.push(`  ${t.taskId} b=${t.floodLevel} seed ${t.seed} ${t.status}: ${t.error}`);
  }
  lines.push('', `report: ${reportLocation}`);
  return `${lines.join('\n')}\n`;
}
