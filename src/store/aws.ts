/** The cloud adapters: DynamoDB (one table, through lib-dynamodb) and S3, with AWS SDK v3. */
import { type CreateTableCommandInput, DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import {
  BatchGetCommand,
  BatchWriteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  type QueryCommandInput,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { EpochMetrics } from '../flooding/metrics.js';
import {
  type DamagedRecord,
  leaseExpired,
  type ReproRecord,
  type SweepLease,
  type SweepRecord,
  type SweepStatus,
  type TaskRecord,
  type TaskStatus,
} from '../sweep/records.js';
import { awsClientSettings } from './aws-settings.js';
import {
  chronologicalKey,
  decodeEpoch,
  decodeLease,
  decodeRepro,
  decodeSweep,
  decodeTask,
  epochRowsToStore,
  intact,
  lastRecordPerTask,
  newestFirstListing,
  readOrDamaged,
  stampPatch,
  toStored,
  validateEpoch,
  validateLease,
  validateLimit,
  validateRepro,
  validateSweep,
  validateTask,
} from './encoding.js';
import { METRICS_TABLE } from './metrics-table.js';
import {
  type ArtifactStore,
  type MetricsStore,
  StoreError,
  type SweepPatch,
  type TaskPatch,
  validateId,
  validateKey,
  validatePrefix,
} from './ports.js';

export function createTableInput(tableName: string): CreateTableCommandInput {
  const { partitionKey, sortKey, byCreatedIndex } = METRICS_TABLE;
  const keySchema = (hash: { name: string }, range: { name: string }) => [
    { AttributeName: hash.name, KeyType: 'HASH' as const },
    { AttributeName: range.name, KeyType: 'RANGE' as const },
  ];
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [partitionKey, sortKey, byCreatedIndex.partitionKey, byCreatedIndex.sortKey].map((key) => ({
      AttributeName: key.name,
      AttributeType: key.type,
    })),
    KeySchema: keySchema(partitionKey, sortKey),
    GlobalSecondaryIndexes: [
      {
        IndexName: byCreatedIndex.indexName,
        KeySchema: keySchema(byCreatedIndex.partitionKey, byCreatedIndex.sortKey),
        Projection: { ProjectionType: 'ALL' },
      },
    ],
  };
}

type Item = Record<string, unknown>;
type ItemKey = { pk: string; sk: string };
/** One request of a BatchWriteItem. */
type WriteRequest = { PutRequest: { Item: Item } } | { DeleteRequest: { Key: Item } };

const SWEEPS_PARTITION = 'SWEEPS';
const sweepPk = (sweepId: string) => `SWEEP#${validateId('sweepId', sweepId)}`;
const sweepItemKey = (sweepId: string): ItemKey => ({ pk: sweepPk(sweepId), sk: 'SWEEP' });
const leaseItemKey = (sweepId: string): ItemKey => ({ pk: sweepPk(sweepId), sk: 'LEASE' });
const taskItemKey = (sweepId: string, taskId: string): ItemKey => ({
  pk: sweepPk(sweepId),
  sk: `TASK#${validateId('taskId', taskId)}`,
});
/**
 * Each task's epoch rows are a partition of their own: a partition serves at most 1,000 writes and
 * 3,000 reads per second, which thousands of tasks writing into the sweep's partition would exceed.
 */
const epochsPk = (sweepId: string, taskId: string) => `EPOCHS#${validateId('sweepId', sweepId)}#${validateId('taskId', taskId)}`;
const EPOCH_SK_PREFIX = 'EPOCH#';
const epochSk = (epoch: number) => `${EPOCH_SK_PREFIX}${String(epoch).padStart(6, '0')}`;
const reproPk = (name: string) => `REPRO#${validateId('repro name', name)}`;

/** BatchWriteItem takes at most 25 requests. */
const BATCH_SIZE = 25;
/** BatchGetItem takes at most 100 keys. */
const BATCH_GET_SIZE = 100;
const BATCH_ATTEMPTS = 8;

function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

function isNamed(error: unknown, ...names: string[]): boolean {
  return error instanceof Error && names.includes(error.name);
}

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));
/** Exponential backoff with jitter before resubmitting unprocessed batch items. */
const backoffMs = (attempt: number) => Math.min(2000, 25 * 2 ** attempt) * (0.5 + Math.random() / 2);

