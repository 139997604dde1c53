import type { TaskConfig } from '../flooding/config.js';
import type { EpochMetrics, SplitMetrics } from '../flooding/metrics.js';
import { mapLimited } from './map-limited.js';
import type { SweepStatus, TaskRecord, TaskStatus } from './records.js';
import { isBetter, selectionValue } from './selection.js';
import type { NumericAxis, SelectionMetric, SweepSpec } from './spec.js';
import { type Difference, type Estimate, estimate, pairedDifference } from './statistics.js';

export type { SelectionMetric };

/**
 * How the flood level of a group is chosen: losses are minimised, accuracies maximised. Epoch
 * 'last': the final epoch; 'best': each run's best evaluated epoch by the metric (early stopping).
 */
export type Selection = SweepSpec['selection'];

export type SettingValue = string | number | boolean | null;

/** One seed's numbers at the epoch the selection rule looks at. */
export interface RunSummary {
  seed: number;
  taskId: string;
  /** The epoch the reported numbers come from: the last one, or the best by the selection metric. */
  epoch: number;
  selectionValue: number;
  testCleanAcc: number;
  testAcc: number;
  /** Set for a task the pruning rule stopped: the rung it was rejected at (its numbers are from the epoch it stopped at). */
  prunedAt?: number;
}

/** This level minus b = 0, seed by seed, in accuracy fractions (0.01 = 1 percentage point). */
export interface BaselineDifference {
  /** The seeds that finished at both levels: the pairs. */
  seeds: number[];
  testCleanAcc: Difference;
  testAcc: Difference;
}

export interface LevelSummary {
  floodLevel: number;
  /** Tasks planned at this level (one per seed). */
  tasks: number;
  /** Seeds that finished, ascending. */
  seeds: number[];
  runs: RunSummary[];
  /** Seeds stopped by the pruning rule: listed, but in no estimate below (unless every task of the group was pruned). */
  pruned: RunSummary[];
  /** Over `runs`; null when no seed finished. With one seed, sd is 0. */
  selectionValue: Estimate | null;
  testCleanAcc: Estimate | null;
  testAcc: Estimate | null;
  /** Null at b = 0 itself, in groups without b = 0, and when no seed finished at both levels. */
  diffToBaseline: BaselineDifference | null;
}

export interface GroupSummary {
  group: string;
  /** The config fields (dotted paths) whose values tell this group apart from the others; {} for a single group. */
  label: Record<string, SettingValue>;
  /** The label in one line, e.g. `optimizer.lr=0.01, dataset.name=spiral`; `base` for a single group. */
  setting: string;
  /** Ascending flood level. */
  levels: LevelSummary[];
  /**
   * By the selection rule over the mean over seeds; ties go to the smaller level. Null if no task
   * finished. A level with a pruned seed is no candidate, unless no level finished without one
   * (then the best level by its pruned tasks' numbers).
   */
  chosenLevel: number | null;
  /** The chosen level's numbers include pruned tasks: every level had a pruned seed. */
  chosenFromPruned: boolean;
  /** The best level with b > 0 by the same rule: the flooded run to compare with b = 0 even when b = 0 wins. */
  bestFloodedLevel: number | null;
  hasBaseline: boolean;
}

/** A task that contributes nothing: it failed, did not finish, or finished without metrics. */
export interface FailedTask {
  taskId: string;
  group: string;
  floodLevel: number;
  seed: number;
  status: TaskStatus;
  error: string;
}

/** The content of summary.json. */
export interface SweepSummary {
  sweepId: string;
  name: string;
  /** SUCCEEDED: every task finished; PARTIAL: some did not; FAILED: none did. */
  status: Exclude<SweepStatus, 'RUNNING' | 'INTERRUPTED'>;
  selection: Selection;
  /** The tfjs backends the tasks ran on, sorted. */
  backends: string[];
  taskCount: number;
  succeededTasks: number;
  /** Stopped early by the sweep's pruning rule: no failures. */
  prunedTasks: number;
  failedTasks: FailedTask[];
  /** The config fields all tasks share (flood level and seed aside). */
  sharedSettings: Record<string, SettingValue>;
  /** Ordered by their labels. */
  groups: GroupSummary[];
  /** The spec's sampled axes of numbers, which the report and dashboard chart tasks against; absent without any. */
  sampledAxes?: NumericAxis[];
}

