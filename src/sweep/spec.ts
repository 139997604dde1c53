import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { z } from 'zod';
import { DEFAULT_MAX_TASKS } from '../env.js';
import {
  ConfigError,
  configHash,
  describeIssues,
  resolveTaskConfig,
  type TaskConfig,
  type TaskConfigInput,
  taskConfigSchema,
} from '../flooding/config.js';
import { canonicalJson } from '../flooding/json.js';
import { DEFAULT_MARGIN, DEFAULT_WARMUP_EPOCHS, PRUNING_RULES, pruningProblems } from './pruning.js';

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
  floodLevels: number[];
  seeds: number[];
  /** Task config field path (`optimizer.lr`) or whole section (`dataset`) -> the values it takes. */
  grid: Record<string, unknown[]>;
  selection: { metric: SelectionMetric; epoch: SelectionEpoch };
  execution: { maxConcurrency: number };
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

/** A range is "inclusive of `to`" up to this much floating-point error. */
const RANGE_TOLERANCE = 1e-9;
/** Levels are rounded to 10 decimals (0.30000000000000004 -> 0.3); a smaller step would merge levels. */
const RANGE_DECIMALS = 10;
/** Refuses a range before it is built in memory; far above any sweep the task limit lets through. */
const MAX_RANGE_LEVELS = 1_000_000;

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
    const count = Math.floor((to - from + RANGE_TOLERANCE) / step) + 1;
    if (count > MAX_RANGE_LEVELS) {
      ctx.issues.push({
        code: 'custom',
        input: { from, to, step },
        message: `{from, to, step} gives ${count} levels, above the limit of ${MAX_RANGE_LEVELS}; use a larger step`,
      });
      return z.NEVER;
    }
    // from + i * step, not a running sum, so rounding errors do not accumulate.
    return Array.from({ length: count }, (_, i) => Number((from + i * step).toFixed(RANGE_DECIMALS)));
  });

/** A list or a range; told apart by shape so that each form reports its own problems. */
const floodLevels = z.unknown().transform((input, ctx): number[] => {
  const result = Array.isArray(input) ? floodLevelList.safeParse(input) : floodLevelRange.safeParse(input);
  if (result.success) return result.data;
  // Already worded: zod keeps their messages and prefixes their paths with `floodLevels`.
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
  grid: z.record(z.string(), z.array(z.unknown()).min(1, 'must not be empty; list at least one value')).default({}),
  selection: z
    .strictObject({
      metric: z.enum(SELECTION_METRICS, { error: `must be one of ${SELECTION_METRICS.join(', ')}` }).default('val.acc'),
      epoch: z.enum(SELECTION_EPOCHS, { error: `must be one of ${SELECTION_EPOCHS.join(', ')}` }).default('last'),
    })
    .prefault({}),
  execution: z.strictObject({ maxConcurrency: z.int().min(1).max(1000).default(10) }).prefault({}),
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
    ...duplicateProblems(input.floodLevels, ['floodLevels']),
    ...duplicateProblems(input.seeds, ['seeds']),
    ...(isPlainObject(input.grid) ? Object.entries(input.grid).flatMap(([key, values]) => duplicateProblems(values, ['grid', key])) : []),
    ...gridKeyProblems(input.grid),
  ];
  if (!parsed.success || problems.length > 0) throw new SpecError(uniqueLines(problems.map(formatProblem)));
  const { name, floodLevels, seeds, grid, selection, execution, pruning } = parsed.data;
  return structuredClone({
    name,
    ...(pickSections(input) as Sections),
    floodLevels,
    seeds,
    grid,
    selection,
    execution,
    ...(pruning ? { pruning } : {}),
  });
}

/** JSON, or YAML when `source` ends in .yaml or .yml; `source` names the text in syntax errors. */
export function parseSpecText(text: string, source: string): SweepSpec {
  const content = text.replace(/^\uFEFF/, '');
  return validateSpec(/\.ya?ml$/i.test(source) ? parseYaml(content, source) : parseJson(content, source));
}

