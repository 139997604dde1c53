/** In-process DynamoDB (dynalite) and S3 (s3rver) servers on loopback, for tests of the AWS stores. */
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { AddressInfo, Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const require = createRequire(import.meta.url);
const dynalite = require('dynalite') as (options: { createTableMs?: number; deleteTableMs?: number }) => Server;
const S3rver = require('s3rver') as new (options: {
  port: number;
  address: string;
  silent: boolean;
  directory: string;
}) => { run(): Promise<AddressInfo>; close(): Promise<void> };

/** s3rver knows only this key pair; dynalite accepts any. */
export const EMULATOR_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
export const EMULATOR_REGION = 'us-east-1';

export interface Emulators {
  dynamodbPort: number;
  s3Port: number;
  close(): Promise<void>;
}

export async function startEmulators(): Promise<Emulators> {
  const dynamodbServer = dynalite({ createTableMs: 0, deleteTableMs: 0 });
  await new Promise<void>((listening) => dynamodbServer.listen(0, '127.0.0.1', listening));
  const s3Directory = await mkdtemp(join(tmpdir(), 'floodsweep-s3rver-'));
  const s3Server = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: s3Directory });
  const s3Address = await s3Server.run();
  return {
    dynamodbPort: (dynamodbServer.address() as AddressInfo).port,
    s3Port: s3Address.port,
    close: async () => {
      (dynamodbServer as unknown as { closeAllConnections(): void }).closeAllConnections();
      await new Promise((closed) => dynamodbServer.close(closed));
      await s3Server.close();
      await rm(s3Directory, { recursive: true, force: true });
    },
  };
}