export interface SummarizeInput {
  sweepId: string;
  name: string;
  tasks: TaskRecord[];
  /** Epoch rows of a task, sorted by epoch. */
  epochsOf(taskId: string): Promise<EpochMetrics[]>;
  selection: Selection;
  /** spec.ts numericSampledAxes of the sweep's spec. */
  sampledAxes?: NumericAxis[];
}

const BASELINE_LEVEL = 0;

/** Tasks whose epoch rows are read at a time: each task's rows are reduced to one run before the next are read. */
export const EPOCH_READ_CONCURRENCY = 16;

export async function summarizeSweep(input: SummarizeInput): Promise<SweepSummary> {
  const { tasks, selection } = input;
  const outcomes = await mapLimited(tasks, EPOCH_READ_CONCURRENCY, (task) => selectedRun(task, selection, input.epochsOf));
  const runs = new Map<string, RunSummary>();
  const failedTasks: FailedTask[] = [];
  tasks.forEach((task, i) => {
    const outcome = outcomes[i];
    if (typeof outcome === 'string') {
      failedTasks.push({
        taskId: task.taskId,
        group: task.group,
        floodLevel: task.config.floodLevel,
        seed: task.config.seed,
        status: task.status,
        error: outcome,
      });
    } else {
      runs.set(task.taskId, outcome);
    }
  });

  const byGroup = groupBy(tasks, (task) => task.group);
  const { shared, labels } = describeGroups(new Map([...byGroup].map(([group, members]) => [group, members[0].config])));
  const groups = [...byGroup]
    .map(([group, members]) => summarizeGroup(group, labels.get(group)!, members, runs, selection))
    .sort((a, b) => compareLabels(a.label, b.label) || (a.group < b.group ? -1 : a.group > b.group ? 1 : 0));
  const groupOrder = new Map(groups.map((group, i) => [group.group, i]));

  return {
    sweepId: input.sweepId,
    name: input.name,
    status: runs.size === 0 ? 'FAILED' : failedTasks.length > 0 ? 'PARTIAL' : 'SUCCEEDED',
    selection,
    backends: [...new Set(tasks.flatMap((task) => (task.backend ? [task.backend] : [])))].sort(),
    taskCount: tasks.length,
    succeededTasks: [...runs.values()].filter((run) => run.prunedAt === undefined).length,
    prunedTasks: [...runs.values()].filter((run) => run.prunedAt !== undefined).length,
    failedTasks: failedTasks.sort(
      (a, b) => groupOrder.get(a.group)! - groupOrder.get(b.group)! || a.floodLevel - b.floodLevel || a.seed - b.seed,
    ),
    sharedSettings: shared,
    groups,
    ...(input.sampledAxes?.length ? { sampledAxes: input.sampledAxes } : {}),
  };
}

/** The run's numbers at the epoch the rule looks at, or why the task has none. */
async function selectedRun(task: TaskRecord, selection: Selection, epochsOf: SummarizeInput['epochsOf']): Promise<RunSummary | string> {
  if (task.status === 'FAILED') return task.error ?? 'failed without an error message';
  if (task.status !== 'SUCCEEDED' && task.status !== 'PRUNED')
    return `did not finish: ${task.status} at epoch ${task.epochsDone} of ${task.epochsTotal}`;
  const summarize = (epoch: number, row: { val: SplitMetrics; test: SplitMetrics }): RunSummary => ({
    seed: task.config.seed,
    taskId: task.taskId,
    epoch,
    selectionValue: selectionValue(row, selection.metric),
    testCleanAcc: row.test.cleanAcc,
    testAcc: row.test.acc,
    ...(task.status === 'PRUNED' ? { prunedAt: task.pruning?.decision?.epoch ?? task.epochsDone } : {}),
  });
  // The task record carries the last epoch's metrics: 'last' needs no epoch rows.
  if (selection.epoch === 'last' && task.final) return summarize(task.epochsDone, task.final);
  const rows = await epochsOf(task.taskId);
  if (rows.length === 0) return 'succeeded, but no epoch metrics were recorded';
  if (selection.epoch === 'last') return summarize(rows[rows.length - 1].epoch, rows[rows.length - 1]);
  // The untrained model (epoch 0) is no candidate for early stopping.
  const candidates = rows.length > 1 ? rows.filter((row) => row.epoch > 0) : rows;
  const best = candidates.reduce((best, row) =>
    isBetter(selectionValue(row, selection.metric), selectionValue(best, selection.metric), selection.metric) ? row : best,
  );
  return summarize(best.epoch, best);
}

