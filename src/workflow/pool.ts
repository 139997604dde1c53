import { type ChildProcess, fork } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { z } from 'zod';
import { type ErrorKind, FloodsweepError } from '../errors.js';
import type { TaskConfig } from '../flooding/config.js';
import type { TaskResult } from '../flooding/metrics.js';
import type { StoreConfig } from '../store/open.js';
import { parsePayload, type TrainInput, type TrainOutput, trainOutputSchema } from './payloads.js';
import {
  type FromWorker,
  fromWorkerSchema,
  type ToWorker,
  taskResultSchema,
  type WorkerBackend,
  type WorkerJob,
  type WorkerSetup,
} from './protocol.js';

export interface PoolOptions extends WorkerSetup {
  /** Worker processes; defaults to the number of cores. */
  size?: number;
  /** Called after every trained epoch of every job. */
  onEpoch?: (jobId: number, epoch: number, total: number) => void;
  /** Passes the workers' stderr through unfiltered (TensorFlow's load-time lines included). */
  debug?: boolean;
  /** Cores the workers share (TensorFlow's thread pools are sized from it); defaults to this machine's. */
  cores?: number;
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

/**
 * What Lambda reports when its runtime process dies (segfault, out-of-memory kill, abort): the
 * workflow's Train Retry matches this name, so the task runs again from its checkpoint.
 */
export const WORKER_EXIT_ERROR = 'Runtime.ExitError';

interface Job {
  jobId: number;
  job: WorkerJob;
  /** Parses the worker's result (throws if it is not what the job returns). */
  resolve: (result: unknown) => void;
  reject: (error: Error) => void;
}

/** The built worker next to the built pool; from the TypeScript sources, the .ts worker under tsx. */
const FROM_SOURCES = import.meta.url.endsWith('.ts');
const WORKER_ENTRY = fileURLToPath(new URL(FROM_SOURCES ? './worker.ts' : './worker.js', import.meta.url));
const WORKER_EXEC_ARGV = FROM_SOURCES ? ['--import', 'tsx'] : [];

/**
 * Lines TensorFlow writes to stderr when it loads, whatever TF_CPP_MIN_LOG_LEVEL says: absl's
 * pre-initialisation notice, glog-style info lines (`I0000 00:00:...`), the CPU feature and oneDNN
 * notices. Anything else a worker writes (a crash report, a warning of ours) goes through.
 */
const TENSORFLOW_NOISE = [
  /^WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR$/,
  /^[IW]\d{4} \d+:\d+:\d+\.\d+ +\d+ [\w.]+:\d+\]/,
  /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [IW] tensorflow\//,
  /^To enable the following instructions: .*, in other operations, rebuild TensorFlow with the appropriate compiler flags\.$/,
  /oneDNN custom operations are on/,
];

export function isTensorFlowNoise(line: string): boolean {
  return TENSORFLOW_NOISE.some((pattern) => pattern.test(line));
}

/**
 * TensorFlow's thread pools per worker process: the cores split between the workers (intra-op:
 * the threads one product uses; inter-op 1: a training step is a chain of dependent ops). Values
 * the user set in the environment win.
 */
export function tensorFlowThreads(workers: number, cores: number): Record<'TF_NUM_INTRAOP_THREADS' | 'TF_NUM_INTEROP_THREADS', string> {
  return {
    TF_NUM_INTRAOP_THREADS: process.env.TF_NUM_INTRAOP_THREADS ?? String(Math.max(1, Math.floor(cores / workers))),
    TF_NUM_INTEROP_THREADS: process.env.TF_NUM_INTEROP_THREADS ?? '1',
  };
}

interface Slot {
  child: ChildProcess;
  ready: Promise<WorkerBackend>;
  /** Why its worker could not start (then no job goes to it). */
  startError?: Error;
  job?: Job;
}

/**
 * A fixed set of worker processes, each with its own tfjs runtime, training one task at a time.
 * Processes, not threads: tfjs-node's addon is not thread-safe (two threads running ops corrupt
 * its process-wide attribute-name set), and the wasm backend is single-threaded in Node, so one
 * runner per core is how a sweep uses every core on either backend. A worker that dies fails only
 * the job it was running (as `Runtime.ExitError`) and is replaced.
 */
export class WorkerPool {
  private readonly slots: Slot[] = [];
  private readonly queue: Job[] = [];
  private readonly setup: WorkerSetup;
  private readonly env: NodeJS.ProcessEnv;
  private readonly started: Promise<WorkerBackend>;
  private nextJobId = 0;
  private closed = false;

