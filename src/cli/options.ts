import { type Command, InvalidArgumentError } from 'commander';
import { MAX_RANGE_VALUES, readEnvironment } from '../env.js';
import { UsageError } from '../errors.js';
import type { TaskConfig, TaskConfigInput } from '../flooding/config.js';
import { BACKENDS, type BackendRequest, DATASET_NAMES, isBackendRequest } from '../flooding/names.js';
import { ID_RULE, isValidId } from '../store/ports.js';

export function parseNumber(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError('expected a number.');
  return n;
}

export function parseInteger(value: string): number {
  const n = parseNumber(value);
  if (!Number.isInteger(n)) throw new InvalidArgumentError('expected a whole number.');
  return n;
}

export function parsePositiveInteger(value: string): number {
  const n = parseInteger(value);
  if (n < 1) throw new InvalidArgumentError('expected a whole number >= 1.');
  return n;
}

/** A sweep or task id given by a flag, checked as the stores check ids: `--resume ''` names no sweep, it does not start a new one. */
export function parseId(value: string): string {
  if (!isValidId(value)) throw new InvalidArgumentError(`not an id; ${ID_RULE}.`);
  return value;
}

/** "0,1,2" or "0-4" (inclusive) -> [0, 1, 2] / [0, 1, 2, 3, 4]. */
export function parseSeeds(value: string): number[] {
  const range = /^(\d+)-(\d+)$/.exec(value.trim());
  const count = range ? Number(range[2]) - Number(range[1]) + 1 : 0;
  if (count > MAX_RANGE_VALUES) throw new InvalidArgumentError(`the range has ${count} seeds, above the limit of ${MAX_RANGE_VALUES}.`);
  const seeds = range
    ? Array.from({ length: Math.max(0, count) }, (_, i) => Number(range[1]) + i)
    : value.split(',').map((s) => parseInteger(s));
  if (seeds.length === 0 || seeds.some((s) => s < 0)) throw new InvalidArgumentError('expected seeds like 0,1,2 or 0-4.');
  if (new Set(seeds).size !== seeds.length) throw new InvalidArgumentError('seeds must not repeat.');
  return seeds;
}

/** How many workers a local run starts, and the limits it may pass; the flags of every command that trains a sweep. */
export interface ResourceFlags {
  workers?: number;
  oversubscribe?: boolean;
  ignoreMemoryLimit?: boolean;
}

export function addResourceOptions(command: Command): Command {
  return command
    .option('--workers <n>', 'worker processes (default: number of cores; at most the cores and the tasks)', parsePositiveInteger)
    .option('--oversubscribe', 'allow --workers above the number of cores')
    .option(
      '--ignore-memory-limit',
      "run tasks estimated to need more memory than they get (locally their share of the free memory, in the cloud the train function's)",
    );
}

/** The run options the resource flags set. */
export const resourceSettings = ({ workers, oversubscribe, ignoreMemoryLimit }: ResourceFlags): ResourceFlags => ({
  workers,
  oversubscribe,
  ignoreMemoryLimit,
});

export function addBackendOption(command: Command): Command {
  return command.option('--backend <name>', `tfjs backend: auto, ${BACKENDS.join(', ')} (env FLOODSWEEP_BACKEND)`);
}

/** The backend a command runs on: the flag, else FLOODSWEEP_BACKEND, else auto. */
export function backendRequest(flag: string | undefined): BackendRequest {
  if (flag === undefined) return readEnvironment().backend;
  if (isBackendRequest(flag)) return flag;
  throw new UsageError(`--backend: unknown backend ${JSON.stringify(flag)}; allowed: auto, ${BACKENDS.join(', ')}`);
}

