import { awsClients, BUCKET_ENV, DynamoMetricsStore, S3ArtifactStore, TABLE_ENV } from './aws.js';
import { LocalArtifactStore, LocalMetricsStore } from './local.js';
import type { ArtifactStore, MetricsStore } from './ports.js';

/** Where a sweep's records and artifacts live: plain data, so it can be handed to worker threads. */
export type StoreConfig =
  | { kind: 'local'; rootDir: string }
  | {
      kind: 'aws';
      table: string;
      bucket: string;
      region?: string;
      /** Endpoint overrides (emulators such as dynalite and s3rver); per service, or one for both. */
      endpointUrl?: string;
      dynamodbEndpointUrl?: string;
      s3EndpointUrl?: string;
    };

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

export const RESULTS_DIR_ENV = 'FLOODSWEEP_RESULTS_DIR';

/** The stores a Lambda handler uses: DynamoDB + S3 when the stack set table and bucket, else local files. */
export function storeConfigFromEnv(env: NodeJS.ProcessEnv = process.env): StoreConfig {
  const table = env[TABLE_ENV];
  const bucket = env[BUCKET_ENV];
  if (table && bucket) {
    return {
      kind: 'aws',
      table,
      bucket,
      region: env.AWS_REGION,
      endpointUrl: env.AWS_ENDPOINT_URL,
      dynamodbEndpointUrl: env.AWS_ENDPOINT_URL_DYNAMODB,
      s3EndpointUrl: env.AWS_ENDPOINT_URL_S3,
    };
  }
  return { kind: 'local', rootDir: env[RESULTS_DIR_ENV] ?? './floodsweep-results' };
}
