import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import { z } from 'zod';
import { DEFAULT_MAX_TASKS, MAX_RANGE_VALUES } from '../env.js';
import { DATA_FILE_FIELDS, inspectArrays, isArrayDataset } from '../flooding/array-datasets.js';
import {
  ConfigError,
  configHash,
  describeIssues,
  resolveTaskConfig,
  type TaskConfig,
  type TaskConfigInput,
  taskConfigSchema,
} from '../flooding/config.js';
import { DatasetError, inspectCsv } from '../flooding/datasets.js';
import { canonicalJson } from '../flooding/json.js';
import { parseJsonText, parseYamlText } from './parse-text.js';
import { DEFAULT_MARGIN, DEFAULT_WARMUP_EPOCHS, PRUNING_RULES, pruningProblems } from './pruning.js';
import {
  distinctPoints,
  drawPoints,
  isNumericAxis,
  isSampledAxis,
  SAMPLE_DIGITS,
  type SampledAxis,
  sampledAxisSchema,
} from './sampling.js';

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

const SECTIONS = ['dataset', 'model', 'optimizer', 'training'] as const;
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

type Path = readonly PropertyKey[];

interface Problem {
  path: Path;
  message: string;
  unknownField?: boolean;
}

/** `grid.optimizer.lr[1]`: keys joined by dots, array indices in brackets. */
function formatPath(path: Path): string {
  const text = path.reduce<string>((joined, segment) => {
    if (typeof segment === 'number') return `${joined}[${segment}]`;
    return joined ? `${joined}.${String(segment)}` : String(segment);
  }, '');
  return text || '(root)';
}

const formatProblem = (problem: Problem): string => `${formatPath(problem.path)}: ${problem.message}`;

