import type { BackendName, BackendOptions, BackendRequest } from '../flooding/backend.js';
import type { TaskConfig } from '../flooding/config.js';
import type { StoreConfig } from '../store/open.js';
import type { TrainInput } from '../sweep/steps.js';

/** What the pool sends a worker thread when it starts. */
export interface WorkerSetup {
  backend: BackendRequest;
  backendOptions: BackendOptions;
}

/** Work a worker thread does: a whole task in memory, or one workflow Train step against stores. */
export type WorkerJob =
  | { kind: 'task'; config: TaskConfig }
  | { kind: 'trainStep'; stores: StoreConfig; input: TrainInput; maxEpochs?: number; /** Epoch ms by which the step must return. */ deadline?: number };

export type ToWorker = { type: 'job'; jobId: number; job: WorkerJob };

export type FromWorker =
  | { type: 'ready'; backend: BackendName }
  | { type: 'startFailed'; message: string }
  | { type: 'epoch'; jobId: number; epoch: number; total: number }
  | { type: 'done'; jobId: number; result: unknown }
  | { type: 'failed'; jobId: number; name: string; message: string; stack?: string };
