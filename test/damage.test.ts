/**
 * Damage outside checkpoints, confined to what is damaged: a truncated summary, a corrupt task or
 * sweep record, an edited spec, lost epoch rows. Each reader (`sweep list`, `status`, `results`,
 * the exports, the dashboard's list) shows the damaged object as damaged, naming it, and every
 * other sweep and task stays readable; a resume refuses an edited spec and fails a task whose rows
 * are gone, with the reason. Through the CLI on local files, and from code against DynamoDB and S3.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { runSweep } from '../src/run.js';
import { awsClients } from '../src/store/aws.js';
import { openStores, type StoreConfig } from '../src/store/open.js';
import { StoreError, sweepKeys } from '../src/store/ports.js';
import { readSummary } from '../src/store/summary.js';
import { isDamaged } from '../src/sweep/records.js';
import { validateSpec } from '../src/sweep/spec.js';
import { loadSweepList } from '../src/ui/data.js';
import { floodsweep, show } from './cli-helpers.js';
import { credentials, type Emulators, region, startEmulators } from './emulators.js';
import { sweepRecord, taskRecord } from './store-contract.js';

const SPEC = validateSpec({
  name: 'damage',
  dataset: { name: 'sinusoid2d', nTrain: 16, nVal: 8, nTest: 8 },
  model: { kind: 'linear' },
  training: { epochs: 4, batchSize: 8, evalEvery: 2 },
  floodLevels: [0, 0.1],
});
const RUN = { workers: 1, backend: 'wasm' as const };

/** What a terminal would obey, and what a reader must never print for a damaged file. */
const RAW_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;
const CRASH = /Cannot read properties|Unexpected token|Unexpected end of JSON|\n\s+at /;

