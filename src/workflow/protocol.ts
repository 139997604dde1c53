/**
 * What the worker pool and its processes say to each other. Messages from a worker are parsed with
 * these schemas (a worker is a boundary like a Lambda's), results by the job's own schema.
 */
import { z } from 'zod';
import { taskConfigSchema } from '../flooding/config.js';
import { ERROR_KINDS } from '../flooding/errors.js';
import type { TaskResult } from '../flooding/metrics.js';
import { BACKENDS } from '../flooding/names.js';
import { storeConfigSchema } from '../store/open.js';
import { trainInputSchema } from './payloads.js';

/** What the pool gives a worker process when it starts. */
export const workerSetupSchema = z.strictObject({
  backend: z.enum(['auto', ...BACKENDS]),
  backendOptions: z.strictObject({ wasmDir: z.string().optional(), transposeFirstMatMul: z.boolean().optional() }),
});
export type WorkerSetup = z.output<typeof workerSetupSchema>;

/** Work a worker process does: a whole task in memory, or one workflow Train step against stores. */
export const toWorkerSchema = z.strictObject({
  type: z.literal('job'),
  jobId: z.number(),
  job: z.discriminatedUnion('kind', [
    z.strictObject({ kind: z.literal('task'), config: taskConfigSchema }),
    z.strictObject({
      kind: z.literal('trainStep'),
      stores: storeConfigSchema,
      input: trainInputSchema,
      maxEpochs: z.number().int().positive().optional(),
      /** Epoch ms by which the step must return. */
      deadline: z.number().optional(),
    }),
  ]),
});
export type ToWorker = z.output<typeof toWorkerSchema>;
export type WorkerJob = ToWorker['job'];

export const fromWorkerSchema = z.discriminatedUnion('type', [
  /** `description`: the backend as backendDescription() names it (tfjs-node with its libtensorflow version). */
  z.strictObject({ type: z.literal('ready'), backend: z.enum(BACKENDS), description: z.string() }),
  z.strictObject({ type: z.literal('startFailed'), message: z.string() }),
  z.strictObject({ type: z.literal('epoch'), jobId: z.number(), epoch: z.number(), total: z.number() }),
  z.strictObject({ type: z.literal('done'), jobId: z.number(), result: z.unknown() }),
  z.strictObject({
    type: z.literal('failed'),
    jobId: z.number(),
    name: z.string(),
    kind: z.enum(ERROR_KINDS),
    message: z.string(),
    stack: z.string().optional(),
  }),
]);
export type FromWorker = z.output<typeof fromWorkerSchema>;

/** The backend a worker started, by name and as results name it. */
export type WorkerBackend = Omit<Extract<FromWorker, { type: 'ready' }>, 'type'>;

/** A whole task's result, as far as the pool's callers read it. */
export const taskResultSchema = z.custom<TaskResult>(
  (value) => typeof value === 'object' && value !== null && 'final' in value && 'epochs' in value && 'backend' in value,
  'expected a task result',
);
