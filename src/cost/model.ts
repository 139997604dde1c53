/**
 * What a sweep costs on AWS, before it runs (an estimate from a calibration) and after (from what
 * the stores recorded). Both go through the same arithmetic: a sweep is reduced to the usage of
 * each service (GB-seconds, requests, state transitions, write and read units, ...), and the usage
 * is priced with one table of list prices. Pure: no I/O, no training (src/calibrate.ts measures).
 */
import { z } from 'zod';
import { ConfigError, describeIssues, type TaskConfig } from '../flooding/config.js';
import { type DataShape, dataShape, multiplyAddsPerSample } from '../sweep/resources.js';
import type { PlannedTask, SweepSpec } from '../sweep/spec.js';
import {
  DEFAULT_MAX_CONCURRENCY,
  defaultMemoryMb,
  STEP_IDS,
  STEPS,
  type StepDefinition,
  type SweepUsage,
  type TrainRuntime,
} from '../workflow-steps.js';

/** Unit prices of one region, in US dollars. */
export interface RegionPrices {
  /** Lambda duration, x86_64 (infra/stack.ts deploys X86_64; arm64 is $0.0000133334). */
  lambdaGbSecond: number;
  lambdaRequestsPerMillion: number;
  /** Standard workflows: the parent and its Distributed Map children (ExecutionType STANDARD). */
  stepFunctionsTransitionsPerThousand: number;
  /** On-demand capacity. */
  dynamoWriteUnitsPerMillion: number;
  dynamoReadUnitsPerMillion: number;
  s3PutsPerThousand: number;
  s3GetsPerThousand: number;
  logsIngestedPerGb: number;
  xrayTracesPerMillion: number;
}

export interface PriceTable {
  /** When the prices were read (YYYY-MM-DD). */
  readOn: string;
  regions: Record<string, RegionPrices>;
}

const US_PRICES: RegionPrices = {
  lambdaGbSecond: 0.0000166667,
  lambdaRequestsPerMillion: 0.2,
  stepFunctionsTransitionsPerThousand: 0.025,
  dynamoWriteUnitsPerMillion: 0.625,
  dynamoReadUnitsPerMillion: 0.125,
  s3PutsPerThousand: 0.005,
  s3GetsPerThousand: 0.0004,
  logsIngestedPerGb: 0.5,
  xrayTracesPerMillion: 5,
};

/**
 * AWS list prices (no free tier, no savings plans), from the pricing pages of Lambda, Step
 * Functions (its per-region table), DynamoDB on-demand (after the November 2024 reduction), S3
 * Standard, CloudWatch Logs and X-Ray. Only regions whose every price was confirmed are listed;
 * `--prices FILE` adds others.
 */
export const LIST_PRICES: PriceTable = {
  readOn: '2026-12-02',
  regions: { 'us-east-1': US_PRICES, 'us-east-2': US_PRICES, 'us-west-2': US_PRICES },
};
export const DEFAULT_REGION = 'us-east-1';

/** The deployed stack's defaults, from the workflow's steps (src/workflow-steps.ts). */
export const DEPLOYED = {
  trainMemoryMb: { container: defaultMemoryMb('train', 'container'), zip: defaultMemoryMb('train', 'zip') } as Record<TrainRuntime, number>,
  trainTimeoutSeconds: STEPS.train.timeoutSeconds,
  maxConcurrency: DEFAULT_MAX_CONCURRENCY,
};

/** Lambda allocates CPU in proportion to memory: one full vCPU at 1,769 MB (up to 6 at 10,240 MB). */
export const FULL_VCPU_MB = 1769;

/**
 * How much longer a second of single-threaded work on one local core takes on a function of this
 * memory: below 1,769 MB the function gets a fraction of a vCPU; above, the extra vCPUs do not
 * speed up a single thread (wasm is single-threaded; tfjs-node's threads make this conservative).
 */
export function lambdaSecondsFactor(memoryMb: number): number {
  return Math.max(1, FULL_VCPU_MB / memoryMb);
}

