import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { BatchWriteCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { ENV_NAMES, readEnvironment } from '../src/env.js';
import { awsClients, DynamoMetricsStore, S3ArtifactStore } from '../src/store/aws.js';
import { LocalArtifactStore, LocalMetricsStore } from '../src/store/local.js';
import { openStores, storeConfigFromEnv } from '../src/store/open.js';
import { StoreError, sweepKeys } from '../src/store/ports.js';
import { isDamaged } from '../src/sweep/records.js';
import { credentials, type Emulators, region, startEmulators } from './emulators.js';
import { epochRow, runStoreContract, sweepRecord, taskRecord } from './store-contract.js';

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const nested = await Promise.all(
    entries.map((entry) => (entry.isDirectory() ? filesUnder(join(dir, entry.name)) : [join(dir, entry.name)])),
  );
  return nested.flat();
}

describe('sweepKeys', () => {
  it('lays out the keys of a sweep', () => {
    const keys = sweepKeys('s1');
    const { spec, manifest, summary, report } = keys;
    assert.deepEqual(
      [spec, manifest, keys.taskCheckpoint('t1'), keys.taskResult('t1'), summary, report, keys.plot('acc.png')],
      [
        'sweeps/s1/spec.json',
        'sweeps/s1/manifest.json',
        'sweeps/s1/tasks/t1/checkpoint.bin',
        'sweeps/s1/tasks/t1/result.json',
        'sweeps/s1/summary.json',
        'sweeps/s1/report.html',
        'sweeps/s1/plots/acc.png',
      ],
    );
  });

  it('rejects ids and names that would escape the layout', () => {
    assert.throws(() => sweepKeys('../etc'), StoreError);
    assert.throws(() => sweepKeys('s1').taskResult('a/b'), StoreError);
    assert.throws(() => sweepKeys('s1').plot('../../x.png'), /invalid artifact key 'sweeps\/s1\/plots\/..\/..\/x.png'/);
  });
});