function parseJson(text: string, source: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    const offset = jsonErrorOffset(text);
    const line = text.slice(0, offset).split('\n').length;
    const column = offset - text.lastIndexOf('\n', offset - 1);
    // V8 words the problem well but names a position only for some errors, or quotes the text.
    const reason = (error as Error).message
      .replace(/ in JSON at position \d+.*$|, (?:\.\.\.)?".*"(?:\.\.\.)? is not valid JSON$/s, '')
      .replace(/[\u0000-\u001f]/g, (char) => JSON.stringify(char).slice(1, -1));
    throw new SpecError([`${source}:${line}:${column}: invalid JSON: ${reason}`]);
  }
}

const JSON_SPACE = /[ \t\n\r]*/y;
const JSON_STRING = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y;
const JSON_SCALAR = new RegExp(`${JSON_STRING.source}|-?(?:0|[1-9]\\d*)(?:\\.\\d+)?(?:[eE][+-]?\\d+)?|true|false|null`, 'y');

/** Offset of the first character that cannot continue a JSON text (its length if it ends too early). */
function jsonErrorOffset(text: string): number {
  let at = 0;
  const match = (pattern: RegExp): boolean => {
    pattern.lastIndex = at;
    const found = pattern.test(text);
    if (found) at = pattern.lastIndex;
    return found;
  };
  const token = (char: string): boolean => {
    match(JSON_SPACE);
    if (text[at] !== char) return false;
    at += 1;
    return true;
  };
  const sequence = (close: string, item: () => boolean): boolean => {
    if (token(close)) return true;
    do if (!item()) return false;
    while (token(','));
    return token(close);
  };
  const member = (): boolean => {
    match(JSON_SPACE);
    return match(JSON_STRING) && token(':') && value();
  };
  const value = (): boolean => {
    if (token('{')) return sequence('}', member);
    if (token('[')) return sequence(']', value);
    return match(JSON_SCALAR);
  };
  if (value()) match(JSON_SPACE);
  return at;
}

function parseYaml(text: string, source: string): unknown {
  // Loaded only for YAML specs: it is a third of what `sweep validate` takes to start.
  const { parseDocument } = createRequire(import.meta.url)('yaml') as typeof import('yaml');
  const document = parseDocument(text);
  if (document.errors.length > 0) {
    throw new SpecError(
      document.errors.map((error) => {
        const position = error.linePos?.[0];
        const reason = error.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
        return `${source}${position ? `:${position.line}:${position.col}` : ''}: invalid YAML: ${reason}`;
      }),
    );
  }
  try {
    return document.toJS();
  } catch (error) {
    // An alias to a missing anchor, or too many aliases.
    throw new SpecError([`${source}: invalid YAML: ${(error as Error).message}`]);
  }
}

function uniqueLines(lines: string[]): string[] {
  return [...new Set(lines)];
}

type GridAxis = [key: string, values: unknown[]];

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

/** The base with one value of every grid axis set at its path; whole sections first, so nested paths refine them. */
function groupInput(spec: SweepSpec, axes: GridAxis[], choice: number[]): Record<string, unknown> {
  const input = structuredClone(pickSections(spec));
  const byDepth = axes.map((axis, index) => ({ path: axis[0].split('.'), value: axis[1][choice[index]] }));
  byDepth.sort((a, b) => a.path.length - b.path.length);
  for (const { path, value } of byDepth) setPath(input, path, structuredClone(value));
  return input;
}

const startsWith = (path: Path, prefix: readonly string[]) => prefix.every((segment, i) => path[i] === segment);

