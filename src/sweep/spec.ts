import { resolve } from 'node:path';
import { z } from 'zod';
import { MAX_RANGE_VALUES } from '../env.js';
import { DATA_FILE_FIELDS } from '../flooding/array-datasets.js';
import { ConfigError, describeIssues, type TaskConfig, type TaskConfigInput, taskConfigSchema } from '../flooding/config.js';
import { canonicalJson } from '../flooding/json.js';
import { parseJsonText, parseYamlText } from './parse-text.js';
import { isNumericAxis, isSampledAxis, type SampledAxis, sampledAxisSchema } from './sampling.js';

/**
 * The sweep spec: a base task config, the axes it is swept over (flood levels x seeds x grid),
 * how the best flood level is selected, and how many tasks run at once.
 */

/** Losses are minimised, accuracies maximised. */
export const SELECTION_METRICS = ['val.acc', 'val.cleanAcc', 'val.loss', 'val.cleanLoss'] as const;
/** `best`: the best value over the evaluated epochs. */
export const SELECTION_EPOCHS = ['last', 'best'] as const;
export type SelectionMetric = (typeof SELECTION_METRICS)[number];
export type SelectionEpoch = (typeof SELECTION_EPOCHS)[number];

export const SECTIONS = ['dataset', 'model', 'optimizer', 'training'] as const;
type Sections = Pick<TaskConfigInput, (typeof SECTIONS)[number]>;

export interface SweepSpec extends Sections {
  name: string;
  /** A list, or a distribution drawn at expansion (a {from, to, step} range is stored as its list). */
  floodLevels: number[] | SampledAxis<number>;
  seeds: number[];
  /** Task config field path (`optimizer.lr`) or whole section (`dataset`) -> the values it takes, or a distribution. */
  grid: Record<string, unknown[] | SampledAxis>;
  /** The seed of the sampled axes' draws; absent: seed 0. */
  search?: { seed: number };
  selection: { metric: SelectionMetric; epoch: SelectionEpoch };
  /** maxCostUsd: `sweep run --cloud` refuses a sweep estimated above it. */
  execution: { maxConcurrency: number; maxCostUsd?: number };
  /** Opt-in early stopping of tasks worse than their group's references (sweep/pruning.ts). */
  pruning?: PruningRule;
}

export interface PlannedTask {
  taskId: string;
  /** Shared by the tasks that differ only in flood level and seed. */
  group: string;
  /** The grid values of the group, by grid key; {} without a grid. */
  groupLabel: Record<string, unknown>;
  config: TaskConfig;
}

/** A ConfigError, so the CLI reports it as bad input. One problem per line, each naming its field path. */
export class SpecError extends ConfigError {
  override name = 'SpecError';
}

/** Task config fields that have their own axis in the spec instead of a grid entry. */
const DEDICATED_AXES = new Map([
  ['floodLevel', 'floodLevels'],
  ['seed', 'seeds'],
]);

// The same rules as a task's own floodLevel and seed.
const floodLevel = taskConfigSchema.shape.floodLevel.unwrap();
const seed = taskConfigSchema.shape.seed.unwrap();

/** A range is "inclusive of `to`" up to this fraction of a step (floating-point error). */
const RANGE_TOLERANCE = 1e-9;
/** Levels are rounded to 10 decimals (0.30000000000000004 -> 0.3); a smaller step would merge levels. */
const RANGE_DECIMALS = 10;

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
// The name starts sweep ids, which must begin with a letter or digit (store/ports.ts validateId).
const NAME_RULE = "1-64 letters, digits, '.', '_' or '-', starting with a letter or digit";
const FLOOD_LEVELS_RULE = 'a list of flood levels (numbers >= 0) or {from, to, step}';

const floodLevelList = z.array(floodLevel).min(1, 'must not be empty; list at least one flood level');