/**
 * Assumptions the records cannot tell (documented in docs/cloud.md; the seconds of the steps other
 * than Train are in src/workflow-steps.ts). Start-up (INIT) of a new execution environment is
 * billed for both zip and container functions since August 2025.
 */
export const ASSUMED = {
  initSeconds: { container: 5, zip: 2 } as Record<TrainRuntime, number>,
  /** A task item (its config, final metrics and usage) is 1-2 KB: 2 write units per put or update. */
  taskItemWriteUnits: 2,
  /** A task item read strongly consistent is under 4 KB: 1 read unit; a listing reads 2 KB per task. */
  taskItemKb: 2,
  /** An epoch row is about 0.5 KB: 1 write unit, 8 per read unit in a query. */
  epochRowKb: 0.5,
  /** Aggregate reads each task's rows for the summary and again for the figures. */
  epochReadsPerTask: 2,
  /** ResultWriter writes a manifest and a result file per status. */
  resultWriterPuts: 3,
  /** Level ALL with execution data logs every history event: about 1.5 KB per state transition. */
  logBytesPerTransition: 1500,
  /** START, END and REPORT lines of an invocation. */
  logBytesPerInvocation: 400,
  /** The report's figures per group (accuracy against level, losses, accuracies, ...), each a PNG and an SVG. */
  figuresPerGroup: 4,
};

/**
 * A cheap timing without training, for `sweep validate`: the model's multiply-adds at the
 * throughput of the wasm backend on one core, plus a fixed cost per mini-batch step (both fitted
 * to calibrations on the reference machine, docs/cloud.md). Undefined for csv data sets (their
 * width is in the file).
 */
export const WASM_FLOPS_PER_SECOND = 8e9;
export const SECONDS_PER_STEP = 0.04;
const SECONDS_PER_CALL = 0.2;

export function flopTiming(config: TaskConfig, shape: DataShape | undefined = dataShape(config.dataset)): TaskTiming | undefined {
  const { model, training } = config;
  if (!shape) return undefined;
  const { features: dim, classes } = shape;
  const { train, val, test } = shape.rows;
  const params = multiplyAddsPerSample(model, dim, classes);
  const trainFlops = 6 * params * train;
  const evalFlops = 2 * params * (train + val + test);
  const steps = Math.ceil(train / training.batchSize);
  const evaluationsPerEpoch = evaluatedEpochs(config) / training.epochs;
  return {
    secondsPerEpoch: (trainFlops + evaluationsPerEpoch * evalFlops) / WASM_FLOPS_PER_SECOND + steps * SECONDS_PER_STEP,
    secondsPerCall: SECONDS_PER_CALL,
  };
}

/** One task's usage of the train function. */
export interface TaskUsage {
  /** Train invocations: each pass of the Train/Choice loop, retries included. */
  calls: number;
  /** Billed seconds of those invocations on the deployed function. */
  seconds: number;
  memoryMb: number;
  /** Epoch rows written, rewrites after a retry included. */
  rows: number;
  succeeded: boolean;
}

export interface SweepShape {
  tasks: TaskUsage[];
  /** Figures of the report (each written as PNG and SVG). */
  figures: number;
  repro: boolean;
  /** Parallel tasks: the spec's maxConcurrency, capped by the deployment. */
  concurrency: number;
  runtime: TrainRuntime;
}

export const SERVICES = [
  'Lambda compute',
  'Lambda requests',
  'Step Functions',
  'DynamoDB writes',
  'DynamoDB reads',
  'S3 PUT',
  'S3 GET',
  'CloudWatch Logs',
  'X-Ray',
] as const;
export type Service = (typeof SERVICES)[number];

export interface CostLine {
  service: Service;
  quantity: number;
  unit: string;
  /** The price of `per` units. */
  unitPriceUsd: number;
  per: number;
  costUsd: number;
}

export interface CostBreakdown {
  lines: CostLine[];
  totalUsd: number;
  /** The service that costs most. */
  dominant: Service;
  /** From the start of the execution to its end, at the sweep's concurrency. */
  wallSeconds: number;
}

