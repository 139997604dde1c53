/**
 * The payload of every state of the workflow (definition.asl.json), as zod schemas. Each step
 * parses its input at entry and the local executor parses what crosses to a worker process, so a
 * malformed payload fails at the boundary with the field named, not deep inside a step.
 * Payloads stay small (ids and keys): Step Functions caps a state's input and output at 256 KiB.
 */
import { z } from 'zod';
import type { StoredCostEstimate } from '../cost/model.js';
import { FloodsweepError } from '../errors.js';
import { describeIssues } from '../flooding/config.js';
import { REPRO_VERDICTS } from '../sweep/records.js';

const id = z.string().min(1).max(128);

/** A reproducibility run's block of the execution input: its name, its baseline, its tolerances. */
export const reproBlockSchema = z.strictObject({
  name: id,
  /** An earlier sweep, or a baseline file stored as an artifact. */
  baseline: z.union([z.strictObject({ sweepId: id }), z.strictObject({ key: z.string().min(1) })]),
  /** Validated by the Compare step (sweep/repro.ts toleranceSchema). */
  tolerances: z.unknown().optional(),
});
export type ReproBlock = z.output<typeof reproBlockSchema>;

/** The execution's input. */
export const executionInputSchema = z.object({
  /** Validated by Plan (sweep/spec.ts). */
  spec: z.unknown(),
  /** The sweep's id: given when resuming, made from the spec's name otherwise. */
  sweepId: id.optional(),
  maxTasks: z.number().int().positive().optional(),
  /** Fewer training tasks at once than the spec asks: what the account's Lambda concurrency allows (cloud-executor.ts concurrencyFor). */
  maxConcurrency: z.number().int().positive().optional(),
  repro: reproBlockSchema.optional(),
  /** Resuming: tasks to retrain from scratch, by id (any string: Plan names an unknown one), and/or every FAILED task. */
  restart: z.strictObject({ taskIds: z.array(z.string()).optional(), failed: z.boolean().optional() }).optional(),
  /** The estimate the sweep starts with (about 1 KB); Plan keeps it in the sweep record. */
  costEstimate: z
    .custom<StoredCostEstimate>(
      (value) => typeof (value as StoredCostEstimate | undefined)?.totalUsd === 'number',
      'expected a cost estimate',
    )
    .optional(),
});
export type ExecutionInput = z.output<typeof executionInputSchema>;

/** Plan gets the execution input and the execution's name, from which it derives a missing sweep id. */
export const planInputSchema = z.strictObject({
  input: executionInputSchema,
  executionName: z.string().min(1).max(80),
  /** In the cloud: the execution's ARN, which the sweep record keeps and its lease names. */
  executionArn: z.string().min(1).max(2048).optional(),
});
export type PlanInput = z.output<typeof planInputSchema>;

export const planOutputSchema = z.strictObject({
  sweepId: id,
  manifestKey: z.string(),
  taskCount: z.number().int().nonnegative(),
  /** Epochs over all tasks: what progress counts towards. */
  epochCount: z.number().int().nonnegative(),
  maxConcurrency: z.number().int().positive(),
});
export type PlanOutput = z.output<typeof planOutputSchema>;

/** One item of the manifest, and the input of Train. */
export const manifestItemSchema = z.strictObject({ sweepId: id, taskId: id });
export type ManifestItem = z.output<typeof manifestItemSchema>;
export const manifestSchema = z.array(manifestItemSchema);

export const trainOutputSchema = z.strictObject({ sweepId: id, taskId: id, done: z.boolean(), epoch: z.number().int().nonnegative() });
export type TrainOutput = z.output<typeof trainOutputSchema>;

/** A manifest item on the first call; the previous call's output when the Choice loops back to Train. */
export const trainInputSchema = manifestItemSchema.extend({
  done: z.boolean().optional(),
  epoch: z.number().int().nonnegative().optional(),
});
export type TrainInput = z.output<typeof trainInputSchema>;

const caughtErrorSchema = z.object({ Error: z.string().optional(), Cause: z.string().optional() });

/**
 * RecordFailure's input: a task's (Train's input plus the error its Catch put at `$.error`), or,
 * without a taskId, the sweep's: a step after Plan failed (MarkSweepFailed passes `$.failure`), or
 * Plan itself (MarkPlanFailed passes the execution's input, from which Plan derives the sweep's id).
 * With the execution's name, the execution's lease on the sweep is released.
 */
export const failureInputSchema = z.object({
  sweepId: id.optional(),
  taskId: id.optional(),
  error: caughtErrorSchema.optional(),
  executionName: z.string().min(1).max(80).optional(),
  input: executionInputSchema.optional(),
});
export type FailureInput = z.output<typeof failureInputSchema>;

/** Without a sweep id: Plan failed before it could name the sweep (an invalid spec), so nothing was recorded. */
export const failureOutputSchema = z.strictObject({ sweepId: id.optional(), taskId: id.optional(), failed: z.literal(true) });
export type FailureOutput = z.output<typeof failureOutputSchema>;

/** With the execution's name (in the cloud), Aggregate releases the execution's lease on the sweep. */
export const aggregateInputSchema = z.strictObject({ sweepId: id, executionName: z.string().min(1).max(80).optional() });
export type AggregateInput = z.output<typeof aggregateInputSchema>;

export const aggregateOutputSchema = z.strictObject({ sweepId: id, status: z.string(), summaryKey: z.string(), reportKey: z.string() });
export type AggregateOutput = z.output<typeof aggregateOutputSchema>;

export const compareInputSchema = z.strictObject({ sweepId: id, repro: reproBlockSchema });
export type CompareInput = z.output<typeof compareInputSchema>;

export const compareOutputSchema = z.strictObject({
  sweepId: id,
  name: id,
  verdict: z.enum(REPRO_VERDICTS),
  message: z.string(),
  /** The alert's subject: SNS allows at most 100 characters. */
  subject: z.string().max(100),
});
export type CompareOutput = z.output<typeof compareOutputSchema>;

/** The NotifyDrift state's parameters (an SNS publish in the cloud). */
export const alertSchema = z.object({ Subject: z.string(), Message: z.string() });

/** The execution's output: its input with each state's result at its ResultPath. */
export const executionOutputSchema = z.object({
  plan: planOutputSchema.extend({ items: z.unknown().optional() }),
  aggregate: aggregateOutputSchema,
  compare: compareOutputSchema.optional(),
});

/** A payload that does not match its state's schema: the workflow or a handler is miswired. */
export class PayloadError extends FloodsweepError {
  override name = 'PayloadError';

  constructor(message: string) {
    super('internal', message);
  }
}

export function parsePayload<T extends z.ZodType>(schema: T, value: unknown, where: string): z.output<T> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new PayloadError(`${where}: ${describeIssues(parsed.error).join('; ')}`);
  return parsed.data;
}