  constructor(private readonly options: PoolOptions) {
    const size = Math.max(1, options.size ?? availableParallelism());
    this.setup = { backend: options.backend, backendOptions: options.backendOptions };
    this.env = {
      ...process.env,
      ...tensorFlowThreads(size, options.cores ?? availableParallelism()),
      // Most of TensorFlow's load-time lines; the filter below takes the ones that ignore it.
      ...(options.debug ? {} : { TF_CPP_MIN_LOG_LEVEL: process.env.TF_CPP_MIN_LOG_LEVEL ?? '2' }),
    };
    for (let i = 0; i < size; i++) {
      const slot = {} as Slot;
      this.startWorker(slot);
      this.slots.push(slot);
    }
    this.started = this.slots[0].ready;
  }

  get size(): number {
    return this.slots.length;
  }

  /** The backend the workers run on (rejects if a worker could not initialise it). */
  backend(): Promise<WorkerBackend> {
    return this.started;
  }

  /** The worker processes' ids (a test kills one). */
  pids(): number[] {
    return this.slots.map((slot) => slot.child.pid!);
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
    if (this.closed) return;
    this.closed = true;
    const stopped = new FloodsweepError('internal', 'the worker pool was closed');
    this.failEverything(stopped);
    for (const slot of this.slots) {
      slot.job?.reject(stopped);
      slot.job = undefined;
    }
    await Promise.all(this.slots.map(({ child }) => stopChild(child)));
  }

  /** Starts a worker process in `slot` (a new one, or the place of one that died). */
  private startWorker(slot: Slot): void {
    const child = fork(WORKER_ENTRY, [JSON.stringify(this.setup)], {
      execArgv: WORKER_EXEC_ARGV,
      env: this.env,
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
      serialization: 'advanced',
    });
    this.forwardStderr(child);
    slot.child = child;
    slot.ready = new Promise<WorkerBackend>((resolve, reject) => {
      const onMessage = (raw: unknown) => {
        const message = parsePayload(fromWorkerSchema, raw, 'worker message');
        if (message.type === 'ready') resolve({ backend: message.backend, description: message.description });
        else if (message.type === 'startFailed') reject(new WorkerJobError('BackendError', 'input', message.message));
        else return;
        child.off('message', onMessage);
      };
      child.on('message', onMessage);
      child.once('exit', (code, signal) =>
        reject(new WorkerJobError(WORKER_EXIT_ERROR, 'internal', `a worker process ${exitDescription(code, signal)} while starting`)),
      );
      child.once('error', reject);
    });
    slot.ready.then(
      () => this.dispatch(),
      (error: Error) => {
        slot.startError = error;
        this.dispatch();
      },
    );
    child.on('message', (raw: unknown) => this.onMessage(slot, parsePayload(fromWorkerSchema, raw, 'worker message')));
    child.once('exit', (code, signal) => this.onExit(slot, code, signal));
  }

  /** A worker that dies fails its job (the workflow retries it from its checkpoint) and gets a successor. */
  private onExit(slot: Slot, code: number | null, signal: NodeJS.Signals | null): void {
    const job = slot.job;
    slot.job = undefined;
    if (this.closed) return;
    job?.reject(
      new WorkerJobError(
        WORKER_EXIT_ERROR,
        'internal',
        `the worker process ${exitDescription(code, signal)} during ${describeJob(job.job)}`,
      ),
    );
    // One that never became ready failed to start: its successor would fail the same way.
    slot.ready.then(
      () => this.startWorker(slot),
      () => undefined,
    );
  }

  private forwardStderr(child: ChildProcess): void {
    const lines = createInterface({ input: child.stderr!, crlfDelay: Number.POSITIVE_INFINITY });
    lines.on('line', (line) => {
      if (this.options.debug || !isTensorFlowNoise(line)) process.stderr.write(`${line}\n`);
    });
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
    // With no worker that can start, nothing queued would ever run.
    const startError = this.slots.every((slot) => slot.startError) ? this.slots[0]?.startError : undefined;
    if (startError) this.failEverything(startError);
    for (const slot of this.slots) {
      if (slot.job || this.queue.length === 0) continue;
      const { child } = slot;
      void slot.ready.then(
        () => {
          if (this.closed || slot.job || slot.child !== child || !child.connected || this.queue.length === 0) return;
          slot.job = this.queue.shift()!;
          const message: ToWorker = { type: 'job', jobId: slot.job.jobId, job: slot.job.job };
          child.send(message);
        },
        () => undefined,
      );
    }
  }

  private failEverything(error: Error): void {
    for (const job of this.queue.splice(0)) job.reject(error);
  }
}

function exitDescription(code: number | null, signal: NodeJS.Signals | null): string {
  return signal ? `was killed by ${signal}` : `exited with code ${code}`;
}

function describeJob(job: WorkerJob): string {
  return job.kind === 'trainStep' ? `task ${job.input.taskId}` : 'a task';
}

/** Asks a worker to stop (SIGTERM); resolves once it has exited. */
function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}