/** The usage of every service by a sweep of this shape, priced. */
export function priceSweep(shape: SweepShape, prices: RegionPrices): CostBreakdown {
  const { tasks, figures, repro } = shape;
  const taskCount = tasks.length;
  const failed = tasks.filter((task) => !task.succeeded).length;
  const sum = (value: (task: TaskUsage) => number) => tasks.reduce((total, task) => total + value(task), 0);
  const coldStarts = Math.min(taskCount, shape.concurrency);
  const initSeconds = ASSUMED.initSeconds[shape.runtime];
  const meanMemoryMb = taskCount === 0 ? 0 : sum((task) => task.memoryMb) / taskCount;
  const steps = otherSteps(shape.runtime, { tasks: taskCount, failed, figures, repro });
  const gbSeconds =
    sum((task) => (task.seconds * task.memoryMb) / 1024) +
    (coldStarts * initSeconds * meanMemoryMb) / 1024 +
    steps.reduce((total, step) => total + step.invocations * step.seconds * step.memoryMb, 0) / 1024;
  const calls = sum((task) => task.calls);
  const requests = calls + steps.reduce((total, step) => total + step.invocations, 0);
  // Parent: Plan, TrainAll, Aggregate, ReproducibilityRun?, Done (+ Compare, Reproduced? for repro
  // runs). Each child: Train and TaskDone? per call, then TaskDone (or RecordFailure).
  const transitions = 5 + (repro ? 2 : 0) + 2 * calls + taskCount;
  const taskWrites = ASSUMED.taskItemWriteUnits;
  // Plan: the sweep record and one task item each; per call: the RUNNING and the closing update.
  const writeUnits = 2 + taskCount * taskWrites + 2 * calls * taskWrites + sum((task) => task.rows) + failed * taskWrites + 2;
  const listing = Math.max(1, Math.ceil((taskCount * ASSUMED.taskItemKb) / 4));
  const epochReads = sum((task) => ASSUMED.epochReadsPerTask * Math.max(1, Math.ceil((task.rows * ASSUMED.epochRowKb) / 4)));
  // Train reads its task item per call; Plan lists the tasks, Aggregate reads the sweep and lists the tasks twice.
  const readUnits = calls + listing + 2 + 2 * listing + epochReads;
  const checkpoints = sum((task) => (task.succeeded ? task.calls - 1 : 0));
  const puts = 2 + checkpoints + (taskCount - failed) + ASSUMED.resultWriterPuts + 2 + 2 * figures;
  // The ItemReader; a checkpoint read per call (the first one misses, still billed); the spec, twice by Aggregate.
  const gets = 1 + calls + 2;
  const logGb = (transitions * ASSUMED.logBytesPerTransition + requests * ASSUMED.logBytesPerInvocation) / 1e9;
  const traces = taskCount + 1;
  const line = (service: Service, quantity: number, unit: string, unitPriceUsd: number, per: number): CostLine => ({
    service,
    quantity,
    unit,
    unitPriceUsd,
    per,
    costUsd: (quantity * unitPriceUsd) / per,
  });
  const lines = [
    line('Lambda compute', gbSeconds, 'GB-s', prices.lambdaGbSecond, 1),
    line('Lambda requests', requests, 'requests', prices.lambdaRequestsPerMillion, 1e6),
    line('Step Functions', transitions, 'state transitions', prices.stepFunctionsTransitionsPerThousand, 1e3),
    line('DynamoDB writes', writeUnits, 'write request units', prices.dynamoWriteUnitsPerMillion, 1e6),
    line('DynamoDB reads', readUnits, 'read request units', prices.dynamoReadUnitsPerMillion, 1e6),
    line('S3 PUT', puts, 'requests', prices.s3PutsPerThousand, 1e3),
    line('S3 GET', gets, 'requests', prices.s3GetsPerThousand, 1e3),
    line('CloudWatch Logs', logGb, 'GB ingested', prices.logsIngestedPerGb, 1),
    line('X-Ray', traces, 'traces', prices.xrayTracesPerMillion, 1e6),
  ];
  const dominant = lines.reduce((most, l) => (l.costUsd > most.costUsd ? l : most)).service;
  const taskSeconds = tasks.map((task, index) => task.seconds + (index < coldStarts ? initSeconds : 0));
  const wallSeconds =
    makespan(taskSeconds, shape.concurrency) +
    steps.reduce((total, step) => total + (step.addsToWallTime ? step.invocations * step.seconds : 0), 0);
  return { lines, totalUsd: lines.reduce((total, l) => total + l.costUsd, 0), dominant, wallSeconds };
}

