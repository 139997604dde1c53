import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { z } from 'zod';
import { type ErrorKind, FloodsweepError } from '../errors.js';
import type { TaskConfig } from '../flooding/config.js';
import type { TaskResult } from '../flooding/metrics.js';
import type { BackendName } from '../flooding/names.js';
import type { StoreConfig } from '../store/open.js';
import { parsePayload, type TrainInput, type TrainOutput, trainOutputSchema } from './payloads.js';
import { type FromWorker, fromWorkerSchema, type ToWorker, taskResultSchema, type WorkerJob, type WorkerSetup } from './protocol.js';

export interface PoolOptions extends WorkerSetup {
  /** Worker threads; defaults to the number of cores. */
  size?: number;
  /** Called after every trained epoch of every job. */
  onEpoch?: (jobId: number, epoch: number, total: number) => void;
}

/**
 * An error thrown inside a worker, keeping its name (the workflow's Catch and Retry match on it)
 * and its kind (which decides the exit code).
 */
export class WorkerJobError extends FloodsweepError {
  constructor(
    name: string,
    kind: ErrorKind,
    message: string,
    readonly workerStack?: string,
  ) {
    super(kind, message);
    this.name = name;
  }
}

interface Job {
  jobId: number;
  job: WorkerJob;
  /** Parses the worker's result (throws if it is not what the job returns). */
  resolve: (result: unknown) => void;
  reject: (error: Error) => void;
}

/** The built worker next to the built pool; from the TypeScript sources, an entry that registers tsx. */
const WORKER_ENTRY = new URL(import.meta.url.endsWith('.ts') ? './worker-entry.mjs' : './worker.js', import.meta.url);

interface Slot {
  worker: Worker;
  ready: Promise<BackendName>;
  job?: Job;
}

/**
 * A fixed set of worker threads, each with its own tfjs backend, training one task at a time.
 * The wasm backend is single-threaded in Node, so threads are how a sweep uses every core.
 */
export class WorkerPool {
  private readonly slots: Slot[] = [];
  private readonly queue: Job[] = [];
  private nextJobId = 0;
  private closed = false;

  constructor(private readonly options: PoolOptions) {
    const size = Math.max(1, options.size ?? availableParallelism());
    const setup: WorkerSetup = { backend: options.backend, backendOptions: options.backendOptions };
    for (let i = 0; i < size; i++) this.slots.push(this.startWorker(setup));
  }

  get size(): number {
    return this.slots.length;
  }

  /** The backend the workers run on (rejects if a worker could not initialise it). */
  backend(): Promise<BackendName> {
    return this.slots[0].ready;
  }

  /** Queues a whole task (trained in memory); resolves with its result. */
  run(config: TaskConfig): { jobId: number; result: Promise<TaskResult> } {
    return this.submit({ kind: 'task', config }, taskResultSchema);
  }

  /** Queues one workflow Train step of a sweep task, against the given stores. */
  trainStep(
    stores: StoreConfig,
    input: TrainInput,
    budget: { maxEpochs?: number; deadline?: number } = {},
  ): { jobId: number; result: Promise<TrainOutput> } {
    return this.submit({ kind: 'trainStep', stores, input, ...budget }, trainOutputSchema);
  }

  private submit<Schema extends z.ZodType>(job: WorkerJob, resultSchema: Schema): { jobId: number; result: Promise<z.output<Schema>> } {
    if (this.closed) throw new Error('pool is closed');
    const jobId = this.nextJobId++;
    const result = new Promise<z.output<Schema>>((resolve, reject) => {
      const settle = (value: unknown) => {
        try {
          resolve(parsePayload(resultSchema, value, `result of worker job ${job.kind}`));
        } catch (error) {
          reject(error as Error);
        }
      };
      this.queue.push({ jobId, job, resolve: settle, reject });
    });
    this.dispatch();
    return { jobId, result };
  }

  /**
   * Stops the workers; jobs still queued or running are rejected, so that nothing waits on them
   * (the local executor's Train state would keep its timeout timer, and the process, alive).
   */
  async close(): Promise<void> {
    this.closed = true;
    const stopped = new FloodsweepError('internal', 'the worker pool was closed');
    this.failEverything(stopped);
    for (const slot of this.slots) {
      slot.job?.reject(stopped);
      slot.job = undefined;
    }
    await Promise.all(this.slots.map((slot) => slot.worker.terminate()));
  }

  private startWorker(setup: WorkerSetup): Slot {
    const worker = new Worker(WORKER_ENTRY, { workerData: setup });
    const slot: Slot = { worker, ready: Promise.resolve('wasm') };
    slot.ready = new Promise<BackendName>((resolve, reject) => {
      const onMessage = (raw: unknown) => {
        const message = parsePayload(fromWorkerSchema, raw, 'worker message');
        if (message.type === 'ready') resolve(message.backend);
        else if (message.type === 'startFailed') reject(new WorkerJobError('BackendError', 'input', message.message));
        else return;
        worker.off('message', onMessage);
      };
      worker.on('message', onMessage);
      worker.once('error', reject);
    });
    slot.ready.then(
      () => this.dispatch(),
      (error: Error) => this.failEverything(error),
    );
    worker.on('message', (raw: unknown) => this.onMessage(slot, parsePayload(fromWorkerSchema, raw, 'worker message')));
    worker.on('error', (error) => {
      slot.job?.reject(error);
      slot.job = undefined;
    });
    return slot;
  }

  private onMessage(slot: Slot, message: FromWorker): void {
    const job = slot.job;
    if (!job || !('jobId' in message) || message.jobId !== job.jobId) return;
    if (message.type === 'epoch') {
      this.options.onEpoch?.(job.jobId, message.epoch, message.total);
      return;
    }
    slot.job = undefined;
    if (message.type === 'done') job.resolve(message.result);
    else if (message.type === 'failed') job.reject(new WorkerJobError(message.name, message.kind, message.message, message.stack));
    this.dispatch();
  }

  private dispatch(): void {
    for (const slot of this.slots) {
      if (slot.job || this.queue.length === 0) continue;
      void slot.ready.then(
        () => {
          if (slot.job || this.queue.length === 0) return;
          slot.job = this.queue.shift()!;
          const message: ToWorker = { type: 'job', jobId: slot.job.jobId, job: slot.job.job };
          slot.worker.postMessage(message);
        },
        () => undefined,
      );
    }
  }

  private failEverything(error: Error): void {
    for (const job of this.queue.splice(0)) job.reject(error);
  }
}
