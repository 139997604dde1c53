/**
 * Expansion of a sweep spec into its tasks, in a fixed order, with their ids. Pure: a csv data
 * set's content hash (part of its task ids) comes from the `dataHash` the caller passes
 * (src/planned-tasks.ts reads the files).
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { DEFAULT_MAX_TASKS } from '../env.js';
import { type ArrayDatasetConfig, isArrayDataset } from '../flooding/array-datasets.js';
import { configHash, resolveTaskConfig, type TaskConfig, taskConfigSchema } from '../flooding/config.js';
import { DatasetError } from '../flooding/datasets.js';
import { canonicalJson } from '../flooding/json.js';
import type { LayersModelConfig } from '../flooding/network-templates.js';
import { pruningProblems } from './pruning.js';
import { distinctPoints, drawPoints, SAMPLE_DIGITS } from './sampling.js';
import {
  formatPath,
  formatProblem,
  isPlainObject,
  type Path,
  type PlannedTask,
  type Problem,
  pickSections,
  problemsOf,
  SECTIONS,
  SpecError,
  type SweepSpec,
  sampledAxes,
  uniqueLines,
} from './spec.js';

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

type FileDataset = Extract<TaskConfig['dataset'], { name: 'csv' }> | ArrayDatasetConfig;

/**
 * The content hash of a file data set's data. Reading the files also checks the data: bad data
 * throws a DatasetError naming the field, so it is refused before a sweep writes anything.
 */
export type DataHash = (dataset: FileDataset) => string;

/**
 * A file dataset's config with its data's content hash: the hash is part of the task id, so an
 * edited file makes different tasks, and training checks it reads the file that was planned.
 * `hashes` caches the files hashed during one expansion.
 */
function withDataHash(config: TaskConfig, hashes: Map<string, string>, dataHash: DataHash | undefined): TaskConfig {
  const { dataset } = config;
  if (dataset.name !== 'csv' && !isArrayDataset(dataset)) return config;
  const key = canonicalJson(dataset);
  let sha256 = hashes.get(key);
  if (sha256 === undefined) {
    if (!dataHash) throw new Error('expandSpec: a file data set needs options.dataHash (src/planned-tasks.ts planTasks reads the files)');
    sha256 = dataHash(dataset);
    hashes.set(key, sha256);
  }
  return { ...config, dataset: { ...dataset, sha256 } };
}

/** The content hash of a model file; reading it also checks that it is a Layers topology. */
export type ModelHash = (model: LayersModelConfig) => string;

/** A model file's config with the file's content hash, part of the task id like the data's. */
function withModelHash(config: TaskConfig, modelHash: ModelHash | undefined): TaskConfig {
  if (config.model.kind !== 'layers') return config;
  if (!modelHash) throw new Error('expandSpec: a model file needs options.modelHash (src/planned-tasks.ts planTasks reads the files)');
  return { ...config, model: { ...config.model, sha256: modelHash(config.model) } };
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
export function expandSpec(
  spec: SweepSpec,
  options: { maxTasks?: number; dataHash?: DataHash; modelHash?: ModelHash } = {},
): PlannedTask[] {
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
        shared = withModelHash(withDataHash(checked.data, dataHashes, options.dataHash), options.modelHash);
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
          const config = resolveTaskConfig({ ...input, dataset: shared.dataset, model: shared.model, floodLevel, seed });
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
