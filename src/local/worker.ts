import { parentPort, workerData } from 'node:worker_threads';
import { initBackend } from '../flooding/backend.js';
import { runTask } from '../flooding/trainer.js';
import type { FromWorker, ToWorker, WorkerSetup } from './protocol.js';

const port = parentPort!;
const send = (message: FromWorker) => port.postMessage(message);
const setup = workerData as WorkerSetup;

try {
  send({ type: 'ready', backend: await initBackend(setup.backend, setup.backendOptions) });
} catch (error) {
  send({ type: 'startFailed', message: (error as Error).message });
}

port.on('message', (message: ToWorker) => {
  const { jobId, config } = message;
  try {
    const result = runTask(config, { onEpoch: (epoch) => send({ type: 'epoch', jobId, epoch }) });
    send({ type: 'done', jobId, result });
  } catch (error) {
    const e = error as Error;
    send({ type: 'failed', jobId, message: e.message, stack: e.stack });
  }
});
