/**
 * Data and model files reach Train through the bucket: a run on the AWS adapters (DynamoDB and S3
 * protocol servers: dynalite, s3rver) uploads them once under their content hash, and Train, where
 * the planned paths do not exist (a Lambda), reads them from there. Plan in the cloud plans the
 * same tasks from the spec the submitting machine pinned, without the files.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { initBackend, tf } from '../src/flooding/backend.js';
import { makeDataset } from '../src/flooding/make-dataset.js';
import { pinFileHashes, planTasks } from '../src/planned-tasks.js';
import { runSweep } from '../src/run.js';
import { openStores } from '../src/store/open.js';
import { validateSpec } from '../src/sweep/spec.js';
import { withLocalFiles } from '../src/workflow/task-files.js';
import { trainStep } from '../src/workflow/train.js';
import { credentials, type Emulators, region, startEmulators } from './emulators.js';

const ARRAYS = fileURLToPath(new URL('./fixtures/arrays/', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'floodsweep-task-files-'));
let emulators: Emulators;

before(async () => {
  process.env.AWS_ACCESS_KEY_ID = credentials.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = credentials.secretAccessKey;
  emulators = await startEmulators();
  await initBackend('wasm');
});
after(async () => {
  await emulators.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('data and model files through the bucket', () => {
  test('a run on the AWS adapters uploads them by hash; Train without the files reads them from S3 and trains the same', async () => {
    const data = join(dir, 'blobs.npz');
    copyFileSync(join(ARRAYS, 'blobs.npz'), data);
    const modelPath = join(dir, 'mlp.json');
    const model = tf.sequential({
      layers: [tf.layers.dense({ units: 8, activation: 'relu', inputShape: [4] }), tf.layers.dense({ units: 4, activation: 'softmax' })],
    });
    writeFileSync(modelPath, JSON.stringify({ modelTopology: model.toJSON(null, false) }));
    model.dispose();
    const spec = validateSpec({
      name: 'through-s3',
      dataset: { name: 'npz', path: data },
      model: { kind: 'layers', path: modelPath },
      training: { epochs: 3, batchSize: 16, evalEvery: 1 },
      floodLevels: [0, 0.5],
      seeds: [0],
    });
    const { tableName, bucket, cleanup } = await emulators.newAwsStores();
    await cleanup();
    const storeConfig = { kind: 'aws' as const, table: tableName, bucket, region, ...emulators.endpoints };
    const { sweepId, summary } = await runSweep(spec, { stores: storeConfig, backend: 'wasm', workers: 1 });
    assert.equal(summary.status, 'SUCCEEDED');
    const stores = openStores(storeConfig);
    const planned = planTasks(spec);
    const { dataset, model: modelConfig } = planned[0].config as { dataset: { sha256: string }; model: { sha256: string } };
    assert.deepEqual(
      (await stores.artifacts.list('files/')).sort(),
      [`files/${dataset.sha256}/path`, `files/${modelConfig.sha256}/model`].sort(),
    );

    // Where the files are not (a Lambda): Plan plans the same tasks from the pinned spec...
    const pinned = pinFileHashes(spec, planned);
    renameSync(data, `${data}.away`);
    renameSync(modelPath, `${modelPath}.away`);
    assert.deepEqual(
      planTasks(pinned).map((task) => task.taskId),
      planned.map((task) => task.taskId),
    );
    // ...and Train reads the files from the bucket: the same data, and the task trains again to the same numbers.
    const reading = await withLocalFiles(stores.artifacts, planned[1].config);
    assert.notEqual((reading.dataset as { path: string }).path, data);
    renameSync(`${data}.away`, data);
    assert.deepEqual(makeDataset(reading.dataset, 0).train, makeDataset(planned[1].config.dataset, 0).train);
    renameSync(data, `${data}.away`);
    const task = await stores.metrics.getTask(sweepId, planned[1].taskId);
    const before = (await stores.metrics.getEpochs(sweepId, planned[1].taskId)).map(({ seconds: _s, ...row }) => row);
    await stores.metrics.updateTask(sweepId, planned[1].taskId, ['SUCCEEDED'], { status: 'PENDING', epochsDone: 0 });
    await stores.artifacts.delete(`sweeps/${sweepId}/tasks/${planned[1].taskId}/checkpoint.bin`);
    const output = await trainStep(stores, { sweepId, taskId: planned[1].taskId });
    assert.equal(output.done, true, JSON.stringify(output));
    const again = (await stores.metrics.getEpochs(sweepId, planned[1].taskId)).map(({ seconds: _s, ...row }) => row);
    assert.equal(task?.status, 'SUCCEEDED');
    assert.deepEqual(again, before);
  });
});