export interface DynamoMetricsStoreOptions {
  /** Build it with `awsClients()`, or with `removeUndefinedValues: true`. */
  client: DynamoDBDocumentClient;
  tableName: string;
}

export class DynamoMetricsStore implements MetricsStore {
  private readonly client: DynamoDBDocumentClient;
  private readonly tableName: string;

  constructor(options: DynamoMetricsStoreOptions) {
    this.client = options.client;
    this.tableName = options.tableName;
  }

  async createSweep(record: SweepRecord): Promise<boolean> {
    validateSweep(record);
    const item = {
      ...this.itemOf(sweepItemKey(record.sweepId), record),
      gsi1pk: SWEEPS_PARTITION,
      gsi1sk: chronologicalKey(record),
    };
    return this.conditional(`PutItem ${this.where(item)}`, () =>
      this.client.send(new PutCommand({ TableName: this.tableName, Item: item, ConditionExpression: 'attribute_not_exists(pk)' })),
    );
  }

  async getSweep(sweepId: string): Promise<SweepRecord | undefined> {
    const item = await this.getItem(sweepItemKey(sweepId));
    return item && decodeSweep(this.recordOf(item), this.where(item), { sweepId });
  }

  async listSweeps(limit?: number): Promise<Array<SweepRecord | DamagedRecord>> {
    validateLimit(limit);
    const { byCreatedIndex } = METRICS_TABLE;
    const items = await this.query(
      `Query ${byCreatedIndex.indexName}`,
      {
        IndexName: byCreatedIndex.indexName,
        KeyConditionExpression: '#partition = :sweeps',
        ExpressionAttributeNames: { '#partition': byCreatedIndex.partitionKey.name },
        ExpressionAttributeValues: { ':sweeps': SWEEPS_PARTITION },
        ScanIndexForward: false,
      },
      limit,
    );
    const sweeps = await Promise.all(
      items.map((item) =>
        readOrDamaged({ sweepId: String(item.pk).replace(/^SWEEP#/, '') }, async () => decodeSweep(this.recordOf(item), this.where(item))),
      ),
    );
    return newestFirstListing(sweeps);
  }

  async updateSweep(sweepId: string, from: SweepStatus[], patch: SweepPatch): Promise<boolean> {
    return this.updateIf(sweepItemKey(sweepId), from, stampPatch(patch, ['sweepId', 'createdAt']));
  }

  async putTask(record: TaskRecord): Promise<void> {
    validateTask(record);
    const item = this.itemOf(taskItemKey(record.sweepId, record.taskId), record);
    await this.call(`PutItem ${this.where(item)}`, () => this.client.send(new PutCommand({ TableName: this.tableName, Item: item })));
  }

  async putTasks(records: TaskRecord[]): Promise<void> {
    const requests = lastRecordPerTask(records).map((record) => ({
      PutRequest: { Item: this.itemOf(taskItemKey(record.sweepId, record.taskId), record) },
    }));
    await this.batchWriteAll(requests, `task records of table ${this.tableName}`);
  }

  async getTask(sweepId: string, taskId: string): Promise<TaskRecord | undefined> {
    const item = await this.getItem(taskItemKey(sweepId, taskId));
    return item && decodeTask(this.recordOf(item), this.where(item), { sweepId, taskId });
  }

  async listTasks(sweepId: string): Promise<TaskRecord[]> {
    return intact(await this.scanTasks(sweepId));
  }

  async scanTasks(sweepId: string): Promise<Array<TaskRecord | DamagedRecord>> {
    const items = await this.queryPrefix(sweepPk(sweepId), 'TASK#');
    return Promise.all(
      items.map((item) =>
        readOrDamaged({ sweepId, taskId: String(item.sk).replace(/^TASK#/, '') }, async () =>
          decodeTask(this.recordOf(item), this.where(item), { sweepId }),
        ),
      ),
    );
  }

  async updateTask(sweepId: string, taskId: string, from: TaskStatus[], patch: TaskPatch): Promise<boolean> {
    return this.updateIf(taskItemKey(sweepId, taskId), from, stampPatch(patch, ['sweepId', 'taskId']));
  }

  /** One item per epoch, so rewriting an epoch (a retried task) overwrites it. */
  async putEpochs(sweepId: string, taskId: string, rows: EpochMetrics[]): Promise<void> {
    const pk = epochsPk(sweepId, taskId);
    const requests = epochRowsToStore(rows).map((row) => ({
      PutRequest: { Item: this.itemOf({ pk, sk: epochSk(row.epoch) }, row) },
    }));
    await this.batchWriteAll(requests, `${pk} / ${EPOCH_SK_PREFIX}* of table ${this.tableName}`);
  }

  async getEpochs(sweepId: string, taskId: string): Promise<EpochMetrics[]> {
    const items = await this.queryPrefix(epochsPk(sweepId, taskId), EPOCH_SK_PREFIX);
    return items
      .map((item) => decodeEpoch(this.recordOf(item), this.where(item), { epoch: Number(String(item.sk).slice(EPOCH_SK_PREFIX.length)) }))
      .sort((a, b) => a.epoch - b.epoch);
  }

  async deleteEpochs(sweepId: string, taskId: string): Promise<void> {
    const pk = epochsPk(sweepId, taskId);
    const items = await this.queryPrefix(pk, EPOCH_SK_PREFIX);
    const requests = items.map((item) => ({ DeleteRequest: { Key: { pk: item.pk, sk: item.sk } } }));
    await this.batchWriteAll(requests, `${pk} / ${EPOCH_SK_PREFIX}* of table ${this.tableName}`);
  }

  async acquireLease(lease: SweepLease): Promise<{ acquired: true } | { acquired: false; holder: SweepLease }> {
    validateLease(lease);
    const item = this.itemOf(leaseItemKey(lease.sweepId), lease);
    for (;;) {
      // ISO timestamps of one format compare as strings in the order of time.
      const taken = await this.conditional(`PutItem ${this.where(item)}`, () =>
        this.client.send(
          new PutCommand({
            TableName: this.tableName,
            Item: item,
            ConditionExpression: 'attribute_not_exists(pk) OR expiresAt <= :now OR #token = :token',
            ExpressionAttributeNames: { '#token': 'token' },
            ExpressionAttributeValues: { ':now': new Date().toISOString(), ':token': lease.token },
          }),
        ),
      );
      if (taken) return { acquired: true };
      const holder = await this.getLease(lease.sweepId);
      // Undefined or expired: it changed since the condition was checked; try again.
      if (holder && !leaseExpired(holder)) return { acquired: false, holder };
    }
  }

  async renewLease(sweepId: string, token: string, expiresAt: string): Promise<boolean> {
    const key = leaseItemKey(sweepId);
    return this.conditional(`UpdateItem ${this.where(key)}`, () =>
      this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: key,
          UpdateExpression: 'SET expiresAt = :expiresAt',
          ConditionExpression: '#token = :token',
          ExpressionAttributeNames: { '#token': 'token' },
          ExpressionAttributeValues: { ':expiresAt': expiresAt, ':token': token },
        }),
      ),
    );
  }

  async releaseLease(sweepId: string, token: string): Promise<void> {
    await this.renewLease(sweepId, token, new Date().toISOString());
  }

  async getLease(sweepId: string): Promise<SweepLease | undefined> {
    const item = await this.getItem(leaseItemKey(sweepId));
    return item && decodeLease(this.recordOf(item), this.where(item), { sweepId });
  }

  /** BatchGetItem of the tasks' items at the epoch: each in its own task's partition. */
  async getEpochsAt(sweepId: string, taskIds: string[], epoch: number): Promise<Map<string, EpochMetrics>> {
    validateEpoch(epoch);
    const rows = new Map<string, EpochMetrics>();
    const taskOfPk = new Map(taskIds.map((taskId) => [epochsPk(sweepId, taskId), taskId]));
    const keys = [...taskOfPk.keys()].map((pk) => ({ pk, sk: epochSk(epoch) }));
    for (let start = 0; start < keys.length; start += BATCH_GET_SIZE) {
      let pending = keys.slice(start, start + BATCH_GET_SIZE);
      for (let attempt = 1; pending.length > 0; attempt++) {
        const what = `BatchGetItem ${pending.length} epoch rows at epoch ${epoch} of table ${this.tableName}`;
        if (attempt > BATCH_ATTEMPTS)
          throw new StoreError('service', `DynamoDB ${what}: still unprocessed after ${BATCH_ATTEMPTS} attempts`);
        if (attempt > 1) await sleep(backoffMs(attempt));
        const output = await this.call(what, () =>
          this.client.send(new BatchGetCommand({ RequestItems: { [this.tableName]: { Keys: pending, ConsistentRead: true } } })),
        );
        for (const item of output.Responses?.[this.tableName] ?? []) {
          rows.set(taskOfPk.get(String(item.pk))!, decodeEpoch(this.recordOf(item), this.where(item), { epoch }));
        }
        pending = (output.UnprocessedKeys?.[this.tableName]?.Keys ?? []) as typeof pending;
      }
    }
    return rows;
  }

  async putRepro(record: ReproRecord): Promise<void> {
    validateRepro(record);
    const item = this.itemOf({ pk: reproPk(record.name), sk: `RUN#${chronologicalKey(record)}` }, record);
    await this.call(`PutItem ${this.where(item)}`, () => this.client.send(new PutCommand({ TableName: this.tableName, Item: item })));
  }

  async listRepro(name: string, limit?: number): Promise<ReproRecord[]> {
    validateLimit(limit);
    const items = await this.query(
      `Query ${reproPk(name)}`,
      {
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :run)',
        ExpressionAttributeValues: { ':pk': reproPk(name), ':run': 'RUN#' },
        ScanIndexForward: false,
        ConsistentRead: true,
      },
      limit,
    );
    return items.map((item) => decodeRepro(this.recordOf(item), this.where(item), { name }));
  }

  private itemOf(key: ItemKey, record: object): Item {
    return { ...(toStored(record) as Item), ...key };
  }

  private recordOf(item: Item): Item {
    const { pk, sk, gsi1pk, gsi1sk, ...record } = item;
    return record;
  }

  private where(item: Item): string {
    return `item ${String(item.pk)} / ${String(item.sk)} of table ${this.tableName}`;
  }

  private async call<T>(what: string, send: () => Promise<T>): Promise<T> {
    try {
      return await send();
    } catch (error) {
      throw new StoreError('service', `DynamoDB ${what} failed: ${describeError(error)}`, { cause: error });
    }
  }

  /** Whether a conditional write applied. */
  private async conditional(what: string, send: () => Promise<unknown>): Promise<boolean> {
    try {
      await send();
      return true;
    } catch (error) {
      if (isNamed(error, 'ConditionalCheckFailedException')) return false;
      throw new StoreError('service', `DynamoDB ${what} failed: ${describeError(error)}`, { cause: error });
    }
  }

  private async getItem(key: ItemKey): Promise<Item | undefined> {
    const output = await this.call(`GetItem ${this.where(key)}`, () =>
      this.client.send(new GetCommand({ TableName: this.tableName, Key: key, ConsistentRead: true })),
    );
    return output.Item;
  }

  /** All pages (or the first `limit` items) of a query. */
  private async query(what: string, input: Omit<QueryCommandInput, 'TableName'>, limit?: number): Promise<Item[]> {
    if (limit === 0) return [];
    const items: Item[] = [];
    let startKey: Item | undefined;
    do {
      const page = await this.call(`${what} of table ${this.tableName}`, () =>
        this.client.send(
          new QueryCommand({
            ...input,
            TableName: this.tableName,
            ExclusiveStartKey: startKey,
            Limit: limit === undefined ? undefined : limit - items.length,
          }),
        ),
      );
      items.push(...(page.Items ?? []));
      startKey = page.LastEvaluatedKey;
    } while (startKey && (limit === undefined || items.length < limit));
    return items;
  }

  private queryPrefix(pk: string, skPrefix: string): Promise<Item[]> {
    return this.query(`Query ${pk} / ${skPrefix}*`, {
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
      ExpressionAttributeValues: { ':pk': pk, ':prefix': skPrefix },
      ConsistentRead: true,
    });
  }

  /**
   * Sets the patched fields and removes those patched to undefined, if the status is one of
   * `from`. dynalite has no transactions, and none are needed: one item, one conditional write.
   */
  private async updateIf(key: ItemKey, from: readonly string[], changes: Item): Promise<boolean> {
    if (from.length === 0) return false;
    const names: Record<string, string> = { '#status': 'status' };
    const values: Item = {};
    const sets: string[] = [];
    const removes: string[] = [];
    Object.entries(changes).forEach(([field, value], index) => {
      names[`#f${index}`] = field;
      if (value === undefined) {
        removes.push(`#f${index}`);
      } else {
        values[`:f${index}`] = toStored(value);
        sets.push(`#f${index} = :f${index}`);
      }
    });
    const allowed = [...new Set(from)].map((status, index) => {
      values[`:from${index}`] = status;
      return `:from${index}`;
    });
    const clauses = [sets.length ? `SET ${sets.join(', ')}` : '', removes.length ? `REMOVE ${removes.join(', ')}` : ''];
    return this.conditional(`UpdateItem ${this.where(key)}`, () =>
      this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: key,
          UpdateExpression: clauses.filter(Boolean).join(' '),
          ConditionExpression: `#status IN (${allowed.join(', ')})`,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        }),
      ),
    );
  }

  private async batchWriteAll(requests: WriteRequest[], what: string): Promise<void> {
    for (let start = 0; start < requests.length; start += BATCH_SIZE) {
      await this.batchWrite(requests.slice(start, start + BATCH_SIZE), what);
    }
  }

  /** One BatchWriteItem, resubmitting unprocessed items (throttling) with exponential backoff. */
  private async batchWrite(requests: WriteRequest[], what: string): Promise<void> {
    let pending = requests;
    for (let attempt = 1; ; attempt++) {
      const output = await this.call(`BatchWriteItem ${what}`, () =>
        this.client.send(new BatchWriteCommand({ RequestItems: { [this.tableName]: pending } })),
      );
      const unprocessed = output.UnprocessedItems?.[this.tableName] ?? [];
      if (unprocessed.length === 0) return;
      if (attempt === BATCH_ATTEMPTS) {
        throw new StoreError(
          'service',
          `DynamoDB BatchWriteItem ${what}: ${unprocessed.length} items still unprocessed after ${attempt} attempts`,
        );
      }
      pending = unprocessed as typeof requests;
      await sleep(backoffMs(attempt));
    }
  }
}