/** The usage of every step but Train (whose usage is per task), on its deployed memory. */
function otherSteps(runtime: TrainRuntime, usage: SweepUsage) {
  return STEP_IDS.flatMap((id) => {
    const { cost }: StepDefinition = STEPS[id];
    if (!cost) return [];
    const invocations = cost.invocations(usage);
    return [{ invocations, seconds: cost.seconds(usage), memoryMb: defaultMemoryMb(id, runtime), addsToWallTime: cost.addsToWallTime }];
  });
}

/** The Map starts items in order, each on the first free slot. */
export function makespan(durations: number[], slots: number): number {
  const freeAt = new Array<number>(Math.max(1, Math.min(slots, durations.length))).fill(0);
  for (const duration of durations) {
    let first = 0;
    for (let i = 1; i < freeAt.length; i++) if (freeAt[i] < freeAt[first]) first = i;
    freeAt[first] += duration;
  }
  return Math.max(0, ...freeAt);
}

/** Evaluated epochs of a task, epoch 0 included: the epoch rows it writes. */
export function evaluatedEpochs(config: TaskConfig): number {
  const { epochs, evalEvery } = config.training;
  return 1 + Math.floor(epochs / evalEvery) + (epochs % evalEvery === 0 ? 0 : 1);
}

/** What one task costs in time on the deployed function. */
export interface TaskTiming {
  /** Seconds per epoch, its share of evaluations included. */
  secondsPerEpoch: number;
  /** Seconds every Train call spends besides epochs (data set, model, checkpoint). */
  secondsPerCall: number;
}

/** Calls a task needs: epochs per call when set, else as many epochs as the timeout allows (train.ts budget). */
export function callsPerTask(epochs: number, timing: TaskTiming, epochsPerCall?: number): number {
  if (epochsPerCall !== undefined) return Math.ceil(epochs / epochsPerCall);
  const budget = DEPLOYED.trainTimeoutSeconds - 30 - timing.secondsPerCall;
  const perCall = Math.max(1, Math.floor(budget / Math.max(timing.secondsPerEpoch, 1e-9)) - 2);
  return Math.ceil(epochs / perCall);
}

export interface EstimateSettings {
  runtime: TrainRuntime;
  trainMemoryMb: number;
  concurrency: number;
  epochsPerCall?: number;
  repro?: boolean;
  /** Figures the report draws; about 2 per group when not known. */
  figures: number;
}

/** The shape of a planned sweep whose tasks take `timing` (already on the deployed function). */
export function plannedShape(configs: TaskConfig[], timing: (config: TaskConfig) => TaskTiming, settings: EstimateSettings): SweepShape {
  return {
    tasks: configs.map((config) => {
      const t = timing(config);
      const calls = callsPerTask(config.training.epochs, t, settings.epochsPerCall);
      return {
        calls,
        seconds: calls * t.secondsPerCall + config.training.epochs * t.secondsPerEpoch,
        memoryMb: settings.trainMemoryMb,
        rows: evaluatedEpochs(config),
        succeeded: true,
      };
    }),
    figures: settings.figures,
    repro: settings.repro ?? false,
    concurrency: settings.concurrency,
    runtime: settings.runtime,
  };
}

/**
 * The estimate without a calibration (`sweep validate` stays fast): FLOP timings on the default
 * container function at us-east-1 list prices. Undefined when a task's timing needs its data (csv).
 */
