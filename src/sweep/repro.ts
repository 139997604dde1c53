import { z } from 'zod';
import { ConfigError, describeIssues } from '../flooding/config.js';
import { canonicalJson, keepNonFinite } from '../flooding/json.js';
import { SPLITS, type SplitMetrics } from '../flooding/metrics.js';
import type { SweepSummary } from './aggregate.js';
import { parseJsonText } from './parse-text.js';
import type { ReproVerdict, TaskRecord } from './records.js';
import type { PlannedTask, SweepSpec } from './spec.js';

/**
 * Reproducibility: a sweep's outcome as a snapshot (what a baseline file holds), and the comparison
 * of a new run of a pinned sweep with its baseline, task by task and metric by metric.
 */

export const BASELINE_FORMAT = 'floodsweep-baseline/1';

/** Any number, NaN and ±Infinity included: a diverged baseline run is still a baseline. */
const metric = z.custom<number>((v) => typeof v === 'number', 'expected a number');
const splitMetricsSchema = z.strictObject({ loss: metric, acc: metric, cleanLoss: metric, cleanAcc: metric });
const taskSnapshotSchema = z.strictObject({
  /** Position in the sweep's expansion ("group/level/seed" indices): how runs of one pinned spec line up. */
  position: z.string(),
  taskId: z.string(),
  floodLevel: z.number(),
  seed: z.number(),
  config: z.record(z.string(), z.unknown()),
  status: z.string(),
  backend: z.string().nullable(),
  final: z.strictObject({ train: splitMetricsSchema, val: splitMetricsSchema, test: splitMetricsSchema }).nullable(),
});
export const snapshotSchema = z.strictObject({
  format: z.literal(BASELINE_FORMAT),
  name: z.string(),
  sweepId: z.string(),
  backends: z.array(z.string()),
  tasks: z.array(taskSnapshotSchema),
  chosenLevels: z.array(z.strictObject({ group: z.string(), chosenLevel: z.number().nullable() })),
});
export type SweepSnapshot = z.output<typeof snapshotSchema>;
type TaskSnapshot = SweepSnapshot['tasks'][number];

export class BaselineError extends ConfigError {
  override name = 'BaselineError';
}

/** A pinned sweep, the baseline it must reproduce, and how close "reproduced" is. */
const reproSpecSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'letters, digits, ".", "_" and "-", at most 64'),
  /** A sweep spec file (relative to the repro spec) or the spec itself. */
  spec: z.union([z.string(), z.record(z.string(), z.unknown())]),
  baseline: z.union([z.strictObject({ file: z.string() }), z.strictObject({ sweepId: z.string() })]),
  tolerances: z.unknown().optional(),
});
export type ReproSpec = z.output<typeof reproSpecSchema>;

/** Reads a repro spec file's text; every problem names the file and the field. */
export function parseReproSpec(text: string, source: string): ReproSpec {
  const parsed = reproSpecSchema.safeParse(parseJsonText(text, source, BaselineError));
  if (!parsed.success) throw new BaselineError(describeIssues(parsed.error).map((problem) => `${source}: ${problem}`));
  const tolerances = toleranceSchema.safeParse(parsed.data.tolerances ?? {});
  if (!tolerances.success) throw new BaselineError(describeIssues(tolerances.error).map((problem) => `${source}: tolerances.${problem}`));
  return parsed.data;
}

/** Reads a baseline file's text; every problem names the field. */
export function parseBaseline(text: string, source: string): SweepSnapshot {
  const parsed = snapshotSchema.safeParse(parseJsonText(text, source, BaselineError, keepNonFinite));
  if (!parsed.success) throw new BaselineError(describeIssues(parsed.error).map((problem) => `${source}: ${problem}`));
  return parsed.data;
}

/** What a snapshot is made of: the sweep as stored (spec, task records, summary if aggregated). */
export interface SnapshotSource {
  sweepId: string;
  name: string;
  spec: SweepSpec;
  /** The spec's tasks, in expansion order. */
  planned: readonly PlannedTask[];
  records: readonly TaskRecord[];
  summary?: SweepSummary;
}