describe('local stores', () => {
  const roots: string[] = [];
  const newRoot = async () => {
    const root = await mkdtemp(join(tmpdir(), 'floodsweep-store-'));
    roots.push(root);
    return root;
  };
  after(() => Promise.all(roots.map((root) => rm(root, { recursive: true, force: true }))));

  runStoreContract('local', async () => {
    const root = await newRoot();
    return {
      metrics: new LocalMetricsStore(root),
      artifacts: new LocalArtifactStore(root),
      cleanup: () => rm(root, { recursive: true, force: true }),
    };
  });

  it('mirrors the key layout on disk and keeps metrics under metrics/', async () => {
    const root = await newRoot();
    const artifacts = new LocalArtifactStore(root);
    const metrics = new LocalMetricsStore(root);
    await artifacts.put(sweepKeys('s1').report, '<html></html>');
    await metrics.createSweep(sweepRecord('s1'));
    await metrics.putTask(taskRecord('s1', 't1'));
    await metrics.putEpochs('s1', 't1', [epochRow(0)]);
    const createdAt = '2025-01-01T00:00:00.000Z';
    const repro = { name: 'nightly', sweepId: 's1', baseline: 'b', verdict: 'REPRODUCED', createdAt, details: 0 } as const;
    await metrics.putRepro(repro);
    assert.equal(artifacts.locate('sweeps/s1/report.html'), join(root, 'sweeps', 's1', 'report.html'));
    assert.deepEqual((await filesUnder(root)).map((file) => file.slice(root.length + 1)).sort(), [
      'metrics/repro/nightly/2025-01-01T000000.000Z_s1.json',
      'metrics/sweeps/s1/epochs/t1.json',
      'metrics/sweeps/s1/sweep.json',
      'metrics/sweeps/s1/tasks/t1.json',
      'sweeps/s1/report.html',
    ]);
    assert.deepEqual(await artifacts.list(''), ['sweeps/s1/report.html']);
    await assert.rejects(artifacts.put('metrics/sweeps/s1/sweep.json', '{}'), /reserved for the local metrics store/);
    await assert.rejects(artifacts.list('metrics/'), StoreError);
  });

  it('reports a corrupt JSON file as a StoreError naming the file', async () => {
    const root = await newRoot();
    const metrics = new LocalMetricsStore(root);
    await metrics.createSweep(sweepRecord('s1'));
    await metrics.putTask(taskRecord('s1', 't1'));
    await metrics.putEpochs('s1', 't1', [epochRow(0)]);
    const sweepFile = join(root, 'metrics', 'sweeps', 's1', 'sweep.json');
    const taskFile = join(root, 'metrics', 'sweeps', 's1', 'tasks', 't1.json');
    const epochsFile = join(root, 'metrics', 'sweeps', 's1', 'epochs', 't1.json');
    await writeFile(sweepFile, '{"sweepId": "s1", "na');
    await writeFile(taskFile, '');
    await writeFile(epochsFile, '{"0": {"epoch": 0}}');

    const namesFile = (file: string) => (error: unknown) => error instanceof StoreError && error.message.includes(file);
    await assert.rejects(metrics.getSweep('s1'), namesFile(sweepFile));
    const [listed] = await metrics.listSweeps();
    assert.ok(isDamaged(listed) && listed.sweepId === 's1' && listed.damage.includes(sweepFile), 'listed as damaged, naming the file');
    assert.doesNotMatch((listed as { damage: string }).damage, /"na/, 'no content of the file');
    await assert.rejects(metrics.updateSweep('s1', ['RUNNING'], { status: 'FAILED' }), namesFile(sweepFile));
    assert.equal(await metrics.createSweep(sweepRecord('s1')), false, 'a corrupt record is not overwritten');
    await assert.rejects(metrics.getTask('s1', 't1'), namesFile(taskFile));
    await assert.rejects(metrics.listTasks('s1'), namesFile(taskFile));
    assert.deepEqual(
      (await metrics.scanTasks('s1')).map((task) => isDamaged(task) && task.taskId),
      ['t1'],
    );
    await assert.rejects(metrics.getEpochs('s1', 't1'), /corrupt epoch record in .*epochs\/t1\.json \(epoch 0\): train: /);
  });

  it('reports valid JSON that is not a valid record, naming the file and the field', async () => {
    const root = await newRoot();
    const metrics = new LocalMetricsStore(root);
    await metrics.createSweep(sweepRecord('s1'));
    const sweepFile = join(root, 'metrics', 'sweeps', 's1', 'sweep.json');
    await writeFile(sweepFile, JSON.stringify({ ...sweepRecord('s1'), status: 'DONE' }));
    await assert.rejects(metrics.getSweep('s1'), (error: unknown) => {
      assert.ok(error instanceof StoreError);
      assert.match(error.message, /corrupt sweep record in .*sweep\.json: status: Invalid option/);
      return true;
    });
    await writeFile(sweepFile, JSON.stringify(sweepRecord('s2')));
    await assert.rejects(metrics.getSweep('s1'), /sweepId is "s2", expected "s1"/);
  });

  it('reports an unreadable record instead of treating it as absent', async () => {
    const root = await newRoot();
    const metrics = new LocalMetricsStore(root);
    await mkdir(join(root, 'metrics', 'sweeps', 's1', 'sweep.json'), { recursive: true });
    await assert.rejects(metrics.getSweep('s1'), /cannot read .*sweep\.json: EISDIR/);
  });

  it('leaves no temp files behind, even when a write fails', async () => {
    const root = await newRoot();
    const metrics = new LocalMetricsStore(root);
    const artifacts = new LocalArtifactStore(root);
    await metrics.createSweep(sweepRecord('s1'));
    await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        await metrics.putTask(taskRecord('s1', `t${i}`));
        await metrics.putEpochs('s1', `t${i}`, [epochRow(0), epochRow(1)]);
        await metrics.updateTask('s1', `t${i}`, ['PENDING'], { status: 'RUNNING' });
        await artifacts.put(sweepKeys('s1').taskResult(`t${i}`), '{}');
      }),
    );
    await metrics.updateSweep('s1', ['RUNNING'], { status: 'SUCCEEDED' });
    await artifacts.put('sweeps/s1/file', 'x');
    await assert.rejects(artifacts.put('sweeps/s1/file/nested', 'x'), /cannot write .*nested/);
    assert.deepEqual(
      (await filesUnder(root)).filter((file) => file.includes('~')),
      [],
    );
    assert.equal((await metrics.listTasks('s1')).length, 20);
  });
});