const CONTENT_TYPES: Record<string, string> = {
  json: 'application/json',
  html: 'text/html; charset=utf-8',
  svg: 'image/svg+xml',
  png: 'image/png',
  csv: 'text/csv; charset=utf-8',
  txt: 'text/plain; charset=utf-8',
  yaml: 'application/yaml',
  yml: 'application/yaml',
};

/** So that a report or plot opened from the S3 console displays instead of downloading. */
function contentTypeOf(key: string): string {
  const extension = key.slice(key.lastIndexOf('.') + 1).toLowerCase();
  return CONTENT_TYPES[extension] ?? 'application/octet-stream';
}

export interface S3ArtifactStoreOptions {
  client: S3Client;
  bucket: string;
}

/**
 * Checkpoints are tagged so that the bucket's lifecycle rule can expire them: lifecycle filters
 * match prefixes and tags, not key patterns like sweeps/<id>/tasks/<task>/checkpoint.bin.
 */
export const CHECKPOINT_TAGGING = 'floodsweep-kind=checkpoint';
const CHECKPOINT_SUFFIX = '/checkpoint.bin';

export class S3ArtifactStore implements ArtifactStore {
  private readonly client: S3Client;
  readonly bucket: string;

  constructor(options: S3ArtifactStoreOptions) {
    this.client = options.client;
    this.bucket = options.bucket;
  }