export function flopEstimate(spec: SweepSpec, tasks: readonly PlannedTask[]): StoredCostEstimate | undefined {
  const timings = tasks.map((task) => flopTiming(task.config));
  if (timings.some((timing) => timing === undefined)) return undefined;
  const runtime: TrainRuntime = 'container';
  const trainMemoryMb = DEPLOYED.trainMemoryMb[runtime];
  const factor = lambdaSecondsFactor(trainMemoryMb);
  const byTask = new Map(tasks.map((task, i) => [task.config, timings[i]!]));
  const groups = new Set(tasks.map((task) => task.group)).size;
  const shape = plannedShape(
    tasks.map((task) => task.config),
    (config) => {
      const t = byTask.get(config)!;
      return { secondsPerEpoch: t.secondsPerEpoch * factor, secondsPerCall: t.secondsPerCall * factor };
    },
    {
      runtime,
      trainMemoryMb,
      concurrency: Math.min(spec.execution.maxConcurrency, DEPLOYED.maxConcurrency),
      figures: groups * ASSUMED.figuresPerGroup,
    },
  );
  const prices = LIST_PRICES.regions[DEFAULT_REGION];
  return storedEstimate(priceSweep(shape, prices), {
    region: DEFAULT_REGION,
    runtime,
    trainMemoryMb,
    timing: 'from FLOPs (no calibration)',
    pricesReadOn: LIST_PRICES.readOn,
    prices,
  });
}

/** What a sweep keeps of its estimate (in its sweep record): enough to compare, and to price what it did with the same prices. */
export interface StoredCostEstimate {
  totalUsd: number;
  wallSeconds: number;
  byService: Partial<Record<Service, number>>;
  region: string;
  runtime: TrainRuntime;
  trainMemoryMb: number;
  /** How the seconds per epoch were found: "wasm calibration", "--seconds-per-epoch", ... */
  timing: string;
  pricesReadOn: string;
  prices: RegionPrices;
}

export function storedEstimate(
  breakdown: CostBreakdown,
  settings: Pick<StoredCostEstimate, 'region' | 'runtime' | 'trainMemoryMb' | 'timing' | 'pricesReadOn' | 'prices'>,
): StoredCostEstimate {
  return {
    totalUsd: breakdown.totalUsd,
    wallSeconds: breakdown.wallSeconds,
    byService: Object.fromEntries(breakdown.lines.map((l) => [l.service, l.costUsd])),
    ...settings,
  };
}

/** The usage a task recorded (src/workflow/train.ts). */
export interface RecordedUsage {
  /** Seconds in Train calls, summed. */
  seconds: number;
  /** Epoch rows written, rewrites included. */
  rows: number;
  /** Set when measured on Lambda: the function's memory. Absent: measured on a local core. */
  lambdaMemoryMb?: number;
}

/** What the cost reads of a task record (sweep/records.ts TaskRecord). */
export interface TaskOutcome {
  /** Train calls, retries included. */
  attempts: number;
  status: string;
  usage?: RecordedUsage;
}

export interface IncurredCost {
  breakdown: CostBreakdown;
  /** Tasks without recorded usage (never trained, or recorded before usage was), priced at zero seconds. */
  unmeasuredTasks: number;
  /** True when the seconds were measured locally and scaled to the function's vCPU share. */
  scaledFromLocal: boolean;
}

/**
 * What a sweep cost, from its records: calls (attempts), seconds and rows per task. Seconds a
 * local run measured are scaled to the function the estimate assumed (lambdaSecondsFactor), so a
 * local run tells what the same work costs on Lambda.
 */