/** A sweep's outcome in the form of a baseline file, every planned task in expansion order. */
export function snapshotOf({ sweepId, name, spec, planned, records: recordList, summary }: SnapshotSource): SweepSnapshot {
  const records = new Map(recordList.map((t): [string, TaskRecord] => [t.taskId, t]));
  // The expansion orders tasks by group, then flood level, then seed; a sampled floodLevels gives each group its own levels.
  const groupIndex = new Map<string, number>();
  const levelIndex = new Map<string, Map<number, number>>();
  const tasks: TaskSnapshot[] = planned.map((task) => {
    const record = records.get(task.taskId);
    if (!groupIndex.has(task.group)) groupIndex.set(task.group, groupIndex.size);
    if (!levelIndex.has(task.group)) levelIndex.set(task.group, new Map());
    const levels = levelIndex.get(task.group)!;
    if (!levels.has(task.config.floodLevel)) levels.set(task.config.floodLevel, levels.size);
    return {
      position: `${groupIndex.get(task.group)}/${levels.get(task.config.floodLevel)}/${spec.seeds.indexOf(task.config.seed)}`,
      taskId: task.taskId,
      floodLevel: task.config.floodLevel,
      seed: task.config.seed,
      config: task.config as unknown as Record<string, unknown>,
      status: record?.status ?? 'MISSING',
      backend: record?.backend ?? null,
      final: record?.status === 'SUCCEEDED' && record.final ? record.final : null,
    };
  });
  return {
    format: BASELINE_FORMAT,
    name,
    sweepId,
    backends: summary?.backends ?? [...new Set(tasks.flatMap((t) => (t.backend ? [t.backend] : [])))].sort(),
    tasks,
    chosenLevels: (summary?.groups ?? []).map((g) => ({ group: g.setting, chosenLevel: g.chosenLevel })),
  };
}

export const METRICS = SPLITS.flatMap((split) => (['loss', 'acc', 'cleanLoss', 'cleanAcc'] as const).map((m) => `${split}.${m}`));

/**
 * Largest allowed absolute difference per metric. On the same backend training is deterministic,
 * so the default there is exact equality; across backends float arithmetic differs and the runs
 * drift apart over 200 epochs, hence the looser defaults.
 */
export const toleranceSchema = z.strictObject({
  sameBackend: z.strictObject({ acc: z.number().min(0).default(0), loss: z.number().min(0).default(0) }).prefault({}),
  crossBackend: z.strictObject({ acc: z.number().min(0).default(0.03), loss: z.number().min(0).default(0.1) }).prefault({}),
  /** Per-metric overrides, e.g. {"test.cleanAcc": 0.01}; they apply on any backend. */
  metrics: z.partialRecord(z.enum(METRICS as [string, ...string[]]), z.number().min(0)).default({}),
  /** Whether a change of the chosen flood level counts as drift. */
  chosenLevel: z.enum(['must-match', 'ignore']).default('must-match'),
});
export type Tolerances = z.output<typeof toleranceSchema>;

export interface MetricDrift {
  metric: string;
  baseline: number;
  current: number;
  difference: number;
  tolerance: number;
}

export interface TaskComparison {
  position: string;
  floodLevel: number;
  seed: number;
  baselineTaskId: string;
  taskId: string | null;
  outcome: 'reproduced' | 'drifted' | 'missing';
  /** Config fields that differ from the baseline's task (dotted path: baseline -> current). */
  configChanges: string[];
  drift: MetricDrift[];
  /** Largest absolute difference over all metrics (0 when identical). */
  maxDifference: number;
}

export interface Comparison {
  verdict: ReproVerdict;
  baselineSweepId: string;
  sweepId: string;
  sameBackend: boolean;
  backends: { baseline: string[]; current: string[] };
  counts: { reproduced: number; drifted: number; missing: number };
  chosenLevels: Array<{ group: string; baseline: number | null; current: number | null; changed: boolean }>;
  tasks: TaskComparison[];
}

