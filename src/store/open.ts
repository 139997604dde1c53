import { z } from 'zod';
import { DEFAULT_RESULTS_DIR, type FloodsweepEnvironment, readEnvironment } from '../env.js';
import { awsClients, DynamoMetricsStore, S3ArtifactStore } from './aws.js';
import { LocalArtifactStore, LocalMetricsStore } from './local.js';
import type { ArtifactStore, MetricsStore } from './ports.js';

/** Where a sweep's records and artifacts live: plain data, so it can be handed to worker processes. */
export const storeConfigSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('local'), rootDir: z.string() }),
  z.strictObject({
    kind: z.literal('aws'),
    table: z.string(),
    bucket: z.string(),
    region: z.string().optional(),
    /** Endpoint overrides (emulators such as dynalite and s3rver); per service, or one for both. */
    endpointUrl: z.string().optional(),
    dynamodbEndpointUrl: z.string().optional(),
    s3EndpointUrl: z.string().optional(),
  }),
]);
export type StoreConfig = z.output<typeof storeConfigSchema>;

export interface Stores {
  metrics: MetricsStore;
  artifacts: ArtifactStore;
}

export function openStores(config: StoreConfig): Stores {
  if (config.kind === 'local') {
    return { metrics: new LocalMetricsStore(config.rootDir), artifacts: new LocalArtifactStore(config.rootDir) };
  }
  const clients = awsClients(config);
  return {
    metrics: new DynamoMetricsStore({ client: clients.documents, tableName: config.table }),
    artifacts: new S3ArtifactStore({ client: clients.s3, bucket: config.bucket }),
  };
}

/** The stores a Lambda handler uses: DynamoDB + S3 when the stack set table and bucket, else local files. */
export function storeConfigFromEnv(environment: FloodsweepEnvironment = readEnvironment()): StoreConfig {
  const { table, bucket, aws } = environment;
  if (table && bucket) return { kind: 'aws', table, bucket, ...aws };
  return { kind: 'local', rootDir: environment.resultsDir ?? DEFAULT_RESULTS_DIR };
}