export function incurredCost(
  sweep: { costEstimate?: StoredCostEstimate },
  tasks: readonly TaskOutcome[],
  options: { figures: number; repro?: boolean; concurrency: number },
): IncurredCost {
  const estimate = sweep.costEstimate;
  const runtime = estimate?.runtime ?? 'container';
  const memoryMb = estimate?.trainMemoryMb ?? DEPLOYED.trainMemoryMb[runtime];
  const prices = estimate?.prices ?? LIST_PRICES.regions[DEFAULT_REGION];
  let unmeasuredTasks = 0;
  let scaledFromLocal = false;
  const usage = tasks.map((task): TaskUsage => {
    const recorded = task.usage;
    if (!recorded) unmeasuredTasks += 1;
    if (recorded && recorded.lambdaMemoryMb === undefined) scaledFromLocal = true;
    const onLambda = recorded?.lambdaMemoryMb;
    return {
      calls: task.attempts,
      seconds: (recorded?.seconds ?? 0) * (onLambda ? 1 : lambdaSecondsFactor(memoryMb)),
      memoryMb: onLambda ?? memoryMb,
      rows: recorded?.rows ?? 0,
      succeeded: task.status === 'SUCCEEDED',
    };
  });
  const breakdown = priceSweep(
    { tasks: usage, figures: options.figures, repro: options.repro ?? false, concurrency: options.concurrency, runtime },
    prices,
  );
  return { breakdown, unmeasuredTasks, scaledFromLocal };
}

/** What a finished sweep shows: the cost it incurred next to the estimate it started with. */
export interface CostComparison {
  incurred: IncurredCost;
  estimate?: StoredCostEstimate;
}

/** Dollars with cents, or two significant digits below a cent. */
export function formatUsd(value: number): string {
  return value >= 0.01 ? `$${value.toFixed(2)}` : `$${value.toPrecision(2)}`;
}

/** "incurred $0.05 at list prices; estimated $0.04 (1.25x)". */
export function describeComparison({ incurred, estimate }: CostComparison): string {
  const total = incurred.breakdown.totalUsd;
  const versus = estimate
    ? `; estimated ${formatUsd(estimate.totalUsd)} (incurred/estimated ${(total / estimate.totalUsd).toFixed(2)}x)`
    : '; no estimate stored';
  const notes = [
    incurred.scaledFromLocal ? 'seconds measured locally, scaled to the function' : 'seconds measured on Lambda',
    incurred.unmeasuredTasks > 0 ? `${incurred.unmeasuredTasks} tasks without recorded usage` : '',
  ].filter(Boolean);
  return `incurred ${formatUsd(total)} at list prices${versus}; ${incurred.breakdown.dominant} dominates; ${notes.join('; ')}`;
}

const price = z.number().min(0);
const regionPricesSchema = z.strictObject({
  lambdaGbSecond: price,
  lambdaRequestsPerMillion: price,
  stepFunctionsTransitionsPerThousand: price,
  dynamoWriteUnitsPerMillion: price,
  dynamoReadUnitsPerMillion: price,
  s3PutsPerThousand: price,
  s3GetsPerThousand: price,
  logsIngestedPerGb: price,
  xrayTracesPerMillion: price,
});
const priceTableSchema = z.strictObject({
  readOn: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a date, YYYY-MM-DD'),
  regions: z.record(z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'must be a region name like eu-west-1'), regionPricesSchema),
});

/**
 * A prices file: `{"readOn": "YYYY-MM-DD", "regions": {"<region>": {<every unit price>}}}`. Its
 * regions replace or add to the built-in ones. Problems name the field, prefixed with `source`.
 */
export function parsePriceTable(text: string, source: string): PriceTable {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ConfigError([`${source}: not valid JSON`]);
  }
  const parsed = priceTableSchema.safeParse(json);
  if (!parsed.success) throw new ConfigError(describeIssues(parsed.error).map((line) => `${source}: ${line}`));
  return { readOn: parsed.data.readOn, regions: { ...LIST_PRICES.regions, ...parsed.data.regions } };
}

/** The prices of a region; an unknown region is bad input naming the ones the table has. */
export function regionPrices(table: PriceTable, region: string, flag = '--region'): RegionPrices {
  const prices = Object.hasOwn(table.regions, region) ? table.regions[region] : undefined;
  if (!prices) {
    throw new ConfigError([
      `${flag}: no prices for region ${JSON.stringify(region.slice(0, 40))}; known: ${Object.keys(table.regions).join(', ')} (add others with --prices FILE)`,
    ]);
  }
  return prices;
}
