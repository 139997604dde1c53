/**
 * Pruning: stopping a task early when, at a checked epoch (a rung), its selection metric is worse
 * than what the group's reference tasks reached at the same epoch. Pure: the rules, the rungs
 * and the validation; src/workflow/pruning.ts reads the values from the MetricsStore.
 *
 * The cohort a task is judged against is fixed when the sweep is planned: the tasks of its group
 * at the group's lowest flood level (b = 0, the baseline of the paired statistics, when the sweep
 * has it), over all seeds. Reference tasks are never pruned, so the values a task is judged on are
 * the same whatever order the tasks run in, and so is every verdict.
 */
import type { TaskConfig } from '../flooding/config.js';
import type { EpochMetrics } from '../flooding/metrics.js';
import { isBetter, isLossMetric, selectionValue } from './selection.js';
import type { PruningRule } from './spec.js';

export type { PruningRule };

/** The rule's verdict at one rung, and what it was made on: stored so that a replay decides the same. */
export interface PruningDecision {
  /** The rung. */
  epoch: number;
  /** The task's metric at the rung. */
  value: number;
  /** The reference value the task had to reach (the median, or the reductionFactor-th best, minus the margin). */
  threshold: number;
  /** The references' values at the rung, by task id (references without a row at the rung, e.g. failed, are absent). */
  references: Record<string, number>;
  /** The epoch the task stopped at: the rung, or later if the references reached the rung after the task did. */
  stoppedAt: number;
}

/** What a task record carries when its sweep prunes. */
export interface TaskPruning {
  rule: PruningRule;
  /** The tasks it is judged against; empty for a reference task, which is never pruned. */
  references: string[];
  /** Every rung up to this epoch was checked and passed. */
  passedThrough: number;
  /** Present once the rule rejected the task. */
  decision?: PruningDecision;
}

/** The rungs of a task: evaluated epochs after the warm-up and before the last epoch (stopping there saves nothing). */
export function rungEpochs(rule: PruningRule, training: Pick<TaskConfig['training'], 'epochs' | 'evalEvery'>): number[] {
  const { epochs, evalEvery } = training;
  const checked = (epoch: number) => epoch > rule.warmupEpochs && epoch < epochs;
  if (rule.rule === 'median') {
    const rungs: number[] = [];
    for (let epoch = evalEvery; epoch < epochs; epoch += evalEvery) if (checked(epoch)) rungs.push(epoch);
    return rungs;
  }
  // Geometric rungs, each moved up to the next evaluated epoch.
  const rungs = new Set<number>();
  for (let rung = rule.minEpochs; rung < epochs; rung *= rule.reductionFactor) {
    const evaluated = Math.ceil(rung / evalEvery) * evalEvery;
    if (checked(evaluated)) rungs.add(evaluated);
  }
  return [...rungs].sort((a, b) => a - b);
}

/**
 * The threshold a task must reach at a rung, from the references' finite values; undefined when
 * there is none (no reference value: the task passes). median: the references' median; asha: the
 * ceil((n + 1) / reductionFactor)-th best of the n references, so that the task is in the top
 * 1/reductionFactor of itself and the references. Less the margin, in the metric's direction.
 */
export function pruningThreshold(rule: PruningRule, referenceValues: number[]): number | undefined {
  const metric = rule.metric;
  const values = referenceValues.filter(Number.isFinite).sort((a, b) => (isBetter(a, b, metric) ? -1 : isBetter(b, a, metric) ? 1 : 0));
  if (values.length === 0) return undefined;
  let threshold: number;
  if (rule.rule === 'median') {
    const middle = Math.floor(values.length / 2);
    threshold = values.length % 2 === 1 ? values[middle] : (values[middle - 1] + values[middle]) / 2;
  } else {
    const kept = Math.ceil((values.length + 1) / rule.reductionFactor);
    // Fewer references than it takes to fill the kept share: everyone is kept.
    if (kept > values.length) return undefined;
    threshold = values[kept - 1];
  }
  return isLossMetric(metric) ? threshold + rule.margin : threshold - rule.margin;
}

/** Whether the rule rejects a task's value at a rung: strictly worse than the threshold, or not finite (a diverged run). */
export function rejects(rule: PruningRule, value: number, threshold: number | undefined): boolean {
  if (!Number.isFinite(value)) return true;
  return threshold !== undefined && isBetter(threshold, value, rule.metric);
}

export function metricAt(rule: PruningRule, row: EpochMetrics): number {
  return selectionValue(row, rule.metric);
}

/** The problems of a valid pruning block with the tasks it applies to: a warm-up no task gets past. */
export function pruningProblems(rule: PruningRule, configs: TaskConfig[]): string[] {
  const epochs = Math.min(...configs.map((config) => config.training.epochs));
  if (rule.warmupEpochs >= epochs) {
    return [
      `pruning.warmupEpochs: must be below training.epochs (${epochs}); no epoch would be checked after a warm-up of ${rule.warmupEpochs}`,
    ];
  }
  if (rule.rule === 'asha' && rule.minEpochs >= epochs) {
    return [`pruning.minEpochs: must be below training.epochs (${epochs}); the first rung would be the last epoch`];
  }
  return [];
}

/**
 * The reference tasks of each task: its group's tasks at the group's lowest flood level (none for
 * those tasks themselves, nor in a group of a single level).
 */
export function referencesOf<T extends { taskId: string; group: string; config: Pick<TaskConfig, 'floodLevel'> }>(
  tasks: readonly T[],
): Map<string, string[]> {
  const lowest = new Map<string, number>();
  for (const task of tasks) lowest.set(task.group, Math.min(lowest.get(task.group) ?? Infinity, task.config.floodLevel));
  const references = new Map<string, string[]>();
  for (const task of tasks) {
    if (task.config.floodLevel === lowest.get(task.group)) references.set(task.group, [...(references.get(task.group) ?? []), task.taskId]);
  }
  return new Map(
    tasks.map((task) => [task.taskId, task.config.floodLevel === lowest.get(task.group) ? [] : (references.get(task.group) ?? [])]),
  );
}