/** Flags of one training task, each named after the config field it sets. */
const TASK_FLAGS: Array<{ flag: string; field: string; description: string; parse?: (v: string) => unknown }> = [
  { flag: '--dataset <name>', field: 'dataset.name', description: `dataset: ${DATASET_NAMES.join(', ')} (default sinusoid2d)` },
  { flag: '--data <path>', field: 'dataset.path', description: 'CSV file (with --dataset csv)' },
  { flag: '--label-column <name>', field: 'dataset.labelColumn', description: 'label column of the CSV file' },
  {
    flag: '--label-noise <rate>',
    field: 'dataset.labelNoise',
    description: 'fraction of labels flipped in each split, [0, 0.5) (default 0.1)',
    parse: parseNumber,
  },
  { flag: '--n-train <n>', field: 'dataset.nTrain', description: 'training samples (synthetic data; default 100)', parse: parseInteger },
  { flag: '--n-val <n>', field: 'dataset.nVal', description: 'validation samples (synthetic data; default 100)', parse: parseInteger },
  { flag: '--n-test <n>', field: 'dataset.nTest', description: 'test samples (synthetic data; default 20000)', parse: parseInteger },
  { flag: '--model <kind>', field: 'model.kind', description: 'mlp or linear (default mlp)' },
  { flag: '--depth <n>', field: 'model.depth', description: 'hidden layers of the MLP (default 4)', parse: parseInteger },
  { flag: '--width <n>', field: 'model.width', description: 'units per hidden layer (default 500)', parse: parseInteger },
  {
    flag: '--flood-level <b>',
    field: 'floodLevel',
    description: 'flood level b >= 0; 0 trains without flooding (default 0)',
    parse: parseNumber,
  },
  { flag: '--optimizer <name>', field: 'optimizer.name', description: 'sgd or adam (default sgd)' },
  {
    flag: '--lr <rate>',
    field: 'optimizer.lr',
    description: 'learning rate > 0 (default 0.01 for sgd, 0.001 for adam)',
    parse: parseNumber,
  },
  { flag: '--momentum <m>', field: 'optimizer.momentum', description: 'SGD momentum in [0, 1) (default 0.9)', parse: parseNumber },
  { flag: '--weight-decay <wd>', field: 'optimizer.weightDecay', description: 'L2 weight decay >= 0 (default 0)', parse: parseNumber },
  { flag: '--epochs <n>', field: 'training.epochs', description: 'epochs (default 200)', parse: parseInteger },
  { flag: '--batch-size <n>', field: 'training.batchSize', description: 'mini-batch size (default 200)', parse: parseInteger },
  {
    flag: '--eval-every <n>',
    field: 'training.evalEvery',
    description: 'evaluate every n epochs; epoch 0 and the last always (default 5)',
    parse: parseInteger,
  },
  {
    flag: '--clip-norm <c>',
    field: 'training.clipNorm',
    description: 'clip the global gradient norm to c (default off)',
    parse: parseNumber,
  },
  { flag: '--seed <n>', field: 'seed', description: 'random seed (default 0)', parse: parseInteger },
];

const flagOfField = new Map(TASK_FLAGS.map(({ flag, field }) => [field, flag.split(' ')[0]]));
const optionKey = (flag: string) =>
  flag
    .split(' ')[0]
    .slice(2)
    .replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

export function addTaskOptions(command: Command): Command {
  for (const { flag, description, parse } of TASK_FLAGS) {
    if (parse) command.option(flag, description, parse);
    else command.option(flag, description);
  }
  command.option('--no-batch-norm', 'MLP without batch norm');
  return command;
}

/** Builds and validates the task config from parsed flags; problems name the flag. */
export async function taskConfigFromOptions(options: Record<string, unknown>): Promise<TaskConfig> {
  const { ConfigError, resolveTaskConfig } = await import('../flooding/config.js');
  const input: Record<string, Record<string, unknown> | unknown> = {};
  for (const { flag, field } of TASK_FLAGS) {
    const value = options[optionKey(flag)];
    if (value === undefined) continue;
    const [head, tail] = field.split('.');
    if (!tail) input[head] = value;
    else {
      input[head] ??= {};
      (input[head] as Record<string, unknown>)[tail] = value;
    }
  }
  if (options.batchNorm === false) {
    input.model ??= {};
    (input.model as Record<string, unknown>).batchNorm = false;
  }
  // Sub-objects need their discriminator for defaults to apply.
  const dataset = input.dataset as Record<string, unknown> | undefined;
  if (dataset) dataset.name ??= 'sinusoid2d';
  const model = input.model as Record<string, unknown> | undefined;
  if (model) model.kind ??= 'mlp';
  const optimizer = input.optimizer as Record<string, unknown> | undefined;
  if (optimizer) optimizer.name ??= 'sgd';
  if (optimizer?.momentum !== undefined && optimizer.name !== 'sgd') {
    throw new UsageError('--momentum: applies only to --optimizer sgd');
  }
  try {
    return resolveTaskConfig(input as TaskConfigInput);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    throw new ConfigError(error.problems.map(renameFieldToFlag), { cause: error });
  }
}

/** "dataset.path: ..." -> "--data: ...", for problems found in a config built from flags. */
export function renameFieldToFlag(problem: string): string {
  const [field, ...rest] = problem.split(': ');
  const flag = flagOfField.get(field);
  if (!flag) return problem;
  return `${flag}: ${rest.join(': ')}`;
}