  async put(key: string, body: Uint8Array | string, contentType?: string): Promise<void> {
    validateKey(key);
    try {
      await this.putObject(key, body, contentType);
    } catch (error) {
      throw this.failure('PutObject', key, error);
    }
  }

  private async putObject(key: string, body: Uint8Array | string, contentType?: string, ifNoneMatch?: string): Promise<void> {
    const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
    await this.client.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: key,
        Body: bytes,
        ContentLength: bytes.byteLength,
        ContentType: contentType ?? contentTypeOf(key),
        Tagging: key.endsWith(CHECKPOINT_SUFFIX) ? CHECKPOINT_TAGGING : undefined,
        IfNoneMatch: ifNoneMatch,
      }),
    );
  }

  /**
   * S3 refuses a PutObject with If-None-Match: * when the key exists, atomically (since 2024). No
   * HEAD first: it needs s3:GetObject, and without s3:ListBucket S3 answers it 403 for a missing key.
   */
  async create(key: string, body: Uint8Array | string, contentType?: string): Promise<boolean> {
    validateKey(key);
    try {
      await this.putObject(key, body, contentType, '*');
      return true;
    } catch (error) {
      if (isNamed(error, 'PreconditionFailed', 'ConditionalRequestConflict')) return false;
      throw this.failure('PutObject', key, error);
    }
  }

  async get(key: string): Promise<Buffer | undefined> {
    validateKey(key);
    try {
      const output = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      if (!output.Body) throw new Error('the response has no body');
      return Buffer.from(await output.Body.transformToByteArray());
    } catch (error) {
      if (isNamed(error, 'NoSuchKey')) return undefined;
      throw this.failure('GetObject', key, error);
    }
  }

  /** S3 answers a delete of an absent key with success too. */
  async delete(key: string): Promise<void> {
    validateKey(key);
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
    } catch (error) {
      throw this.failure('DeleteObject', key, error);
    }
  }

  /** A HEAD response has no body, so a missing bucket also reads as NotFound here. */
  async exists(key: string): Promise<boolean> {
    validateKey(key);
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return true;
    } catch (error) {
      if (isNamed(error, 'NotFound', 'NoSuchKey')) return false;
      throw this.failure('HeadObject', key, error);
    }
  }

  async list(prefix: string): Promise<string[]> {
    validatePrefix(prefix);
    const keys: string[] = [];
    let token: string | undefined;
    do {
      try {
        const page = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }));
        keys.push(...(page.Contents ?? []).flatMap((object) => (object.Key === undefined ? [] : [object.Key])));
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } catch (error) {
        throw this.failure('ListObjectsV2', `${prefix}*`, error);
      }
    } while (token);
    return keys.sort();
  }

  locate(key: string): string {
    return key === '' ? `s3://${this.bucket}` : `s3://${this.bucket}/${validateKey(key)}`;
  }

  private failure(operation: string, key: string, error: unknown): StoreError {
    const message = `S3 ${operation} s3://${this.bucket}/${key} failed: ${describeError(error)}`;
    return new StoreError('service', message, { cause: error });
  }
}