const floodLevelRange = z
  .strictObject(
    { from: floodLevel, to: z.number(), step: z.number().min(10 ** -RANGE_DECIMALS) },
    { error: (issue) => (issue.input === undefined ? `required; ${FLOOD_LEVELS_RULE}` : `must be ${FLOOD_LEVELS_RULE}`) },
  )
  .refine((range) => range.to >= range.from, { path: ['to'], error: 'must be >= from' })
  .transform(({ from, to, step }, ctx) => {
    // The tolerance is a fraction of a step: an absolute one would add levels past `to` when steps are tiny.
    const count = Math.floor((to - from) / step + RANGE_TOLERANCE) + 1;
    if (count > MAX_RANGE_VALUES) {
      ctx.issues.push({
        code: 'custom',
        input: { from, to, step },
        message: `{from, to, step} gives ${count} levels, above the limit of ${MAX_RANGE_VALUES}; use a larger step`,
      });
      return z.NEVER;
    }
    // from + i * step, not a running sum, so rounding errors do not accumulate.
    const levels = Array.from({ length: count }, (_, i) => Number((from + i * step).toFixed(RANGE_DECIMALS)));
    // Far from 0 a step can be below the precision of a number, or of the 10 decimals kept.
    const merged = levels.findIndex((level, i) => i > 0 && level === levels[i - 1]);
    if (merged > 0) {
      ctx.issues.push({
        code: 'custom',
        input: { from, to, step },
        message: `{from, to, step} gives levels ${merged - 1} and ${merged} that are both ${levels[merged]} once rounded to ${RANGE_DECIMALS} decimals; use a larger step`,
      });
      return z.NEVER;
    }
    return levels;
  });

const sampledFloodLevels = sampledAxisSchema(floodLevel, floodLevel);

/** A list, a range or a distribution; told apart by shape so that each form reports its own problems. */
const floodLevels = z.unknown().transform((input, ctx): number[] | SampledAxis<number> => {
  const result = Array.isArray(input)
    ? floodLevelList.safeParse(input)
    : isSampledAxis(input)
      ? sampledFloodLevels.safeParse(input)
      : floodLevelRange.safeParse(input);
  if (result.success) return result.data;
  // Already worded: zod keeps their messages and prefixes their paths with `floodLevels`.
  ctx.issues.push(...result.error.issues.map((issue) => ({ ...issue, input }) as z.core.$ZodRawIssue));
  return z.NEVER;
});

const gridValues = z.array(z.unknown()).min(1, 'must not be empty; list at least one value');
const sampledGridValues = sampledAxisSchema(z.number(), z.unknown());

/** A list of values, or a distribution (an object with a `sample` field). */
const gridAxis = z.unknown().transform((input, ctx): unknown[] | SampledAxis => {
  const result = isSampledAxis(input) ? sampledGridValues.safeParse(input) : gridValues.safeParse(input);
  if (result.success) return result.data;
  ctx.issues.push(...result.error.issues.map((issue) => ({ ...issue, input }) as z.core.$ZodRawIssue));
  return z.NEVER;
});

export const PRUNING_RULES = ['median', 'asha'] as const;
export type PruningRuleName = (typeof PRUNING_RULES)[number];

/**
 * Epochs before the first check, and how much worse than the threshold a task may be. Flooding's
 * gain shows late, after the unflooded run memorizes the noisy labels: of the rules measured on
 * the demo and paper-synthetic settings (200 epochs, docs/benchmarks.md), only a warm-up of 150
 * with a margin of 0.02 kept the chosen level on both.
 */
export const DEFAULT_WARMUP_EPOCHS = 150;
export const DEFAULT_MARGIN = 0.02;

const pruningMetric = z.enum(SELECTION_METRICS, { error: `must be one of ${SELECTION_METRICS.join(', ')}` }).default('val.acc');
const pruningCommon = {
  metric: pruningMetric,
  warmupEpochs: z.int().min(0).default(DEFAULT_WARMUP_EPOCHS),
  /** In the metric's own unit (0.01 = 1 point of accuracy): a task is pruned only when worse by more. */
  margin: z.number().min(0).default(DEFAULT_MARGIN),
};
const pruningSchema = z.discriminatedUnion(
  'rule',
  [
    z.strictObject({ rule: z.literal('median'), ...pruningCommon }),
    z.strictObject({
      rule: z.literal('asha'),
      ...pruningCommon,
      /** Keeps the top 1/reductionFactor at each rung; rungs at minEpochs x reductionFactor^k. */
      reductionFactor: z.int().min(2).max(100).default(3),
      minEpochs: z.int().min(1).default(1),
    }),
  ],
  {
    error: (issue) =>
      issue.code === 'invalid_union' ? `must be one of ${PRUNING_RULES.join(', ')}` : `must be {rule: ${PRUNING_RULES.join(' | ')}, ...}`,
  },
);
export type PruningRule = z.output<typeof pruningSchema>;

