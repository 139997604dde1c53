/** A worker process of the pool (pool.ts): its own tfjs runtime, one job at a time, over the IPC channel. */
import { kindOf } from '../errors.js';
import { backendDescription, initBackend } from '../flooding/backend.js';
import { runTask } from '../flooding/trainer.js';
import { openStores, type StoreConfig, type Stores } from '../store/open.js';
import { parsePayload } from './payloads.js';
import { type FromWorker, toWorkerSchema, type WorkerJob, workerSetupSchema } from './protocol.js';
import { trainStep } from './train.js';

const send = (message: FromWorker) => process.send!(message);
const setup = parsePayload(workerSetupSchema, JSON.parse(process.argv[2]), 'worker setup');
// Ctrl-C reaches the whole process group: the pool decides when its workers stop.
process.on('SIGINT', () => undefined);
// A pool that is gone (its process killed) leaves no worker behind.
process.on('disconnect', () => process.exit(0));

try {
  const backend = await initBackend(setup.backend, setup.backendOptions);
  send({ type: 'ready', backend, description: backendDescription() });
} catch (error) {
  send({ type: 'startFailed', message: (error as Error).message });
}

// One set of store clients per worker and store location, reused across jobs.
const openedStores = new Map<string, Stores>();
function storesFor(config: StoreConfig): Stores {
  const key = JSON.stringify(config);
  if (!openedStores.has(key)) openedStores.set(key, openStores(config));
  return openedStores.get(key)!;
}

async function perform(jobId: number, job: WorkerJob): Promise<unknown> {
  if (job.kind === 'task') {
    return runTask(job.config, { onEpoch: (epoch) => send({ type: 'epoch', jobId, epoch, total: job.config.training.epochs }) });
  }
  const { deadline } = job;
  return trainStep(storesFor(job.stores), job.input, {
    maxEpochs: job.maxEpochs,
    remainingMs: deadline === undefined ? undefined : () => deadline - Date.now(),
    onEpoch: (epoch, total) => send({ type: 'epoch', jobId, epoch, total }),
  });
}

process.on('message', async (raw: unknown) => {
  const { jobId, job } = parsePayload(toWorkerSchema, raw, 'worker job');
  try {
    send({ type: 'done', jobId, result: await perform(jobId, job) });
  } catch (error) {
    const e = error as Error;
    send({
      type: 'failed',
      jobId,
      name: e.name === 'Error' ? e.constructor.name : e.name,
      kind: kindOf(error),
      message: e.message,
      stack: e.stack,
    });
  }
});