/** Zod issues worded by describeIssues, with their paths kept as segments so indices print as [i]. */
function problemsOf(error: z.ZodError): Problem[] {
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

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function pickSections(source: { [K in (typeof SECTIONS)[number]]?: unknown }): Record<string, unknown> {
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
interface NamedSampledAxis {
  /** `floodLevels`, or the grid key. */
  key: string;
  path: Path;
  axis: SampledAxis;
}

/** The spec's sampled axes in draw order: floodLevels first, then the grid keys in order. */
function sampledAxes(spec: Pick<SweepSpec, 'floodLevels' | 'grid'>): NamedSampledAxis[] {
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
 * The spec with every relative data file path (`path`, `inputs`, `labels` in `dataset`, `grid.dataset` or `grid["dataset.path"]`...)
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
  const resolveValues = (key: string, values: unknown[]) =>
    key === 'dataset' ? values.map(inDataset) : fileFields.includes(key) ? values.map(near) : values;
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
  return { ...spec, dataset: inDataset(spec.dataset) as SweepSpec['dataset'], grid };
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

function uniqueLines(lines: string[]): string[] {
  return [...new Set(lines)];
}

type GridAxis = [key: string, values: unknown[]];

/** The value a grid key takes in one group, and where the spec gives it (for problems). */
interface Assignment {
  key: string;
  value: unknown;
  /** `['grid', key, index]` for a listed value, `['grid', key]` for a drawn one. */
  source: Path;
  drawn: boolean;
}

/** Index tuples of the cartesian product, the last axis varying fastest. */
function* choices(sizes: number[]): Generator<number[]> {
  if (sizes.some((size) => size === 0)) return;
  const choice = sizes.map(() => 0);
  for (;;) {
    yield [...choice];
    let axis = sizes.length - 1;
    while (axis >= 0 && ++choice[axis] === sizes[axis]) choice[axis--] = 0;
    if (axis < 0) return;
  }
}

/** The input a missing section defaults to ({name: 'sgd'}, not the resolved sgd settings). */
function sectionDefault(section: string): unknown {
  const schema = taskConfigSchema.shape[section as (typeof SECTIONS)[number]];
  return structuredClone(schema.def.defaultValue);
}

function setPath(config: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let parent = config;
  for (const [depth, key] of path.slice(0, -1).entries()) {
    parent[key] ??= depth === 0 ? sectionDefault(key) : {};
    const child = parent[key];
    // A grid value that is not an object (e.g. a bad whole section): validation reports it there.
    if (!isPlainObject(child)) return;
    parent = child;
  }
  parent[path[path.length - 1]] = value;
}

/** The base with every assigned value set at its path; whole sections first, so nested paths refine them. */
function groupInput(spec: SweepSpec, assignments: Assignment[]): Record<string, unknown> {
  const input = structuredClone(pickSections(spec));
  const byDepth = assignments.map(({ key, value }) => ({ path: key.split('.'), value }));
  byDepth.sort((a, b) => a.path.length - b.path.length);
  for (const { path, value } of byDepth) setPath(input, path, structuredClone(value));
  return input;
}

const startsWith = (path: Path, prefix: readonly string[]) => prefix.every((segment, i) => path[i] === segment);

function shownValue(value: unknown): string {
  return typeof value === 'object' && value !== null ? '' : ` = ${JSON.stringify(value)}`;
}

function assignmentRef({ source, value, drawn }: Assignment): string {
  return `${formatPath(source)}${drawn ? ' drawn' : ''}${shownValue(value)}`;
}

/** Grid keys that pick a section's variant (`optimizer.name`): they decide which fields the section has. */
const VARIANT_KEYS = new Set(
  SECTIONS.flatMap((section) => {
    const schema = taskConfigSchema.shape[section].unwrap();
    return schema instanceof z.ZodDiscriminatedUnion ? [`${section}.${schema.def.discriminator}`] : [];
  }),
);

/**
 * Names a problem of an expanded config by what the user wrote: the grid value it came from
 * (`grid.optimizer.lr[1]`, or `grid.optimizer.lr` with the drawn value), else the grid key (a
 * field this variant lacks) or the base field. The latter two arise only from this combination
 * (the base is valid alone), so they also name the grid values that chose the section's variant.
 */
function locateProblem(problem: Problem, assignments: Assignment[]): Problem {
  const keyPaths = assignments.map(({ key }) => key.split('.'));
  const owner = keyPaths.reduce(
    (best, path, index) => (startsWith(problem.path, path) && (best < 0 || path.length > keyPaths[best].length) ? index : best),
    -1,
  );
  const ownerAssignment = owner >= 0 ? assignments[owner] : undefined;
  if (ownerAssignment !== undefined && !(problem.unknownField && problem.path.length === keyPaths[owner].length)) {
    // One line for all the draws a rule rejects, not one per point.
    const drawn = ownerAssignment.drawn ? ' (a value drawn from this distribution)' : '';
    return {
      path: [...ownerAssignment.source, ...problem.path.slice(keyPaths[owner].length)],
      message: `${problem.message}${drawn}`,
    };
  }
  const variantChoices = assignments.flatMap((assignment, index) => {
    const sameSection = keyPaths[index][0] === problem.path[0];
    const choosesVariant = VARIANT_KEYS.has(assignment.key) || (index !== owner && startsWith(problem.path, keyPaths[index]));
    return sameSection && choosesVariant ? [assignmentRef(assignment)] : [];
  });
  const context = variantChoices.length > 0 ? ` (with ${variantChoices.join(', ')})` : '';
  return { path: ownerAssignment !== undefined ? ['grid', ownerAssignment.key] : problem.path, message: `${problem.message}${context}` };
}

function duplicateGroupProblem(earlier: Assignment[], later: Assignment[]): string {
  const same = (x: Assignment, y: Assignment) => canonicalJson([x.source, x.value]) === canonicalJson([y.source, y.value]);
  const differing = later.flatMap((assignment, index) => (same(assignment, earlier[index]) ? [] : [index]));
  const ref = (assignment: Assignment) => (assignment.drawn ? assignmentRef(assignment) : formatPath(assignment.source));
  const refs = (assignments: Assignment[]) => differing.map((index) => ref(assignments[index])).join(' with ');
  return `${refs(later)}: gives the same task configs as ${refs(earlier)}`;
}

/** Hash of a group's shared config (everything but flood level and seed), like configHash. */
function groupHash(config: TaskConfig): string {
  const { floodLevel: _floodLevel, seed: _seed, ...shared } = config;
  return createHash('sha256').update(canonicalJson(shared)).digest('hex').slice(0, 12);
}

/** The level the paired statistics compare every other level of a group with (sweep/aggregate.ts). */
const BASELINE_FLOOD_LEVEL = 0;

/** Drawn values of the sampled grid keys, shared by the points of one group, and the flood levels it runs. */
interface SampledGroup {
  values: Map<string, unknown>;
  floodLevels: number[];
}

/**
 * A file dataset's config with its data's content hash: the hash is part of the task id, so an
 * edited file makes different tasks, and training checks it reads the file that was planned.
 * Reading the file also checks its data, so bad data is refused before a sweep writes anything.
 * `hashes` caches the files read during one expansion.
 */
function withDataHash(config: TaskConfig, hashes: Map<string, string>): TaskConfig {
  const { dataset } = config;
  if (dataset.name !== 'csv' && !isArrayDataset(dataset)) return config;
  const key = canonicalJson(dataset);
  let sha256 = hashes.get(key);
  if (sha256 === undefined) {
    sha256 = (dataset.name === 'csv' ? inspectCsv(dataset) : inspectArrays(dataset)).sha256;
    hashes.set(key, sha256);
  }
  return { ...config, dataset: { ...dataset, sha256 } };
}

/** A DatasetError's message starts with the field it is about: located like a schema problem, to name the grid value. */
function datasetProblem(error: DatasetError): Problem {
  const [, field, index, message] = /^([\w.]+)(?:\[(\d+)\])?: (.*)$/.exec(error.message) ?? [];
  if (!field) return { path: ['dataset'], message: error.message };
  return { path: [...field.split('.'), ...(index === undefined ? [] : [Number(index)])], message };
}

/**
 * The points drawn for the sampled axes (`floodLevels` or grid keys, in draw order), one value per
 * axis each, distinct, in draw order; no axes and no points without sampled axes. Throws
 * SpecError if `count` is above `maxTasks` or above the distinct points the axes allow.
 */
export function sampledPoints(spec: SweepSpec, options: { maxTasks?: number } = {}): { axes: string[]; points: unknown[][] } {
  const axes = sampledAxes(spec);
  if (axes.length === 0) return { axes: [], points: [] };
  const maxTasks = options.maxTasks ?? DEFAULT_MAX_TASKS;
  const { count } = axes[0].axis;
  const countField = formatPath([...axes[0].path, 'count']);
  if (count > maxTasks) {
    throw new SpecError([`${countField}: ${count} points is above the task limit of ${maxTasks}; lower count or raise --max-tasks`]);
  }
  const distinct = distinctPoints(axes.map(({ axis }) => axis));
  if (count > distinct) {
    throw new SpecError([`${countField}: must be <= ${distinct}, the number of distinct points the choices allow`]);
  }
  const points = drawPoints(
    axes.map(({ axis }) => axis),
    count,
    spec.search?.seed ?? 0,
    canonicalJson,
  );
  if (points.length < count) {
    throw new SpecError([
      `${countField}: only ${points.length} distinct points found at ${SAMPLE_DIGITS} significant digits; lower count or widen the ranges`,
    ]);
  }
  return { axes: axes.map(({ key }) => key), points };
}

/**
 * The sampled points, grouped by their grid values, in draw order. A group runs the listed flood
 * levels, or, when floodLevels is sampled, the levels drawn with its grid values plus b = 0, the
 * baseline of the paired statistics, ascending. Without sampled axes: one group of no values.
 */
function sampledGroups(spec: SweepSpec, maxTasks: number): SampledGroup[] {
  const listedLevels = Array.isArray(spec.floodLevels) ? spec.floodLevels : undefined;
  const { axes, points } = sampledPoints(spec, { maxTasks });
  if (axes.length === 0) return [{ values: new Map(), floodLevels: listedLevels ?? [] }];
  const groups = new Map<string, SampledGroup>();
  for (const point of points) {
    const values = new Map(axes.flatMap((key, index): Array<[string, unknown]> => (key === 'floodLevels' ? [] : [[key, point[index]]])));
    const id = canonicalJson([...values]);
    const group = groups.get(id) ?? { values, floodLevels: listedLevels ?? [BASELINE_FLOOD_LEVEL] };
    groups.set(id, group);
    if (!listedLevels && point[0] !== BASELINE_FLOOD_LEVEL) group.floodLevels.push(point[0] as number);
  }
  // Listed levels keep the order they are listed in; drawn ones go ascending, from the baseline.
  if (!listedLevels) for (const group of groups.values()) group.floodLevels.sort((a, b) => a - b);
  return [...groups.values()];
}

/**
 * The tasks of a sweep, in a fixed order: combinations of the listed grid axes (keys in order,
 * values in order), each crossed with the sampled points (in draw order), then flood levels, then
 * seeds. Throws SpecError if there are more than `maxTasks`, or listing every combination that is
 * not a valid task config, repeats another, or names a csv file that cannot be used.
 */
export function expandSpec(spec: SweepSpec, options: { maxTasks?: number } = {}): PlannedTask[] {
  const maxTasks = options.maxTasks ?? DEFAULT_MAX_TASKS;
  const axes = Object.entries(spec.grid).filter((axis): axis is GridAxis => Array.isArray(axis[1]));
  const samples = sampledGroups(spec, maxTasks);
  const groupCount = axes.reduce((count, [, values]) => count * values.length, 1);
  const levelCount = samples.reduce((count, sample) => count + sample.floodLevels.length, 0);
  const taskCount = groupCount * levelCount * spec.seeds.length;
  if (taskCount > maxTasks) {
    throw new SpecError([`the sweep expands to ${taskCount} tasks, above the limit of ${maxTasks}; raise it with --max-tasks`]);
  }
  const problems: string[] = [];
  const tasks: PlannedTask[] = [];
  const groups = new Map<string, Assignment[]>();
  const dataHashes = new Map<string, string>();
  for (const choice of choices(axes.map(([, values]) => values.length))) {
    const listed = new Map(axes.map(([key, values], index) => [key, { index: choice[index], value: values[choice[index]] }]));
    for (const sample of samples) {
      // In the spec's key order, so that labels and problems list the keys as the user wrote them.
      const assignments = Object.keys(spec.grid).map((key): Assignment => {
        const fromList = listed.get(key);
        return fromList
          ? { key, value: fromList.value, source: ['grid', key, fromList.index], drawn: false }
          : { key, value: sample.values.get(key), source: ['grid', key], drawn: true };
      });
      const input = groupInput(spec, assignments);
      const checked = taskConfigSchema.safeParse(input);
      if (!checked.success) {
        problems.push(...problemsOf(checked.error).map((problem) => formatProblem(locateProblem(problem, assignments))));
        continue;
      }
      let shared: TaskConfig;
      try {
        shared = withDataHash(checked.data, dataHashes);
      } catch (error) {
        if (!(error instanceof DatasetError)) throw error;
        problems.push(formatProblem(locateProblem(datasetProblem(error), assignments)));
        continue;
      }
      const group = groupHash(shared);
      const earlier = groups.get(group);
      if (earlier) {
        problems.push(duplicateGroupProblem(earlier, assignments));
        continue;
      }
      groups.set(group, assignments);
      const groupLabel = structuredClone(Object.fromEntries(assignments.map(({ key, value }) => [key, value])));
      for (const floodLevel of sample.floodLevels) {
        for (const seed of spec.seeds) {
          const config = resolveTaskConfig({ ...input, dataset: shared.dataset, floodLevel, seed });
          tasks.push({ taskId: configHash(config), group, groupLabel, config });
        }
      }
    }
  }
  if (problems.length === 0 && spec.pruning)
    problems.push(
      ...pruningProblems(
        spec.pruning,
        tasks.map((task) => task.config),
      ),
    );
  if (problems.length > 0) throw new SpecError(uniqueLines(problems));
  return tasks;
}