const specSchema = z.strictObject({
  name: z
    .string({ error: (issue) => (issue.input === undefined ? `required; ${NAME_RULE}` : `must be ${NAME_RULE}`) })
    .regex(NAME, `must be ${NAME_RULE}`),
  // The base task config is checked against the task config schema itself, in validateSpec.
  dataset: z.unknown().optional(),
  model: z.unknown().optional(),
  optimizer: z.unknown().optional(),
  training: z.unknown().optional(),
  floodLevels,
  seeds: z.array(seed).min(1, 'must not be empty; list at least one seed').default([0]),
  grid: z.record(z.string(), gridAxis).default({}),
  search: z.strictObject({ seed: z.int().min(0).default(0) }).optional(),
  selection: z
    .strictObject({
      metric: z.enum(SELECTION_METRICS, { error: `must be one of ${SELECTION_METRICS.join(', ')}` }).default('val.acc'),
      epoch: z.enum(SELECTION_EPOCHS, { error: `must be one of ${SELECTION_EPOCHS.join(', ')}` }).default('last'),
    })
    .prefault({}),
  execution: z.strictObject({ maxConcurrency: z.int().min(1).max(1000).default(10), maxCostUsd: z.number().gt(0).optional() }).prefault({}),
  pruning: pruningSchema.optional(),
});

export type Path = readonly PropertyKey[];

export interface Problem {
  path: Path;
  message: string;
  unknownField?: boolean;
}

/** `grid.optimizer.lr[1]`: keys joined by dots, array indices in brackets. */
export function formatPath(path: Path): string {
  const text = path.reduce<string>((joined, segment) => {
    if (typeof segment === 'number') return `${joined}[${segment}]`;
    return joined ? `${joined}.${String(segment)}` : String(segment);
  }, '');
  return text || '(root)';
}

export const formatProblem = (problem: Problem): string => `${formatPath(problem.path)}: ${problem.message}`;

/** Zod issues worded by describeIssues, with their paths kept as segments so indices print as [i]. */
export function problemsOf(error: z.ZodError): Problem[] {
  const wording = (issue: z.core.$ZodIssue, printedPath: string) =>
    describeIssues(new z.ZodError([issue]))[0].slice(`${printedPath}: `.length);
  return error.issues.flatMap((issue): Problem[] => {
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({
        path: [...issue.path, key],
        message: wording({ ...issue, path: [], keys: [key] }, key),
        unknownField: true,
      }));
    }
    return [{ path: issue.path, message: wording({ ...issue, path: [] }, '(root)') }];
  });
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function pickSections(source: { [K in (typeof SECTIONS)[number]]?: unknown }): Record<string, unknown> {
  return Object.fromEntries(SECTIONS.filter((key) => source[key] !== undefined).map((key) => [key, source[key]]));
}

function duplicateProblems(values: unknown, path: Path): Problem[] {
  if (!Array.isArray(values)) return [];
  const firstIndex = new Map<string, number>();
  return values.flatMap((value, index) => {
    const key = canonicalJson(value);
    const first = firstIndex.get(key);
    if (first === undefined) {
      firstIndex.set(key, index);
      return [];
    }
    return [{ path: [...path, index], message: `duplicate of ${formatPath([...path, first])}` }];
  });
}

/** Whether `path` names a field of some variant of `schema` (a field of gaussian datasets counts). */
function hasField(schema: z.core.$ZodType, path: readonly string[]): boolean {
  if (path.length === 0) return true;
  if (
    schema instanceof z.ZodDefault ||
    schema instanceof z.ZodPrefault ||
    schema instanceof z.ZodNullable ||
    schema instanceof z.ZodOptional
  ) {
    return hasField(schema.unwrap(), path);
  }
  if (schema instanceof z.ZodUnion) return schema.options.some((option) => hasField(option, path));
  if (schema instanceof z.ZodObject) {
    const [key, ...rest] = path;
    return Object.hasOwn(schema.shape, key) && hasField(schema.shape[key], rest);
  }
  return false;
}

