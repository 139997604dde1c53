/** How estimates and costs print; loaded by the commands that print them (it loads the cost model). */

import { formatDuration } from '../cli/progress.js';
import { UsageError } from '../errors.js';
import type { SweepCostEstimate } from './estimate.js';
import { type CostBreakdown, formatUsd, type StoredCostEstimate } from './model.js';

const quantity = (value: number) => (Number.isInteger(value) ? value.toLocaleString('en-US') : value.toPrecision(4));

export function costTable(breakdown: CostBreakdown): string[] {
  const rows = breakdown.lines.map((l) => [
    l.service,
    `${quantity(l.quantity)} ${l.unit}`,
    `$${l.unitPriceUsd} per ${l.per === 1 ? l.unit.split(' ')[0] : l.per.toLocaleString('en-US')}`,
    formatUsd(l.costUsd),
  ]);
  const header = ['service', 'quantity', 'list price', 'cost'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const format = (r: string[]) => `  ${r.map((cell, i) => (i === 3 ? cell.padStart(widths[i]) : cell.padEnd(widths[i]))).join('  ')}`;
  return [format(header), ...rows.map(format), format(['total', '', '', formatUsd(breakdown.totalUsd)])];
}

export function formatEstimate(estimate: SweepCostEstimate): string {
  const b = estimate.breakdown;
  return `${[
    `${estimate.taskCount} tasks on a ${estimate.trainMemoryMb} MB ${estimate.runtime} train function in ${estimate.region}; seconds per epoch ${estimate.timing}, scaled to the function's vCPU share`,
    ...costTable(b),
    `wall time at the spec's concurrency: about ${formatDuration(b.wallSeconds * 1000)}; ${b.dominant} dominates (${((100 * b.lines.find((l) => l.service === b.dominant)!.costUsd) / b.totalUsd).toFixed(0)}%)`,
    `AWS list prices read on ${estimate.pricesReadOn} (no free tier); an estimate, not a quote`,
  ].join('\n')}\n`;
}

/** `estimated $0.018 (list prices of us-east-1, read on ...)`. */
export function estimateLine(stored: Pick<StoredCostEstimate, 'totalUsd' | 'region' | 'pricesReadOn' | 'timing'>): string {
  return `estimated cloud cost ${formatUsd(stored.totalUsd)} (AWS list prices of ${stored.region} read on ${stored.pricesReadOn}; seconds per epoch ${stored.timing})`;
}

/** Refuses a cloud sweep whose estimate is above the limit, before anything starts. */
export function checkMaxCost(estimate: SweepCostEstimate, maxCostUsd: number | undefined, source: string): void {
  if (maxCostUsd === undefined || estimate.breakdown.totalUsd <= maxCostUsd) return;
  throw new UsageError(
    `${source}: the sweep is estimated at ${formatUsd(estimate.breakdown.totalUsd)}, above the limit of ${formatUsd(maxCostUsd)} (see floodsweep sweep cost); nothing was started`,
  );
}
