/**
 * A stopped (not killed) DynamoDB endpoint: the AWS clients give up with one line naming the
 * service instead of hanging the sweep, and the sweep resumes once the endpoint is back.
 * The endpoint is dynalite behind a TCP proxy that can stop forwarding.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { exitCodeOf, FloodsweepError, loadSpecFile, runSweep, type StoreConfig, validateSpec } from '../src/index.js';
import { credentials, type Emulators, region, startEmulators } from './emulators.js';

/** Forwards TCP to `port`; while stalled it accepts connections and holds their bytes. */
class StallingProxy {
  private readonly server: Server;
  private stalled = false;
  private readonly held: Array<() => void> = [];
  private readonly sockets = new Set<Socket>();

  constructor(private readonly port: number) {
    this.server = createServer((client) => {
      const upstream = createConnection(this.port, '127.0.0.1');
      this.sockets.add(client).add(upstream);
      const forward = (chunk: Buffer) => (this.stalled ? this.held.push(() => upstream.write(chunk)) : upstream.write(chunk));
      client.on('data', forward);
      upstream.on('data', (chunk) => client.write(chunk));
      const end = () => {
        client.destroy();
        upstream.destroy();
      };
      client.on('error', end).on('close', end);
      upstream.on('error', end).on('close', end);
    });
  }

  async listen(): Promise<number> {
    await new Promise<void>((listening) => this.server.listen(0, '127.0.0.1', listening));
    return (this.server.address() as AddressInfo).port;
  }

  stall(): void {
    this.stalled = true;
  }

  resume(): void {
    this.stalled = false;
    for (const write of this.held.splice(0)) write();
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise((closed) => this.server.close(closed));
  }
}

let emulators: Emulators;
let proxy: StallingProxy;
let stores: StoreConfig;

before(async () => {
  process.env.AWS_ACCESS_KEY_ID = credentials.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = credentials.secretAccessKey;
  emulators = await startEmulators();
  const { tableName, bucket, cleanup } = await emulators.newAwsStores();
  await cleanup();
  proxy = new StallingProxy(Number(new URL(emulators.endpoints.dynamodbEndpointUrl).port));
  const proxyPort = await proxy.listen();
  stores = {
    kind: 'aws',
    table: tableName,
    bucket,
    region,
    dynamodbEndpointUrl: `http://127.0.0.1:${proxyPort}`,
    s3EndpointUrl: emulators.endpoints.s3EndpointUrl,
  };
});

after(async () => {
  await proxy.close();
  await emulators.close();
});

const spec = loadSpecFile(new URL('../examples/tiny.json', import.meta.url).pathname);
const sweepId = 'stalled-endpoint-test';

test('a stalled DynamoDB endpoint fails the sweep with one line naming DynamoDB, well before a minute', { timeout: 60_000 }, async () => {
  proxy.stall();
  try {
    await assert.rejects(runSweep(spec, { stores, sweepId, workers: 1, backend: 'wasm' }), (error: unknown) => {
      assert.ok(error instanceof FloodsweepError, String(error));
      assert.equal(error.kind, 'service');
      assert.equal(exitCodeOf(error), 1);
      assert.match(error.message, /^DynamoDB \w+ .*failed/);
      assert.equal(error.message.split('\n').length, 1);
      return true;
    });
  } finally {
    proxy.resume();
  }
});

test('an endpoint that stops mid-run (lease renewals included) fails the run with one line, not a hang', { timeout: 120_000 }, async () => {
  const long = validateSpec({ ...spec, name: 'stalls-mid-run', training: { ...spec.training, epochs: 400, evalEvery: 50 } });
  const started = Date.now();
  let stalledAt: number | undefined;
  try {
    await assert.rejects(
      runSweep(long, {
        stores,
        workers: 1,
        backend: 'wasm',
        epochsPerCall: 50,
        onEvent: (event) => {
          if (event.type !== 'progress' || stalledAt !== undefined || event.progress.epochsDone === 0) return;
          stalledAt = Date.now();
          proxy.stall();
        },
      }),
      (error: unknown) => {
        assert.ok(error instanceof FloodsweepError, String(error));
        assert.equal(exitCodeOf(error), 1);
        assert.equal(error.message.split('\n').length, 1);
        assert.match(error.message, /DynamoDB|lease/);
        return true;
      },
    );
    assert.ok(stalledAt, 'the run reached training before the stall');
    process.stderr.write(
      `# stalled mid-run: failed ${((Date.now() - stalledAt) / 1000).toFixed(1)} s after the stall (${((Date.now() - started) / 1000).toFixed(1)} s in all)\n`,
    );
  } finally {
    proxy.resume();
  }
});

test('once the endpoint is back, the same sweep runs to the end', { timeout: 120_000 }, async () => {
  const result = await runSweep(spec, { stores, sweepId, workers: 1, backend: 'wasm' });
  assert.equal(result.sweepId, sweepId);
  assert.equal(result.summary.status, 'SUCCEEDED');
  assert.equal(result.summary.succeededTasks, 4);
});