function gridKeyProblems(grid: unknown): Problem[] {
  if (!isPlainObject(grid)) return [];
  return Object.keys(grid).flatMap((key): Problem[] => {
    const axis = DEDICATED_AXES.get(key);
    if (axis) return [{ path: ['grid', key], message: `not allowed in grid; list the values in ${axis}` }];
    return hasField(taskConfigSchema, key.split('.')) ? [] : [{ path: ['grid', key], message: 'unknown field' }];
  });
}

/** Validates a parsed spec and fills in its defaults; throws SpecError listing every problem found. */
export function validateSpec(input: unknown): SweepSpec {
  if (!isPlainObject(input)) {
    throw new SpecError(['(root): must be an object with the sweep settings (name, floodLevels, seeds, grid, ...)']);
  }
  const parsed = specSchema.safeParse(input);
  const base = taskConfigSchema.safeParse(pickSections(input));
  const problems = [
    ...(parsed.success ? [] : problemsOf(parsed.error)),
    // The base must be a valid task config by itself; the grid only varies it.
    ...(base.success ? [] : problemsOf(base.error)),
    ...axisDuplicateProblems(input.floodLevels, ['floodLevels']),
    ...duplicateProblems(input.seeds, ['seeds']),
    ...(isPlainObject(input.grid)
      ? Object.entries(input.grid).flatMap(([key, values]) => axisDuplicateProblems(values, ['grid', key]))
      : []),
    ...gridKeyProblems(input.grid),
    ...(parsed.success ? countProblems(sampledAxes(parsed.data)) : []),
  ];
  if (!parsed.success || problems.length > 0) throw new SpecError(uniqueLines(problems.map(formatProblem)));
  const { name, floodLevels, seeds, grid, search, selection, execution, pruning } = parsed.data;
  return structuredClone({
    name,
    ...(pickSections(input) as Sections),
    floodLevels,
    seeds,
    grid,
    ...(search ? { search } : {}),
    selection,
    execution,
    ...(pruning ? { pruning } : {}),
  });
}

/** The values of a list, or the choices of a distribution, must not repeat. */
function axisDuplicateProblems(axis: unknown, path: Path): Problem[] {
  return isSampledAxis(axis)
    ? duplicateProblems((axis as { values?: unknown }).values, [...path, 'values'])
    : duplicateProblems(axis, path);
}

/** A sampled axis, by where the spec gives it: `floodLevels` or `grid.<key>`. */
export interface NamedSampledAxis {
  /** `floodLevels`, or the grid key. */
  key: string;
  path: Path;
  axis: SampledAxis;
}

/** The spec's sampled axes in draw order: floodLevels first, then the grid keys in order. */
export function sampledAxes(spec: Pick<SweepSpec, 'floodLevels' | 'grid'>): NamedSampledAxis[] {
  const floodLevels = Array.isArray(spec.floodLevels) ? [] : [{ key: 'floodLevels', path: ['floodLevels'], axis: spec.floodLevels }];
  const grid = Object.entries(spec.grid).flatMap(([key, axis]) => (Array.isArray(axis) ? [] : [{ key, path: ['grid', key], axis }]));
  return [...floodLevels, ...grid];
}

/** A sampled axis whose values are numbers, by its task config field path (`floodLevel`, `optimizer.lr`): charts place tasks on it. */
export interface NumericAxis {
  path: string;
  /** `log` for a loguniform axis, whose draws spread over decades. */
  scale: 'linear' | 'log';
}

/** The sampled axes of numbers (uniform, loguniform, choices of numbers), in draw order. */
export function numericSampledAxes(spec: Pick<SweepSpec, 'floodLevels' | 'grid'>): NumericAxis[] {
  return sampledAxes(spec).flatMap(({ key, axis }): NumericAxis[] =>
    isNumericAxis(axis)
      ? [{ path: key === 'floodLevels' ? 'floodLevel' : key, scale: axis.sample === 'loguniform' ? 'log' : 'linear' }]
      : [],
  );
}

/** Sampled axes are drawn jointly, one point per draw: they must agree on how many points. */
function countProblems(axes: NamedSampledAxis[]): Problem[] {
  const [first, ...others] = axes;
  return others.flatMap(({ path, axis }) =>
    axis.count === first.axis.count
      ? []
      : [
          {
            path: [...path, 'count'],
            message: `must equal ${formatPath([...first.path, 'count'])} (${first.axis.count}): sampled axes are drawn jointly, one point per draw`,
          },
        ],
  );
}

