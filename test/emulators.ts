/**
 * dynalite (DynamoDB) and s3rver (S3) in this process, with a fresh table and bucket per store
 * pair. Not a test file itself: the store tests, the scale tests and bench/scale.ts share it.
 */

import { mkdtemp, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateTableCommand, DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { awsClients, createTableInput, DynamoMetricsStore, S3ArtifactStore } from '../src/store/aws.js';

const require = createRequire(import.meta.url);
const dynalite = require('dynalite') as (options: { createTableMs?: number; deleteTableMs?: number }) => Server;
const S3rver = require('s3rver') as new (options: {
  port: number;
  address: string;
  silent: boolean;
  directory: string;
}) => {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
  /** Koa's middleware list, composed when the server starts. */
  middleware: Array<(ctx: KoaContext, next: () => Promise<void>) => Promise<void>>;
  store: { existsObject(bucket: string, key: string): Promise<boolean> };
};
/** The part of a Koa context the If-None-Match emulation uses. */
interface KoaContext {
  method: string;
  path: string;
  status: number;
  type: string;
  body: string;
  get(header: string): string;
}

// s3rver knows only this key pair; dynalite accepts any.
export const credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
export const region = 'us-east-1';

/** A request the DynamoDB document client sent: the command's name and its input as our code built it. */
export interface DynamoRequest {
  command: string;
  input: Record<string, unknown>;
}

export type AwsStores = Awaited<ReturnType<Emulators['newAwsStores']>>;

export async function startEmulators() {
  const dynamodbServer = dynalite({ createTableMs: 0, deleteTableMs: 0 });
  await new Promise<void>((listening) => dynamodbServer.listen(0, '127.0.0.1', listening));
  const s3Directory = await mkdtemp(join(tmpdir(), 'floodsweep-s3rver-'));
  const s3Server = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: s3Directory });
  // S3 refuses a PutObject with If-None-Match: * when the key exists (412); s3rver 3.7 ignores the header.
  s3Server.middleware.unshift(async (ctx, next) => {
    const [, bucket, ...key] = decodeURIComponent(ctx.path).split('/');
    if (
      ctx.method === 'PUT' &&
      ctx.get('if-none-match') === '*' &&
      key.length > 0 &&
      (await s3Server.store.existsObject(bucket, key.join('/')))
    ) {
      ctx.status = 412;
      ctx.type = 'application/xml';
      ctx.body =
        '<?xml version="1.0" encoding="UTF-8"?><Error><Code>PreconditionFailed</Code><Message>At least one of the pre-conditions you specified did not hold</Message><Condition>If-None-Match</Condition></Error>';
      return;
    }
    return next();
  });
  const s3Address = await s3Server.run();
  // Counted at the servers, so that requests from worker processes (their own clients) count too.
  const served = { dynamodb: 0, s3: 0 };
  dynamodbServer.on('request', () => served.dynamodb++);
  (s3Server as unknown as { httpServer: Server }).httpServer.on('request', () => served.s3++);
  const endpoints = {
    dynamodbEndpointUrl: `http://127.0.0.1:${(dynamodbServer.address() as AddressInfo).port}`,
    s3EndpointUrl: `http://127.0.0.1:${s3Address.port}`,
  };
  let counter = 0;
  return {
    endpoints,
    /** HTTP requests each server has answered so far. */
    served: () => ({ ...served }),
    /** A fresh table (created from the exported description) and bucket; `requests` records every DynamoDB call. */
    async newAwsStores() {
      const clients = awsClients({ region, credentials, ...endpoints });
      const tableName = `metrics-${++counter}`;
      const bucket = `bucket-${counter}`;
      await clients.dynamodb.send(new CreateTableCommand(createTableInput(tableName)));
      const describeTable = new DescribeTableCommand({ TableName: tableName });
      while ((await clients.dynamodb.send(describeTable)).Table?.TableStatus !== 'ACTIVE');
      await clients.s3.send(new CreateBucketCommand({ Bucket: bucket }));
      const requests: DynamoRequest[] = [];
      clients.documents.middlewareStack.add(
        (next, context) => (args) => {
          requests.push({ command: context.commandName ?? '?', input: args.input as Record<string, unknown> });
          return next(args);
        },
        { step: 'initialize', name: 'recordRequests' },
      );
      return {
        clients,
        tableName,
        bucket,
        requests,
        metrics: new DynamoMetricsStore({ client: clients.documents, tableName }),
        artifacts: new S3ArtifactStore({ client: clients.s3, bucket }),
        cleanup: async () => {
          clients.dynamodb.destroy();
          clients.s3.destroy();
        },
      };
    },
    async close() {
      dynamodbServer.closeAllConnections();
      await new Promise((closed) => dynamodbServer.close(closed));
      // Clients that were never destroyed (a run's own stores) keep idle connections open, which would hold close() forever.
      (s3Server as unknown as { httpServer: Server }).httpServer.closeAllConnections();
      await s3Server.close();
      await rm(s3Directory, { recursive: true, force: true });
    },
  };
}

export type Emulators = Awaited<ReturnType<typeof startEmulators>>;