export function describeSetting(label: Record<string, SettingValue>): string {
  const parts = Object.entries(label).map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`);
  return parts.length > 0 ? parts.join(', ') : 'base';
}

/** Flood levels in labels: no float noise like 0.30000000000000004. */
export function formatLevel(level: number): string {
  return String(Number(level.toPrecision(4)));
}

/**
 * A formatter for a set of levels: 4 significant digits, as formatLevel, and as many more as it
 * takes for the given levels to print apart (0.26 and 0.26001).
 */
export function levelFormatter(levels: Iterable<number>): (level: number) => string {
  const distinct = [...new Set(levels)];
  for (let digits = 4; digits <= 16; digits++) {
    const format = (level: number) => String(Number(level.toPrecision(digits)));
    if (new Set(distinct.map(format)).size === distinct.length) return format;
  }
  // The shortest text that reads back as the same number: distinct for any two distinct levels.
  return (level) => String(level);
}

/** The one formatter of a group's levels, shared by its table and figures so that they agree. */
export function groupLevelFormatter(group: { levels: ReadonlyArray<{ floodLevel: number }> }): (level: number) => string {
  return levelFormatter(group.levels.map((level) => level.floodLevel));
}

/** The sweep's best result: over all groups, the chosen level with the best selection mean. */
export function bestResult(summary: SweepSummary): { setting: string; floodLevel: number; metric: SelectionMetric; value: number } | null {
  let best: ReturnType<typeof bestResult> = null;
  for (const group of summary.groups) {
    const value = group.levels.find((level) => level.floodLevel === group.chosenLevel)?.selectionValue?.mean;
    if (group.chosenLevel === null || value === undefined || !Number.isFinite(value)) continue;
    if (!best || isBetter(value, best.value, summary.selection.metric))
      best = { setting: group.setting, floodLevel: group.chosenLevel, metric: summary.selection.metric, value };
  }
  return best;
}

function summarizeGroup(
  group: string,
  label: Record<string, SettingValue>,
  members: TaskRecord[],
  runs: Map<string, RunSummary>,
  selection: Selection,
): GroupSummary {
  const byLevel = [...groupBy(members, (task) => task.config.floodLevel)].sort(([a], [b]) => a - b);
  const levelRuns = byLevel.map(([floodLevel, tasks]) => {
    const all = tasks.flatMap((task) => runs.get(task.taskId) ?? []).sort((a, b) => a.seed - b.seed);
    return {
      floodLevel,
      tasks: tasks.length,
      runs: all.filter((run) => run.prunedAt === undefined),
      pruned: all.filter((run) => run.prunedAt !== undefined),
    };
  });
  const baseline = levelRuns.find((level) => level.floodLevel === BASELINE_LEVEL);
  const levels: LevelSummary[] = levelRuns.map(({ floodLevel, tasks, runs, pruned }) => ({
    floodLevel,
    tasks,
    seeds: runs.map((run) => run.seed),
    runs,
    pruned,
    ...estimates(runs),
    diffToBaseline: baseline && floodLevel !== BASELINE_LEVEL ? differenceTo(baseline.runs, runs) : null,
  }));
  // A pruned seed is evidence against its level: a single lucky seed that finished must not carry it.
  const candidates = levels.filter((level) => level.pruned.length === 0);
  const finishedChoice = bestLevel(candidates, selection);
  // Every level has a pruned seed (every task was pruned, or the references failed): the best by
  // all the level's numbers, pruned ones included, marked as such.
  const prunedChoice =
    finishedChoice === null
      ? bestLevel(
          levelRuns.map((level) => ({ floodLevel: level.floodLevel, ...estimates([...level.runs, ...level.pruned]) })),
          selection,
        )
      : null;
  return {
    group,
    label,
    setting: describeSetting(label),
    levels,
    chosenLevel: finishedChoice ?? prunedChoice,
    chosenFromPruned: prunedChoice !== null,
    bestFloodedLevel: bestLevel(
      candidates.filter((level) => level.floodLevel !== BASELINE_LEVEL),
      selection,
    ),
    hasBaseline: baseline !== undefined,
  };
}

function estimates(runs: RunSummary[]): Pick<LevelSummary, 'selectionValue' | 'testCleanAcc' | 'testAcc'> {
  return {
    selectionValue: estimate(runs.map((run) => run.selectionValue)),
    testCleanAcc: estimate(runs.map((run) => run.testCleanAcc)),
    testAcc: estimate(runs.map((run) => run.testAcc)),
  };
}

function differenceTo(baselineRuns: RunSummary[], runs: RunSummary[]): BaselineDifference | null {
  const baselineBySeed = new Map(baselineRuns.map((run) => [run.seed, run]));
  const pairs = runs.flatMap((run) => {
    const base = baselineBySeed.get(run.seed);
    return base ? [{ run, base }] : [];
  });
  if (pairs.length === 0) return null;
  return {
    seeds: pairs.map(({ run }) => run.seed),
    testCleanAcc: pairedDifference(
      pairs.map((p) => p.run.testCleanAcc),
      pairs.map((p) => p.base.testCleanAcc),
    ),
    testAcc: pairedDifference(
      pairs.map((p) => p.run.testAcc),
      pairs.map((p) => p.base.testAcc),
    ),
  };
}

/** Levels are ascending, and only a strictly better mean displaces the incumbent: ties go to the smaller level. */
function bestLevel(levels: Array<Pick<LevelSummary, 'floodLevel' | 'selectionValue'>>, selection: Selection): number | null {
  let best: { floodLevel: number; score: number } | null = null;
  for (const level of levels) {
    const score = level.selectionValue?.mean ?? NaN;
    if (Number.isFinite(score) && (!best || isBetter(score, best.score, selection.metric))) best = { floodLevel: level.floodLevel, score };
  }
  return best?.floodLevel ?? null;
}

/** Map.groupBy arrived in Node 21; insertion order is kept. */
function groupBy<T, K>(items: readonly T[], keyOf: (item: T) => K): Map<K, T[]> {
  const groups = new Map<K, T[]>();
  for (const item of items) {
    const key = keyOf(item);
    const members = groups.get(key);
    if (members) members.push(item);
    else groups.set(key, [item]);
  }
  return groups;
}

/** Config leaves by dotted path; flood level and seed are the axes inside a group, never part of its identity. */
function settingsOf(config: TaskConfig): Map<string, SettingValue> {
  const settings = new Map<string, SettingValue>();
  const visit = (value: unknown, path: string) => {
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      for (const [key, child] of Object.entries(value)) visit(child, path ? `${path}.${key}` : key);
    } else if (value !== undefined && path !== 'floodLevel' && path !== 'seed') {
      settings.set(path, Array.isArray(value) ? JSON.stringify(value) : (value as SettingValue));
    }
  };
  visit(config, '');
  return settings;
}

/**
 * A field labels the groups when two groups hold different values for it. A field only some
 * groups have (e.g. `dataset.inputNoise` of spiral) does not count by itself: the field that
 * brings it (`dataset.name`) already tells those groups apart.
 */
function describeGroups(configs: Map<string, TaskConfig>): {
  shared: Record<string, SettingValue>;
  labels: Map<string, Record<string, SettingValue>>;
} {
  const settings = new Map([...configs].map(([group, config]) => [group, settingsOf(config)]));
  const valuesByPath = new Map<string, Set<string>>();
  for (const groupSettings of settings.values()) {
    for (const [path, value] of groupSettings) {
      valuesByPath.set(path, (valuesByPath.get(path) ?? new Set()).add(JSON.stringify(value)));
    }
  }
  const varying = new Set([...valuesByPath].filter(([, values]) => values.size > 1).map(([path]) => path));
  const sharedPaths = [...valuesByPath.keys()].filter((path) => !varying.has(path) && [...settings.values()].every((s) => s.has(path)));
  const first = [...settings.values()][0];
  return {
    shared: Object.fromEntries(sharedPaths.map((path) => [path, first.get(path)!])),
    labels: new Map(
      [...settings].map(([group, groupSettings]) => [group, Object.fromEntries([...groupSettings].filter(([path]) => varying.has(path)))]),
    ),
  };
}

/** Orders groups field by field, numbers numerically, so that e.g. lr 0.001 < 0.01 < 0.1. */
function compareLabels(a: Record<string, SettingValue>, b: Record<string, SettingValue>): number {
  for (const path of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const [x, y] = [a[path], b[path]];
    if (x === y) continue;
    if (x === undefined) return 1;
    if (y === undefined) return -1;
    if (typeof x === 'number' && typeof y === 'number') return x - y;
    return String(x) < String(y) ? -1 : 1;
  }
  return 0;
}
