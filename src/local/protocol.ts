import type { BackendName, BackendOptions, BackendRequest } from '../flooding/backend.js';
import type { TaskConfig } from '../flooding/config.js';
import type { TaskResult } from '../flooding/metrics.js';

/** What the pool sends a worker thread when it starts. */
export interface WorkerSetup {
  backend: BackendRequest;
  backendOptions: BackendOptions;
}

export type ToWorker = { type: 'train'; jobId: number; config: TaskConfig };

export type FromWorker =
  | { type: 'ready'; backend: BackendName }
  | { type: 'startFailed'; message: string }
  | { type: 'epoch'; jobId: number; epoch: number }
  | { type: 'done'; jobId: number; result: TaskResult }
  | { type: 'failed'; jobId: number; message: string; stack?: string };