/**
 * The spec with every relative data and model file path (`path`, `inputs`, `labels` in `dataset`, `model.path`, and in `grid`)
 * resolved against `dir`, the directory of the spec file: a spec names its data wherever it is run
 * from. The absolute path is what the stored spec, the task configs and so the task ids hold.
 */
export function resolveDataPaths(spec: SweepSpec, dir: string): SweepSpec {
  const near = (path: unknown) => (typeof path === 'string' && path !== '' ? resolve(dir, path) : path);
  const fileFields = DATA_FILE_FIELDS.map((field) => `dataset.${field}`);
  const inDataset = (dataset: unknown) =>
    isPlainObject(dataset)
      ? {
          ...dataset,
          ...Object.fromEntries(DATA_FILE_FIELDS.filter((field) => field in dataset).map((field) => [field, near(dataset[field])])),
        }
      : dataset;
  const inModel = (model: unknown) => (isPlainObject(model) && 'path' in model ? { ...model, path: near(model.path) } : model);
  const resolveValues = (key: string, values: unknown[]) =>
    key === 'dataset'
      ? values.map(inDataset)
      : key === 'model'
        ? values.map(inModel)
        : fileFields.includes(key) || key === 'model.path'
          ? values.map(near)
          : values;
  // A sampled dataset axis can only be a choice among datasets: its values are resolved the same way.
  const grid = Object.fromEntries(
    Object.entries(spec.grid).map(([key, axis]) => [
      key,
      Array.isArray(axis)
        ? resolveValues(key, axis)
        : axis.sample === 'choice'
          ? { ...axis, values: resolveValues(key, axis.values) }
          : axis,
    ]),
  );
  return { ...spec, dataset: inDataset(spec.dataset) as SweepSpec['dataset'], model: inModel(spec.model) as SweepSpec['model'], grid };
}

/** Longest value a difference quotes: a spec value can be a whole dataset section. */
const MAX_QUOTED = 60;

function quoteCapped(value: unknown): string {
  const text = value === undefined ? '(absent)' : JSON.stringify(value);
  return text.length > MAX_QUOTED ? `${text.slice(0, MAX_QUOTED - 3)}...` : text;
}

/** The first place (in key order) where two JSON values differ, or undefined if they are equal. */
function firstDifference(stored: unknown, given: unknown, path: Path = []): { path: Path; stored: unknown; given: unknown } | undefined {
  if (Array.isArray(stored) && Array.isArray(given)) {
    for (let i = 0; i < Math.max(stored.length, given.length); i++) {
      const found = firstDifference(stored[i], given[i], [...path, i]);
      if (found) return found;
    }
    return undefined;
  }
  if (isPlainObject(stored) && isPlainObject(given)) {
    for (const key of new Set([...Object.keys(stored), ...Object.keys(given)])) {
      const found = firstDifference(stored[key], given[key], [...path, key]);
      if (found) return found;
    }
    return undefined;
  }
  return stored === given ? undefined : { path, stored, given };
}

/**
 * A sweep is its resolved spec (defaults filled in): resuming it with any other is refused,
 * naming the first difference, so that no sweep mixes tasks of two specs.
 */
export function checkSameSpec(sweepId: string, stored: SweepSpec, given: SweepSpec): void {
  const plain = (spec: SweepSpec): unknown => JSON.parse(JSON.stringify(spec));
  const difference = firstDifference(plain(stored), plain(given));
  if (!difference) return;
  throw new SpecError([
    `${formatPath(difference.path)}: differs from the spec of sweep ${sweepId} (stored ${quoteCapped(difference.stored)}, given ${quoteCapped(difference.given)}); ` +
      'a sweep keeps the spec it was started with: resume it without a spec file, or run the spec as a new sweep',
  ]);
}

/** JSON, or YAML when `source` ends in .yaml or .yml; `source` names the text in syntax errors. */
export function parseSpecText(text: string, source: string): SweepSpec {
  return validateSpec(/\.ya?ml$/i.test(source) ? parseYamlText(text, source, SpecError) : parseJsonText(text, source, SpecError));
}

export function uniqueLines(lines: string[]): string[] {
  return [...new Set(lines)];
}