export function compareSnapshots(current: SweepSnapshot, baseline: SweepSnapshot, tolerancesInput: unknown = {}): Comparison {
  const tolerances = toleranceSchema.parse(tolerancesInput ?? {});
  const sameBackend = canonicalJson(current.backends) === canonicalJson(baseline.backends);
  const currentByPosition = new Map(current.tasks.map((t) => [t.position, t]));
  const toleranceOf = (metric: string) =>
    tolerances.metrics[metric] ?? (sameBackend ? tolerances.sameBackend : tolerances.crossBackend)[metric.endsWith('oss') ? 'loss' : 'acc'];

  const tasks = baseline.tasks.map((base): TaskComparison => {
    const now = currentByPosition.get(base.position);
    const common = {
      position: base.position,
      floodLevel: base.floodLevel,
      seed: base.seed,
      baselineTaskId: base.taskId,
      taskId: now?.taskId ?? null,
    };
    if (!now?.final || !base.final) {
      return { ...common, outcome: 'missing', configChanges: [], drift: [], maxDifference: 0 };
    }
    const configChanges = diffConfigs(base.config, now.config);
    const drift: MetricDrift[] = [];
    let maxDifference = 0;
    for (const metric of METRICS) {
      const [split, name] = metric.split('.') as [keyof TaskSnapshot['final'] & string, keyof SplitMetrics];
      const a = (base.final as Record<string, SplitMetrics>)[split][name];
      const b = (now.final as Record<string, SplitMetrics>)[split][name];
      const difference = Object.is(a, b) ? 0 : Math.abs(b - a);
      const comparable = Number.isNaN(difference) ? Infinity : difference;
      maxDifference = Math.max(maxDifference, comparable);
      if (comparable > toleranceOf(metric))
        drift.push({ metric, baseline: a, current: b, difference: b - a, tolerance: toleranceOf(metric) });
    }
    const outcome = drift.length > 0 || configChanges.length > 0 ? 'drifted' : 'reproduced';
    return { ...common, outcome, configChanges, drift, maxDifference };
  });

  const currentChosen = new Map(current.chosenLevels.map((c) => [c.group, c.chosenLevel]));
  const chosenLevels = baseline.chosenLevels.map(({ group, chosenLevel }) => {
    const now = currentChosen.get(group) ?? null;
    return { group, baseline: chosenLevel, current: now, changed: now !== chosenLevel };
  });
  const counts = {
    reproduced: tasks.filter((t) => t.outcome === 'reproduced').length,
    drifted: tasks.filter((t) => t.outcome === 'drifted').length,
    missing: tasks.filter((t) => t.outcome === 'missing').length,
  };
  const levelDrift = tolerances.chosenLevel === 'must-match' && chosenLevels.some((c) => c.changed);
  const verdict: ReproVerdict = counts.missing > 0 ? 'INCOMPLETE' : counts.drifted > 0 || levelDrift ? 'DRIFTED' : 'REPRODUCED';
  return {
    verdict,
    baselineSweepId: baseline.sweepId,
    sweepId: current.sweepId,
    sameBackend,
    backends: { baseline: baseline.backends, current: current.backends },
    counts,
    chosenLevels,
    tasks,
  };
}

function flatten(value: unknown, prefix = ''): Map<string, string> {
  const out = new Map<string, string>();
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    for (const [key, inner] of Object.entries(value)) for (const [k, v] of flatten(inner, prefix ? `${prefix}.${key}` : key)) out.set(k, v);
  } else {
    out.set(prefix, JSON.stringify(value));
  }
  return out;
}

function diffConfigs(baseline: Record<string, unknown>, current: Record<string, unknown>): string[] {
  const a = flatten(baseline);
  const b = flatten(current);
  return [...new Set([...a.keys(), ...b.keys()])]
    .filter((key) => a.get(key) !== b.get(key))
    .sort()
    .map((key) => `${key}: ${a.get(key) ?? '(absent)'} -> ${b.get(key) ?? '(absent)'}`);
}

/** A few lines for people: the verdict, then what drifted or is missing. */
export function describeComparison(comparison: Comparison, limit = 20): string[] {
  const { counts } = comparison;
  const lines = [
    `${comparison.verdict}: ${counts.reproduced} tasks reproduced, ${counts.drifted} drifted, ${counts.missing} missing (sweep ${comparison.sweepId} vs baseline ${comparison.baselineSweepId}; ${comparison.sameBackend ? `same backend ${comparison.backends.current.join(', ')}: exact match expected` : `backends ${comparison.backends.baseline.join(', ')} -> ${comparison.backends.current.join(', ')}: cross-backend tolerances`})`,
  ];
  for (const level of comparison.chosenLevels.filter((c) => c.changed)) {
    lines.push(`  chosen flood level of ${level.group} changed: ${level.baseline} -> ${level.current}`);
  }
  const notable = comparison.tasks.filter((t) => t.outcome !== 'reproduced');
  for (const task of notable.slice(0, limit)) {
    const where = `  task ${task.taskId ?? task.baselineTaskId} (b=${task.floodLevel}, seed ${task.seed})`;
    if (task.outcome === 'missing') {
      lines.push(`${where}: missing or failed`);
      continue;
    }
    const changes = task.configChanges.length ? `; config changed: ${task.configChanges.join(', ')}` : '';
    const drift = task.drift.map((d) => `${d.metric} ${d.baseline.toFixed(4)} -> ${d.current.toFixed(4)}`).join(', ');
    lines.push(`${where}: ${drift || 'metrics within tolerance'}${changes}`);
  }
  if (notable.length > limit) lines.push(`  ... and ${notable.length - limit} more`);
  return lines;
}