export interface AwsClientOptions {
  region?: string;
  /** One endpoint for both services (e.g. LocalStack); the per-service ones below take precedence. */
  endpointUrl?: string;
  dynamodbEndpointUrl?: string;
  s3EndpointUrl?: string;
  /** Defaults to the SDK's provider chain. */
  credentials?: DynamoDBClientConfig['credentials'];
}

export function awsClients(options: AwsClientOptions = {}) {
  const { region, credentials } = options;
  const dynamodbEndpoint = options.dynamodbEndpointUrl ?? options.endpointUrl;
  const s3Endpoint = options.s3EndpointUrl ?? options.endpointUrl;
  const dynamodb = new DynamoDBClient({ region, credentials, endpoint: dynamodbEndpoint, ...awsClientSettings() });
  const documents = DynamoDBDocumentClient.from(dynamodb, { marshallOptions: { removeUndefinedValues: true } });
  // Emulators such as s3rver want path-style URLs, and store streamed uploads corrupted when the
  // SDK adds its default flexible checksums.
  const emulatorSettings: S3ClientConfig = {
    endpoint: s3Endpoint,
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  };
  const s3 = new S3Client({ region, credentials, ...(s3Endpoint ? emulatorSettings : {}), ...awsClientSettings() });
  return { dynamodb, documents, s3 };
}