function gridValueRef([key, values]: GridAxis, index: number): string {
  const value = values[index];
  const shown = typeof value === 'object' && value !== null ? '' : ` = ${JSON.stringify(value)}`;
  return `${formatPath(['grid', key, index])}${shown}`;
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
 * (`grid.optimizer.lr[1]`), else the grid key (a field this variant lacks) or the base field.
 * The latter two arise only from this combination (the base is valid alone), so they also name
 * the grid values that chose the section's variant.
 */
function locateProblem(problem: Problem, axes: GridAxis[], choice: number[]): Problem {
  const keyPaths = axes.map(([key]) => key.split('.'));
  const owner = keyPaths.reduce(
    (best, path, index) => (startsWith(problem.path, path) && (best < 0 || path.length > keyPaths[best].length) ? index : best),
    -1,
  );
  const ownerKey = owner >= 0 ? axes[owner][0] : undefined;
  if (ownerKey !== undefined && !(problem.unknownField && problem.path.length === keyPaths[owner].length)) {
    return { path: ['grid', ownerKey, choice[owner], ...problem.path.slice(keyPaths[owner].length)], message: problem.message };
  }
  const variantChoices = axes.flatMap((axis, index) => {
    const sameSection = keyPaths[index][0] === problem.path[0];
    const choosesVariant = VARIANT_KEYS.has(axis[0]) || (index !== owner && startsWith(problem.path, keyPaths[index]));
    return sameSection && choosesVariant ? [gridValueRef(axis, choice[index])] : [];
  });
  const context = variantChoices.length > 0 ? ` (with ${variantChoices.join(', ')})` : '';
  return { path: ownerKey !== undefined ? ['grid', ownerKey] : problem.path, message: `${problem.message}${context}` };
}

function duplicateGroupProblem(axes: GridAxis[], earlier: number[], later: number[]): string {
  const differing = axes.flatMap((axis, index) => (earlier[index] === later[index] ? [] : [{ key: axis[0], index }]));
  const refs = (choice: number[]) => differing.map(({ key, index }) => formatPath(['grid', key, choice[index]])).join(' with ');
  return `${refs(later)}: gives the same task configs as ${refs(earlier)}`;
}

/** Hash of a group's shared config (everything but flood level and seed), like configHash. */
function groupHash(config: TaskConfig): string {
  const { floodLevel: _floodLevel, seed: _seed, ...shared } = config;
  return createHash('sha256').update(canonicalJson(shared)).digest('hex').slice(0, 12);
}

/**
 * The tasks of a sweep, in a fixed order: grid combinations (grid keys in order, values in
 * order), then flood levels, then seeds. Throws SpecError if there are more than `maxTasks`,
 * or listing every combination that is not a valid task config or repeats another.
 */
export function expandSpec(spec: SweepSpec, options: { maxTasks?: number } = {}): PlannedTask[] {
  const maxTasks = options.maxTasks ?? DEFAULT_MAX_TASKS;
  const axes: GridAxis[] = Object.entries(spec.grid);
  const groupCount = axes.reduce((count, [, values]) => count * values.length, 1);
  const taskCount = groupCount * spec.floodLevels.length * spec.seeds.length;
  if (taskCount > maxTasks) {
    throw new SpecError([`the sweep expands to ${taskCount} tasks, above the limit of ${maxTasks}; raise it with --max-tasks`]);
  }
  const problems: string[] = [];
  const tasks: PlannedTask[] = [];
  const groups = new Map<string, number[]>();
  for (const choice of choices(axes.map(([, values]) => values.length))) {
    const input = groupInput(spec, axes, choice);
    const checked = taskConfigSchema.safeParse(input);
    if (!checked.success) {
      problems.push(...problemsOf(checked.error).map((problem) => formatProblem(locateProblem(problem, axes, choice))));
      continue;
    }
    const group = groupHash(checked.data);
    const earlier = groups.get(group);
    if (earlier) {
      problems.push(duplicateGroupProblem(axes, earlier, choice));
      continue;
    }
    groups.set(group, choice);
    const groupLabel = structuredClone(Object.fromEntries(axes.map(([key, values], index) => [key, values[choice[index]]])));
    for (const floodLevel of spec.floodLevels) {
      for (const seed of spec.seeds) {
        const config = resolveTaskConfig({ ...input, floodLevel, seed });
        tasks.push({ taskId: configHash(config), group, groupLabel, config });
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