describe('AWS stores against dynalite and s3rver', () => {
  let emulators: Emulators;
  let endpoints: Emulators['endpoints'];

  before(async () => {
    // For the stores built from the environment: the SDK reads credentials from process.env.
    process.env.AWS_ACCESS_KEY_ID = credentials.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = credentials.secretAccessKey;
    emulators = await startEmulators();
    endpoints = emulators.endpoints;
  });

  after(() => emulators.close());

  const makeAwsStores = () => emulators.newAwsStores();

  runStoreContract('aws', makeAwsStores);

  async function withAwsStores(test: (stores: Awaited<ReturnType<typeof makeAwsStores>>) => Promise<void>) {
    const stores = await makeAwsStores();
    try {
      await test(stores);
    } finally {
      await stores.cleanup();
    }
  }

  it('reports a corrupt item as a StoreError naming the item and table', async () => {
    await withAwsStores(async ({ clients, tableName, metrics }) => {
      const corrupt = { ...taskRecord('s1', 't1'), status: 'LOST', epochsDone: '3' };
      await clients.documents.send(new PutCommand({ TableName: tableName, Item: { pk: 'SWEEP#s1', sk: 'TASK#t1', ...corrupt } }));
      await assert.rejects(metrics.getTask('s1', 't1'), (error: unknown) => {
        assert.ok(error instanceof StoreError);
        const where = `item SWEEP#s1 / TASK#t1 of table ${tableName}`;
        const problems = 'status: .*; epochsDone: expected a number';
        assert.match(error.message, new RegExp(`corrupt task record in ${where}: ${problems}`));
        return true;
      });
      await assert.rejects(metrics.listTasks('s1'), /TASK#t1/);
    });
  });

  it('reports a missing table or bucket instead of treating it as empty', async () => {
    const clients = awsClients({ region, credentials, ...endpoints });
    try {
      const metrics = new DynamoMetricsStore({ client: clients.documents, tableName: 'no-such-table' });
      const artifacts = new S3ArtifactStore({ client: clients.s3, bucket: 'no-such-bucket' });
      await assert.rejects(
        metrics.getSweep('s1'),
        /DynamoDB GetItem item SWEEP#s1 \/ SWEEP of table no-such-table failed: ResourceNotFoundException/,
      );
      await assert.rejects(metrics.listSweeps(), /no-such-table failed/);
      await assert.rejects(
        artifacts.get('sweeps/s1/spec.json'),
        /S3 GetObject s3:\/\/no-such-bucket\/sweeps\/s1\/spec.json failed: NoSuchBucket/,
      );
      await assert.rejects(artifacts.list('sweeps/'), /NoSuchBucket/);
    } finally {
      clients.dynamodb.destroy();
      clients.s3.destroy();
    }
  });

  it('resubmits unprocessed batch items', async () => {
    await withAwsStores(async ({ clients, tableName }) => {
      const send = clients.documents.send.bind(clients.documents);
      let throttled = 0;
      // DynamoDB leaves items unprocessed when throttled; dynalite never does, so play it here.
      clients.documents.send = (async (command: unknown) => {
        if (command instanceof BatchWriteCommand && throttled < 2) {
          throttled++;
          const requests = command.input.RequestItems![tableName];
          await send(new BatchWriteCommand({ RequestItems: { [tableName]: requests.slice(0, 10) } }));
          return { UnprocessedItems: { [tableName]: requests.slice(10) } };
        }
        return send(command as never);
      }) as typeof clients.documents.send;
      const metrics = new DynamoMetricsStore({ client: clients.documents, tableName });
      const rows = Array.from({ length: 30 }, (_, epoch) => epochRow(epoch));
      await metrics.putEpochs('s1', 't1', rows);
      assert.equal(throttled, 2);
      assert.deepEqual(await metrics.getEpochs('s1', 't1'), rows);
    });
  });

  /** The partition key values the requests address: Query key conditions, and the keys of batch writes. */
  function partitionsOf(requests: Awaited<ReturnType<typeof makeAwsStores>>['requests'], command: string): string[] {
    return requests
      .filter((request) => request.command === command)
      .flatMap(({ input }) => {
        if (command === 'QueryCommand') {
          const placeholder = /\bpk = (:\w+)/.exec(String(input.KeyConditionExpression))?.[1];
          return [String((input.ExpressionAttributeValues as Record<string, unknown>)[placeholder ?? ''])];
        }
        const tables = Object.values(input.RequestItems as Record<string, Array<{ PutRequest: { Item: { pk: string } } }>>);
        return tables.flat().map((request) => request.PutRequest.Item.pk);
      });
  }

  it('keeps each task’s epoch rows in a partition of their own, read without touching the others', async () => {
    await withAwsStores(async ({ metrics, requests }) => {
      await metrics.createSweep(sweepRecord('s1'));
      await metrics.putTasks(['t1', 't2'].map((taskId) => taskRecord('s1', taskId)));
      await metrics.putEpochs('s1', 't1', [epochRow(0), epochRow(1)]);
      await metrics.putEpochs('s1', 't2', [epochRow(0)]);
      const written = new Set(partitionsOf(requests, 'BatchWriteItemCommand'));
      assert.equal(written.size, 3, `the sweep's partition (tasks) and one per task (epochs): ${[...written].join(', ')}`);

      requests.length = 0;
      assert.deepEqual(await metrics.getEpochs('s1', 't1'), [epochRow(0), epochRow(1)]);
      const read = partitionsOf(requests, 'QueryCommand');
      assert.equal(new Set(read).size, 1);
      requests.length = 0;
      await metrics.getEpochs('s1', 't2');
      const other = partitionsOf(requests, 'QueryCommand');
      assert.equal(new Set(other).size, 1);
      assert.notEqual(read[0], other[0], 'the tasks share no partition');
      requests.length = 0;
      await metrics.listTasks('s1');
      const sweepPartition = partitionsOf(requests, 'QueryCommand')[0];
      assert.ok(![read[0], other[0]].includes(sweepPartition), 'epoch rows are outside the sweep’s partition');
    });
  });

  it('writes task records 25 to a BatchWriteItem', async () => {
    await withAwsStores(async ({ metrics, requests }) => {
      await metrics.putTasks(Array.from({ length: 60 }, (_, i) => taskRecord('s1', `t${i}`)));
      const batches = requests.filter((request) => request.command === 'BatchWriteItemCommand');
      assert.deepEqual(
        batches.map(({ input }) => Object.values(input.RequestItems as Record<string, unknown[]>)[0].length),
        [25, 25, 10],
      );
      assert.equal(requests.length, 3);
    });
  });

  it('sets a content type from the key', async () => {
    await withAwsStores(async ({ clients, bucket, artifacts }) => {
      await artifacts.put('sweeps/s1/report.html', '<html></html>');
      const head = await clients.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'sweeps/s1/report.html' }));
      assert.equal(head.ContentType, 'text/html; charset=utf-8');
      assert.equal(artifacts.locate('sweeps/s1/report.html'), `s3://${bucket}/sweeps/s1/report.html`);
    });
  });

  it('builds the stores from the environment', async () => {
    assert.deepEqual(
      storeConfigFromEnv(readEnvironment({ [ENV_NAMES.resultsDir]: '/tmp/r' })),
      { kind: 'local', rootDir: '/tmp/r' },
      'without table and bucket: local files',
    );
    await withAwsStores(async ({ tableName, bucket }) => {
      const { metrics, artifacts } = openStores(
        storeConfigFromEnv(
          readEnvironment({
            [ENV_NAMES.table]: tableName,
            [ENV_NAMES.bucket]: bucket,
            AWS_REGION: region,
            AWS_ENDPOINT_URL_DYNAMODB: endpoints.dynamodbEndpointUrl,
            AWS_ENDPOINT_URL_S3: endpoints.s3EndpointUrl,
          }),
        ),
      );
      assert.equal(await metrics.createSweep(sweepRecord('s1')), true);
      assert.equal((await metrics.listSweeps())[0]?.sweepId, 's1');
      const body = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 256));
      await artifacts.put('sweeps/s1/tasks/t1/checkpoint.bin', body);
      assert.deepEqual(await artifacts.get('sweeps/s1/tasks/t1/checkpoint.bin'), body);
    });
  });
});