describe('local files, through the CLI', () => {
  const dir = mkdtempSync(join(tmpdir(), 'floodsweep-damage-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const results = ['--results', dir];
  const stores = openStores({ kind: 'local', rootDir: dir });
  const sweeps: Record<'summary' | 'task' | 'spec' | 'rows' | 'intact', string> = {} as never;
  const metricsDir = (sweepId: string) => join(dir, 'metrics', 'sweeps', sweepId);

  before(async () => {
    for (const what of Object.keys({ summary: 0, task: 0, spec: 0, rows: 0, intact: 0 }) as Array<keyof typeof sweeps>) {
      const { sweepId, summary } = await runSweep(validateSpec({ ...SPEC, name: `damage-${what}` }), {
        ...RUN,
        stores: { kind: 'local', rootDir: dir },
      });
      assert.equal(summary.status, 'SUCCEEDED');
      sweeps[what] = sweepId;
    }
    const summaryFile = stores.artifacts.locate(sweepKeys(sweeps.summary).summary);
    writeFileSync(summaryFile, readFileSync(summaryFile, 'utf8').slice(0, 120));
    const [task] = readdirSync(join(metricsDir(sweeps.task), 'tasks'));
    writeFileSync(join(metricsDir(sweeps.task), 'tasks', task), '{"sweepId": "x\u001b[2J');
    const specFile = stores.artifacts.locate(sweepKeys(sweeps.spec).spec);
    writeFileSync(specFile, readFileSync(specFile, 'utf8').replace('0.1', '0.2'));
    const [rows] = readdirSync(join(metricsDir(sweeps.rows), 'epochs'));
    rmSync(join(metricsDir(sweeps.rows), 'epochs', rows));
  });

  test('sweep list: the truncated summary is a DAMAGED line naming the file; the other sweeps list as ever; exit 1', async () => {
    const list = await floodsweep(['sweep', 'list', ...results]);
    assert.equal(list.code, 1, show(list));
    const lines = list.stdout.trimEnd().split('\n');
    assert.equal(lines.length, 5, show(list));
    const line = (sweepId: string) => lines.find((l) => l.startsWith(sweepId)) ?? '';
    assert.match(line(sweeps.summary), /DAMAGED .*summary\.json/);
    // The list reads sweep records and summaries: a damaged task record is for status and the exports to show.
    for (const sweepId of [sweeps.intact, sweeps.rows, sweeps.task]) assert.match(line(sweepId), /SUCCEEDED +2 tasks/);
    assert.match(list.stderr, /^floodsweep: 1 of 5 sweeps are damaged/);
    assert.doesNotMatch(list.stdout + list.stderr, CRASH);
    assert.doesNotMatch(list.stdout + list.stderr, RAW_CONTROL);
  });

  test('sweep results of a truncated summary: one line naming summary.json, exit 1, no bare JSON error', async () => {
    for (const flags of [[], ['--json'], ['--csv']]) {
      const result = await floodsweep(['sweep', 'results', sweeps.summary, ...flags, ...results]);
      assert.equal(result.code, 1, show(result));
      assert.match(result.stderr, /^floodsweep: damaged summary .*summary\.json: /, show(result));
      assert.equal(result.stderr.trimEnd().split('\n').length, 1, show(result));
      assert.doesNotMatch(result.stderr, CRASH);
    }
  });

  test('sweep status: a corrupt task record is a DAMAGED line naming it, the other task as ever; exit 1', async () => {
    const status = await floodsweep(['sweep', 'status', sweeps.task, ...results]);
    assert.equal(status.code, 1, show(status));
    assert.match(status.stdout, /task records: 1 damaged of 2; a resume plans them again/);
    assert.match(status.stdout, /^ {2}\w+ {2}DAMAGED {2}corrupt JSON in .*\.json: not valid JSON/m);
    assert.match(status.stdout, /^ {2}\w+ {2}b=\S+ seed 0 {2}SUCCEEDED epoch 4\/4$/m);
    assert.doesNotMatch(status.stdout + status.stderr, RAW_CONTROL);
  });

  test('the dashboard lists every sweep, the damaged ones as damaged', async () => {
    const entries = await loadSweepList(stores);
    const damaged = entries.flatMap((entry) => ('damaged' in entry ? [entry.damaged.sweepId] : []));
    assert.deepEqual(damaged.sort(), [sweeps.summary, sweeps.task].sort());
    assert.equal(entries.length, 5);
  });

  test('an edited spec.json is refused by name on resume, and left as it is', async () => {
    const specFile = stores.artifacts.locate(sweepKeys(sweeps.spec).spec);
    const before = readFileSync(specFile, 'utf8');
    const resumed = await floodsweep(['sweep', 'run', '--resume', sweeps.spec, ...results]);
    assert.equal(resumed.code, 1, show(resumed));
    assert.match(
      resumed.stderr,
      /^floodsweep: damaged spec .*spec\.json: its SHA-256 is not the one its sweep record holds/m,
      show(resumed),
    );
    assert.equal(readFileSync(specFile, 'utf8'), before);
  });

  test('lost epoch rows: the export names the task it leaves out (exit 1); a resume fails that task with the reason', async () => {
    const exported = await floodsweep(['sweep', 'results', sweeps.rows, '--format', 'csv', '--epochs', ...results]);
    assert.equal(exported.code, 1, show(exported));
    assert.match(exported.stderr, /^floodsweep: left out of the table: task \w+: 3 of its 3 evaluated epochs have no stored row/m);
    const resumed = await floodsweep(['sweep', 'run', '--resume', sweeps.rows, ...results]);
    assert.equal(resumed.code, 1, show(resumed));
    assert.match(resumed.stdout, /PARTIAL/);
    assert.match(resumed.stdout, /FAILED: damaged epoch rows of task \w+: 3 of its 3 evaluated epochs have no stored row .*--restart-task/);
  });
});

describe('DynamoDB and S3', () => {
  let emulators: Emulators;
  let config: StoreConfig & { kind: 'aws' };
  before(async () => {
    process.env.AWS_ACCESS_KEY_ID = credentials.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = credentials.secretAccessKey;
    emulators = await startEmulators();
    const { tableName, bucket } = await emulators.newAwsStores();
    config = { kind: 'aws', table: tableName, bucket, region, ...emulators.endpoints };
  });
  after(() => emulators.close());

  test('a sweep or task item of another shape is listed as damaged; the others are read; listTasks names it', async () => {
    const { metrics } = openStores(config);
    await metrics.createSweep(sweepRecord('good'));
    await metrics.putTask(taskRecord('good', 't1'));
    await metrics.putTask(taskRecord('good', 't2'));
    const { documents } = awsClients(config);
    await documents.send(new PutCommand({ TableName: config.table, Item: { ...(await rawItem('bad')), status: 'NOT-A-STATUS' } }));
    await documents.send(
      new PutCommand({ TableName: config.table, Item: { pk: 'SWEEP#good', sk: 'TASK#t2', sweepId: 'good', taskId: 't2', status: 7 } }),
    );
    documents.destroy();
    const listed = await metrics.listSweeps();
    assert.deepEqual(
      listed.map((sweep) => [sweep.sweepId, isDamaged(sweep)]),
      [
        ['good', false],
        ['bad', true],
      ],
    );
    const tasks = await metrics.scanTasks('good');
    assert.deepEqual(
      tasks.map((task) => [task.taskId, isDamaged(task)]),
      [
        ['t1', false],
        ['t2', true],
      ],
    );
    await assert.rejects(metrics.listTasks('good'), (error: unknown) => error instanceof StoreError && /TASK#t2/.test(error.message));
  });

  test('a truncated summary in S3 is a StoreError naming its object', async () => {
    const stores = openStores(config);
    await stores.artifacts.put(sweepKeys('good').summary, '{"sweepId": "good", "gro', 'application/json');
    await assert.rejects(readSummary(stores, 'good'), (error: unknown) => {
      assert.ok(error instanceof StoreError && error.kind === 'state', String(error));
      assert.match(error.message, /^damaged summary s3:\/\/.*\/sweeps\/good\/summary\.json: not valid JSON/);
      return true;
    });
  });

  /** The item a sweep record is stored as, written through the adapter and read back raw. */
  async function rawItem(sweepId: string): Promise<Record<string, unknown>> {
    const { metrics } = openStores(config);
    await metrics.createSweep(sweepRecord(sweepId, { createdAt: new Date(Date.UTC(2024, 0, 1)).toISOString() }));
    const { documents } = awsClients(config);
    const { GetCommand } = await import('@aws-sdk/lib-dynamodb');
    const { Item } = await documents.send(new GetCommand({ TableName: config.table, Key: { pk: `SWEEP#${sweepId}`, sk: 'SWEEP' } }));
    documents.destroy();
    return Item!;
  }
});
