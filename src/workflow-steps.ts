/**
 * The workflow's steps, each defined once: the ASL states it serves, the module and function that
 * run it, its Lambda entry point, its sizing, what it may do with the stores, what the bundle needs
 * beside it, and what it costs. The CDK stack, the bundling, the deployment settings, the local
 * executor and the cost model all read this list. It imports nothing (like src/env-names.ts), so
 * infra/ can use it without loading runtime code.
 *
 * Adding a state: its entry in definition.asl.json (`"Resource": "${<Name>FunctionArn}"`), its
^ * module in src/workflow/ with a thin Lambda entry in functions/, and one entry here.
 */

/** How the train function is packaged: a container image (tfjs-node) or a zip (wasm). */
export const TRAIN_RUNTIMES = ['container', 'zip'] as const;
export type TrainRuntime = (typeof TRAIN_RUNTIMES)[number];

/** Upper bound on the Distributed Map's concurrency that a deployment sets unless told otherwise. */
export const DEFAULT_MAX_CONCURRENCY = 100;

/**
 * Lambda concurrency kept for the steps beside Train (Plan, RecordFailure of the failing tasks,
 * Aggregate, Compare): a sweep's Train calls never take the account's last slots.
 */
export const OTHER_STEPS_CONCURRENCY = 10;

/**
 * The workflow's execution timeout (definition.asl.json TimeoutSeconds): a stuck execution ends
 * instead of living up to a year, and a cloud sweep's lease, which its execution holds, lasts as long.
 */
export const EXECUTION_TIMEOUT_SECONDS = 7 * 24 * 3600;

/** The most memory a function may have on a new AWS account (reduced quotas AWS raises with use). */
export const NEW_ACCOUNT_MAX_MEMORY_MB = 3008;

/** Object keys by what they hold (infra/stack.ts KEY_PATTERNS turns them into IAM resources). */
export type KeyPattern =
  | 'spec'
  | 'manifest'
  | 'tasks'
  | 'summary'
  | 'report'
  | 'plots'
  | 'repro'
  | 'mapResults'
  | 'anySweepKey'
  | 'baselines'
  | 'taskFiles'
  | 'cliBaselines';

/** Where `repro run` stores the baseline file it is given (under the baselines Compare may read). */
export const CLI_BASELINE_PREFIX = 'baselines/cli/';

/** What a step's function does with the stores; the stack turns this into its role's policy. */
export interface StepAccess {
  dynamodb: readonly string[];
  s3Read: readonly KeyPattern[];
  s3Write: readonly KeyPattern[];
  s3Delete?: readonly KeyPattern[];
  listBucket: boolean;
}

/** Files a bundle reads at runtime by path (infra/bundling.ts lists them), copied beside it. */
export type RuntimeFileSet = 'wasm' | 'plotFonts' | 'reportScripts';

/** Settings of the deployment a function reads from its environment (besides the stores). */
export type SettingVariable = 'maxConcurrency' | 'epochsPerCall';

/** What the cost model knows of a sweep before and after it runs. */
export interface SweepUsage {
  tasks: number;
  failed: number;
  figures: number;
  repro: boolean;
}

/**
 * A step's cost besides the training tasks (whose calls, seconds and rows are per task). Seconds
 * are estimates the records cannot tell (docs/cloud.md).
 */
export interface StepCost {
  invocations: (usage: SweepUsage) => number;
  /** Billed seconds per invocation. */
  seconds: (usage: SweepUsage) => number;
  /** Runs before or after the Map (adds to the wall time), not inside it. */
  addsToWallTime: boolean;
}

export interface StepDefinition {
  /** The ASL states whose Resource is this function (`${<Name>FunctionArn}`). */
  states: readonly string[];
  /** Module in src/workflow/ (without extension) and the function it exports: `(stores, event) => output`. */
  module: string;
  run: string;
  /** The Lambda entry point, relative to the project root. */
  handler: string;
  /** Default memory (MB) and timeout (seconds), overridden by the context keys `<id>Memory`, `<id>Timeout`. */
  memoryMb: number | Record<TrainRuntime, number>;
  timeoutSeconds: number;
  /** The shortest timeout the deployment accepts. */
  minTimeoutSeconds?: number;
  access: StepAccess;
  runtimeFiles: readonly RuntimeFileSet[];
  settings: readonly SettingVariable[];
  /** Absent for the train step: its cost is per task (src/cost/model.ts priceSweep). */
  cost?: StepCost;
}

