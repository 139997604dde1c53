import { createHash } from 'node:crypto';
import { z } from 'zod';
import { FloodsweepError } from './errors.js';
import { canonicalJson } from './json.js';

/**
 * The resolved configuration of one training task. Defaults are the original demo's
 * (Ishida et al. 2020, run_demo_synth.py, setting 1).
 */
/** Rows evaluated per forward pass: bounds memory on large test sets. */
export const EVAL_ROWS_PER_PASS = 4096;

/**
 * Training computes in float32: a number beyond its largest finite value becomes infinite there, and
 * one below its smallest normal value loses its precision or becomes 0 (a learning rate of 1e-50 is
 * no learning rate). Every real-valued field of a task is one float32 represents.
 */
const FLOAT32_MAX = 3.4028234663852886e38;
const FLOAT32_MIN_NORMAL = 1.1754943508222875e-38;
const float32 = () =>
  z
    .number()
    .min(-FLOAT32_MAX, `must be at least -3.4e38 (float32, which training uses)`)
    .max(FLOAT32_MAX, `must be at most 3.4e38 (float32, which training uses)`)
    .refine(
      (x) => x === 0 || Math.abs(x) >= FLOAT32_MIN_NORMAL,
      'must be 0 or at least 1.2e-38 in magnitude (float32, which training uses)',
    );

/**
 * Bounds on sizes, far above what trains in a Lambda or on a workstation, so that a typo (an extra
 * zero or three) is an error naming the field rather than a run the machine kills. Whether a task
 * fits the memory it gets is checked separately (sweep/resources.ts).
 */
export const LIMITS = {
  samples: 100_000_000,
  dim: 100_000,
  depth: 1_000,
  width: 65_536,
  batchSize: 1_000_000,
  epochs: 1_000_000,
  /** Metric rows a task stores (an item each in DynamoDB, all of them in every checkpoint and in the report). */
  evaluatedEpochs: 10_000,
} as const;

const labelNoise = float32().min(0).lt(0.5).default(0.1);
const splitSize = (n: number) => z.int().min(1).max(LIMITS.samples).default(n);
const syntheticSizes = {
  labelNoise,
  nTrain: splitSize(100),
  nVal: splitSize(100),
  nTest: splitSize(20000),
};

export const FLOODING_VARIANTS = ['batch', 'sample'] as const;

export const CSV_DELIMITERS = [',', ';', '\t'] as const;
export const DEFAULT_MAX_CLASSES = 100;

const dataPath = z.string().min(1);
/** Refuses a label column with more distinct values than this (a feature column named as the label, say). */
const maxClasses = z.int().min(2).default(DEFAULT_MAX_CLASSES);
/** The data's content hash, set when a sweep is planned: an edited file makes different tasks. */
const sha256 = z
  .string()
  .regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex digits (the SHA-256 of the data)')
  .optional();
const split = z
  .strictObject({ train: float32().gt(0).lt(1), val: float32().gt(0).lt(1), test: float32().gt(0).lt(1) })
  .refine((s) => Math.abs(s.train + s.val + s.test - 1) < 1e-9, 'split fractions must add up to 1')
  .default({ train: 0.6, val: 0.2, test: 0.2 });

/** Image and array files (IDX, .npy, .npz): the first axis is the sample, labels are integers 0..classes-1. */
const arrayOptions = {
  /** Use only the first this many samples of the file (a subset for a quick look or a test). */
  samples: z.int().min(3).max(LIMITS.samples).optional(),
  /** Inputs are multiplied by this; `auto` is 1/255 for 8-bit unsigned data (pixels) and 1 otherwise. */
  scale: z.union([z.literal('auto'), float32().gt(0)]).default('auto'),
  standardize: z.boolean().default(false),
  maxClasses,
  sha256,
  split,
  labelNoise,
};

export const datasetSchema = z.discriminatedUnion('name', [
  z.strictObject({ name: z.literal('sinusoid2d'), ...syntheticSizes }),
  z.strictObject({ name: z.literal('sinusoid'), dim: z.int().min(2).max(LIMITS.dim).default(10), ...syntheticSizes }),
  z.strictObject({ name: z.literal('spiral'), inputNoise: float32().min(0).default(1), ...syntheticSizes }),
  z.strictObject({
    name: z.literal('gaussian'),
    dim: z.int().min(1).max(LIMITS.dim).default(10),
    meanShift: float32().default(1),
    ...syntheticSizes,
  }),
  z.strictObject({
    name: z.literal('csv'),
    path: dataPath,
    labelColumn: z.string().min(1),
    delimiter: z.enum(CSV_DELIMITERS, { error: 'must be one of ",", ";" or "\\t" (tab)' }).default(','),
    /** Columns dropped before training (neither features nor label). */
    ignoreColumns: z.array(z.string().min(1)).default([]),
    maxClasses,
    sha256,
    split,
    standardize: z.boolean().default(true),
    labelNoise,
  }),
  z.strictObject({ name: z.literal('idx'), inputs: dataPath, labels: dataPath, ...arrayOptions }),
  z.strictObject({ name: z.literal('npy'), inputs: dataPath, labels: dataPath, ...arrayOptions }),
  z.strictObject({
    name: z.literal('npz'),
    path: dataPath,
    /** The arrays' names in the file (numpy.savez(path, x=..., y=...)). */
    inputsKey: z.string().min(1).default('x'),
    labelsKey: z.string().min(1).default('y'),
    ...arrayOptions,
  }),
]);

