/** How tasks are compared on the selection metric (sweep/aggregate.ts chooses levels with it, sweep/pruning.ts rejects tasks). */
import type { SplitMetrics } from '../flooding/metrics.js';
import type { SelectionMetric } from './spec.js';

export function isLossMetric(metric: SelectionMetric): boolean {
  return metric === 'val.loss' || metric === 'val.cleanLoss';
}

export function selectionValue(row: { val: SplitMetrics }, metric: SelectionMetric): number {
  return row.val[metric.slice('val.'.length) as keyof SplitMetrics];
}

/**
 * Strictly better beyond float noise, so that equal scores keep the earlier candidate. A diverged
 * run's NaN never wins and never blocks a finite score.
 */
export function isBetter(candidate: number, incumbent: number, metric: SelectionMetric): boolean {
  if (!Number.isFinite(candidate)) return false;
  if (!Number.isFinite(incumbent)) return true;
  const margin = 1e-12 * Math.max(1, Math.abs(incumbent));
  return isLossMetric(metric) ? candidate < incumbent - margin : candidate > incumbent + margin;
}