export const STEPS = {
  // Writes the spec (once: a conditional PutObject, no HEAD) and the manifest, creates the task and
  // sweep records; a resume reads the stored spec (which exists: no ListBucket needed), and one that
  // restarts tasks resets their records and deletes their checkpoints, results and epoch rows.
  plan: {
    states: ['Plan'],
    module: 'plan',
    run: 'plan',
    handler: 'functions/plan.ts',
    memoryMb: 1024,
    // Writes one task record per task: a 10,000-task sweep takes minutes.
    timeoutSeconds: 600,
    access: {
      dynamodb: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:Query', 'dynamodb:BatchWriteItem'],
      s3Read: ['spec'],
      s3Write: ['spec', 'manifest'],
      s3Delete: ['tasks'],
      listBucket: false,
    },
    runtimeFiles: [],
    settings: ['maxConcurrency', 'epochsPerCall'],
    cost: { invocations: () => 1, seconds: ({ tasks }) => 1 + 0.002 * tasks, addsToWallTime: true },
  },
  // Reads the data and model files of its task under files/ (workflow/task-files.ts) where they are not on disk;
  // resumes from a checkpoint if there is one (ListBucket: a missing key reads as 404, not 403),
  // writes epoch rows in batches, the next checkpoint and the task result; when the sweep prunes,
  // reads its references' rows at a rung (BatchGetItem).
  train: {
    states: ['Train'],
    module: 'train',
    run: 'trainStep',
    handler: 'functions/train.ts',
    // Two vCPUs for tfjs-node's thread pool in the container; one full vCPU for single-threaded wasm.
    memoryMb: { container: 3538, zip: 1769 },
    // The Lambda maximum: a task that needs longer checkpoints and is invoked again.
    timeoutSeconds: 900,
    // The train step keeps 30 s in reserve for its checkpoint: less than a minute leaves no time to train.
    minTimeoutSeconds: 60,
    access: {
      dynamodb: ['dynamodb:GetItem', 'dynamodb:UpdateItem', 'dynamodb:BatchWriteItem', 'dynamodb:BatchGetItem'],
      s3Read: ['tasks', 'taskFiles'],
      s3Write: ['tasks'],
      listBucket: true,
    },
    runtimeFiles: ['wasm'],
    settings: ['epochsPerCall'],
  },
  // Marks one task FAILED (RecordFailure, in the Map), or the sweep (MarkSweepFailed, MarkPlanFailed),
  // releasing the execution's lease on it.
  recordFailure: {
    states: ['RecordFailure', 'MarkSweepFailed', 'MarkPlanFailed'],
    module: 'record-failure',
    run: 'recordFailure',
    handler: 'functions/record-failure.ts',
    memoryMb: 256,
    timeoutSeconds: 60,
    access: { dynamodb: ['dynamodb:UpdateItem'], s3Read: [], s3Write: [], listBucket: false },
    runtimeFiles: [],
    settings: [],
    cost: { invocations: ({ failed }) => failed, seconds: () => 0.2, addsToWallTime: false },
  },
  // Reads the spec, the task records and their epoch rows (and settles open pruning rungs:
  // BatchGetItem, UpdateItem); writes plots, summary and report.
  aggregate: {
    states: ['Aggregate'],
    module: 'aggregate',
    run: 'aggregate',
    handler: 'functions/aggregate.ts',
    // Reads every task's epoch rows and renders the plots (vega + resvg).
    memoryMb: 2048,
    timeoutSeconds: 900,
    access: {
      dynamodb: ['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:UpdateItem', 'dynamodb:BatchGetItem'],
      s3Read: ['anySweepKey'],
      s3Write: ['summary', 'report', 'plots'],
      listBucket: true,
    },
    runtimeFiles: ['plotFonts', 'reportScripts'],
    settings: [],
    cost: { invocations: () => 1, seconds: ({ tasks, figures }) => 2 + 0.01 * tasks + 0.5 * figures, addsToWallTime: true },
  },
  // Snapshots the run and its baseline (an earlier sweep, or a file under baselines/), records the
  // verdict, writes repro.json and renders the report again (with its figures) with the verdict.
  compare: {
    states: ['Compare'],
    module: 'compare',
    run: 'compare',
    handler: 'functions/compare.ts',
    memoryMb: 1024,
    timeoutSeconds: 600,
    access: {
      dynamodb: ['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:PutItem'],
      s3Read: ['anySweepKey', 'baselines'],
      s3Write: ['repro', 'report', 'plots'],
      listBucket: true,
    },
    runtimeFiles: ['plotFonts', 'reportScripts'],
    settings: [],
    cost: { invocations: ({ repro }) => (repro ? 1 : 0), seconds: () => 2, addsToWallTime: true },
  },
} satisfies Record<string, StepDefinition>;

export type StepId = keyof typeof STEPS;
export const STEP_IDS = Object.keys(STEPS) as StepId[];

/** A table with one entry per step. */
export function perStep<T>(entry: (id: StepId) => T): Record<StepId, T> {
  return Object.fromEntries(STEP_IDS.map((id) => [id, entry(id)])) as Record<StepId, T>;
}

/** `recordFailure` -> `RecordFailure`: the stem of its construct id and of its ARN substitution. */
const pascal = (id: StepId) => `${id[0]!.toUpperCase()}${id.slice(1)}`;

/** The construct id of a step's function (its logical id starts with it). */
export const functionConstructId = (id: StepId) => `${pascal(id)}Function`;

/** The definition's `${...}` substitution that names a step's function ARN. */
export const functionArnSubstitution = (id: StepId) => `${pascal(id)}FunctionArn`;

/** A step's default memory for the train function's packaging. */
export function defaultMemoryMb(id: StepId, runtime: TrainRuntime): number {
  const memory: StepDefinition['memoryMb'] = STEPS[id].memoryMb;
  return typeof memory === 'number' ? memory : memory[runtime];
}