export const modelSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('mlp'),
    depth: z.int().min(1).max(LIMITS.depth).default(4),
    width: z.int().min(1).max(LIMITS.width).default(500),
    batchNorm: z.boolean().default(true),
  }),
  z.strictObject({ kind: z.literal('linear') }),
  z.strictObject({
    kind: z.literal('layers'),
    /** A TensorFlow.js Layers topology: the model.json of `model.save`, or `model.toJSON()`'s text. */
    path: dataPath,
    /** The file's content hash, set when a sweep is planned: an edited file makes different tasks. */
    sha256,
  }),
]);

const common = { lr: float32().gt(0), weightDecay: float32().min(0).default(0) };
export const optimizerSchema = z.discriminatedUnion('name', [
  z.strictObject({ name: z.literal('sgd'), ...common, lr: common.lr.default(0.01), momentum: float32().min(0).lt(1).default(0.9) }),
  z.strictObject({
    name: z.literal('adam'),
    ...common,
    lr: common.lr.default(0.001),
    beta1: float32().min(0).lt(1).default(0.9),
    beta2: float32().min(0).lt(1).default(0.999),
    epsilon: float32().gt(0).default(1e-8),
  }),
]);

export const trainingSchema = z
  .strictObject({
    epochs: z.int().min(1).max(LIMITS.epochs).default(200),
    batchSize: z.int().min(1).max(LIMITS.batchSize).default(200),
    /** Evaluate every this many epochs (epoch 0 and the last epoch are always evaluated). */
    evalEvery: z.int().min(1).default(5),
    /** Clip the global gradient norm to this value; null disables clipping. */
    clipNorm: float32().gt(0).nullable().default(null),
    /**
     * Where the flood level applies: `batch` (Ishida et al. 2020) floods the mini-batch mean loss,
     * |L - b| + b; `sample` (iFlood, Xie et al. 2022) each sample's loss, mean(|l_i - b| + b).
     * Unset means batch, so that the ids of tasks planned before the field existed stay the same.
     */
    flooding: z.enum(FLOODING_VARIANTS).optional(),
  })
  .refine(({ epochs, evalEvery }) => epochs / evalEvery <= LIMITS.evaluatedEpochs, {
    path: ['epochs'],
    error: `must be <= ${LIMITS.evaluatedEpochs} x evalEvery: a task stores at most ${LIMITS.evaluatedEpochs} evaluated epochs (raise evalEvery)`,
  });

export const taskConfigSchema = z.strictObject({
  dataset: datasetSchema.prefault({ name: 'sinusoid2d' }),
  model: modelSchema.prefault({ kind: 'mlp' }),
  optimizer: optimizerSchema.prefault({ name: 'sgd' }),
  training: trainingSchema.prefault({}),
  floodLevel: float32().min(0).default(0),
  seed: z
    .int()
    .min(0)
    .max(2 ** 31 - 1)
    .default(0),
});

export type DatasetConfig = z.output<typeof datasetSchema>;
export type ModelConfig = z.output<typeof modelSchema>;
export type OptimizerConfig = z.output<typeof optimizerSchema>;
export type TrainingConfig = z.output<typeof trainingSchema>;
export type TaskConfig = z.output<typeof taskConfigSchema>;
export type TaskConfigInput = z.input<typeof taskConfigSchema>;

/** Invalid task config or sweep spec: one problem per line, each naming its field path. */
export class ConfigError extends FloodsweepError {
  override name = 'ConfigError';

  constructor(
    readonly problems: string[],
    options?: ErrorOptions,
  ) {
    super('input', problems.join('\n'), options);
  }
}

/** One line per problem: the field path, then what is allowed. */
export function describeIssues(error: z.ZodError): string[] {
  return error.issues.flatMap((issue) => {
    const where = issue.path.map(String);
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => `${[...where, key].join('.')}: unknown field`);
    }
    const discriminator = /^Invalid discriminator value\. Expected (.*)$/.exec(issue.message);
    const bound = /^Too (?:small|big): expected \w+ to be ([<>]=?)(.*)$/.exec(issue.message);
    const message = discriminator
      ? `must be one of ${discriminator[1].replaceAll("'", '').split(' | ').join(', ')}`
      : bound
        ? `must be ${bound[1]} ${bound[2]}`
        : issue.message;
    return [`${where.length ? where.join('.') : '(root)'}: ${message}`];
  });
}

/** Validates and fills in defaults; throws ConfigError naming each bad field. */
export function resolveTaskConfig(input: unknown): TaskConfig {
  const parsed = taskConfigSchema.safeParse(input ?? {});
  if (!parsed.success) throw new ConfigError(describeIssues(parsed.error));
  return parsed.data;
}

/** A short hash of the resolved config: the same config gets the same id everywhere. */
export function configHash(config: TaskConfig): string {
  return createHash('sha256').update(canonicalJson(config)).digest('hex').slice(0, 12);
}
