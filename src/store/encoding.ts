/**
 * What both MetricsStore adapters share: validation of what is written, the stored form of
 * values, decoding (and checking) of what is read, ordering, and patches.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { StoredCostEstimate } from '../cost/model.js';
import { describeIssues, type TaskConfig } from '../flooding/config.js';
import { canonicalJson } from '../flooding/json.js';
import type { EpochMetrics } from '../flooding/metrics.js';
import type { PruningRule } from '../sweep/pruning.js';
import {
  type DamagedRecord,
  isDamaged,
  REPRO_VERDICTS,
  type ReproRecord,
  SWEEP_STATUSES,
  type SweepLease,
  type SweepRecord,
  TASK_STATUSES,
  type TaskRecord,
} from '../sweep/records.js';
import { StoreError, validateId } from './ports.js';

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** Listings sort timestamps as strings, which is only chronological for one fixed format. */
function validateTimestamp(what: string, value: string): void {
  if (typeof value !== 'string' || !ISO_UTC.test(value) || Number.isNaN(Date.parse(value))) {
    throw new StoreError('input', `invalid ${what} ${JSON.stringify(value)}: expected an ISO timestamp like new Date().toISOString()`);
  }
}

export function validateSweep(record: SweepRecord): void {
  validateId('sweepId', record.sweepId);
  validateTimestamp('sweep createdAt', record.createdAt);
}

export function validateLease(lease: SweepLease): void {
  validateId('sweepId', lease.sweepId);
  validateId('lease token', lease.token);
  validateTimestamp('lease startedAt', lease.startedAt);
  validateTimestamp('lease expiresAt', lease.expiresAt);
}

export function validateTask(record: Pick<TaskRecord, 'sweepId' | 'taskId'>): void {
  validateId('sweepId', record.sweepId);
  validateId('taskId', record.taskId);
}

/** Validates the records and keeps the last of each task, so one batch never writes a task twice (DynamoDB refuses that). */
export function lastRecordPerTask(records: TaskRecord[]): TaskRecord[] {
  const byTask = new Map<string, TaskRecord>();
  for (const record of records) {
    validateTask(record);
    byTask.set(`${record.sweepId}#${record.taskId}`, record);
  }
  return [...byTask.values()];
}

export function validateRepro(record: ReproRecord): void {
  validateId('repro name', record.name);
  validateId('sweepId', record.sweepId);
  validateTimestamp('repro createdAt', record.createdAt);
}

/** The DynamoDB sort key pads epochs to 6 digits. */
const MAX_EPOCH = 999_999;

export function validateEpoch(epoch: number): void {
  if (!Number.isInteger(epoch) || epoch < 0 || epoch > MAX_EPOCH) {
    throw new StoreError('input', `invalid epoch ${JSON.stringify(epoch)}: expected an integer 0..${MAX_EPOCH}`);
  }
}

/** The field of a stored epoch row holding the sha256 of the rest of it. */
const ROW_CHECKSUM = 'sha256';

function checksumOf(stored: Record<string, unknown>): string {
  const { [ROW_CHECKSUM]: _checksum, ...rest } = stored;
  return createHash('sha256').update(canonicalJson(rest)).digest('hex');
}

/**
 * The rows as the adapters write them: validated, the last row of each epoch only (one call never
 * writes an epoch twice), in their stored form, each with the sha256 that decodeEpoch verifies.
 */
export function epochRowsToStore(rows: EpochMetrics[]): Array<{ epoch: number } & Record<string, unknown>> {
  const byEpoch = new Map<number, EpochMetrics>();
  for (const row of rows) {
    validateEpoch(row.epoch);
    byEpoch.set(row.epoch, row);
  }
  return [...byEpoch.values()].map((row) => {
    const stored = toStored(row) as { epoch: number } & Record<string, unknown>;
    return { ...stored, [ROW_CHECKSUM]: checksumOf(stored) };
  });
}

export function validateLimit(limit: number | undefined): void {
  if (limit !== undefined && !(Number.isInteger(limit) && limit >= 0)) {
    throw new StoreError('input', `invalid limit ${JSON.stringify(limit)}: expected a non-negative integer`);
  }
}

const NUMBER_TAG = '$number';

/**
 * DynamoDB cannot hold NaN, infinities or numbers outside about 1e-130..1e126, lib-dynamodb refuses
 * numbers beyond the safe-integer range, and JSON turns NaN into null. A diverging run produces
 * exactly such metrics, so those numbers are stored as `{ $number: "<decimal>" }`.
 */
function storesExactly(value: number): boolean {
  const magnitude = Math.abs(value);
  return Number.isFinite(value) && magnitude <= Number.MAX_SAFE_INTEGER && (magnitude === 0 || magnitude >= 1e-130);
}

/** The stored form of a JSON-like value: special numbers tagged, undefined properties dropped. */
export function toStored(value: unknown): unknown {
  if (typeof value === 'number') return storesExactly(value) ? value : { [NUMBER_TAG]: String(value) };
  if (Array.isArray(value)) return value.map(toStored);
  if (value !== null && typeof value === 'object') {
    if ('toJSON' in value && typeof value.toJSON === 'function') return toStored(value.toJSON());
    const stored: Record<string, unknown> = {};
    for (const [key, field] of Object.entries(value)) {
      if (field !== undefined) stored[key] = toStored(field);
    }
    return stored;
  }
  return value;
}

export function fromStored(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(fromStored);
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value);
    if (entries.length === 1 && entries[0][0] === NUMBER_TAG && typeof entries[0][1] === 'string') {
      return Number(entries[0][1]);
    }
    return Object.fromEntries(entries.map(([key, field]) => [key, fromStored(field)]));
  }
  return value;
}

const anyNumber = z.custom<number>((value) => typeof value === 'number', 'expected a number');
const taskConfig = z.custom<TaskConfig>(
  (value) => value !== null && typeof value === 'object' && !Array.isArray(value),
  'expected an object',
);
const split = z.looseObject({ loss: anyNumber, acc: anyNumber, cleanLoss: anyNumber, cleanAcc: anyNumber });

const sweepSchema = z.looseObject({
  sweepId: z.string(),
  name: z.string(),
  createdAt: z.string(),
  status: z.enum(SWEEP_STATUSES),
  taskCount: anyNumber,
  specKey: z.string(),
  updatedAt: z.string(),
  summaryKey: z.string().optional(),
  specSha256: z.string().optional(),
  summarySha256: z.string().optional(),
  failedTasks: anyNumber.optional(),
  error: z.string().optional(),
  costEstimate: z
    .custom<StoredCostEstimate>(
      (value) => value !== null && typeof value === 'object' && typeof (value as StoredCostEstimate).totalUsd === 'number',
      'expected an object with totalUsd',
    )
    .optional(),
  executionArn: z.string().optional(),
});

const taskSchema = z.looseObject({
  sweepId: z.string(),
  taskId: z.string(),
  status: z.enum(TASK_STATUSES),
  config: taskConfig,
  group: z.string(),
  epochsDone: anyNumber,
  epochsTotal: anyNumber,
  backend: z.string().optional(),
  final: z.looseObject({ train: split, val: split, test: split }).optional(),
  error: z.string().optional(),
  attempts: anyNumber,
  usage: z.looseObject({ seconds: anyNumber, rows: anyNumber, lambdaMemoryMb: anyNumber.optional() }).optional(),
  updatedAt: z.string(),
  pruning: z
    .looseObject({
      rule: z.custom<PruningRule>((value) => value !== null && typeof value === 'object' && 'rule' in value, 'expected a pruning rule'),
      references: z.array(z.string()),
      passedThrough: anyNumber,
      decision: z
        .looseObject({
          epoch: anyNumber,
          value: anyNumber,
          threshold: anyNumber,
          references: z.record(z.string(), anyNumber),
          stoppedAt: anyNumber,
        })
        .optional(),
    })
    .optional(),
});

const epochSchema = z.looseObject({
  epoch: z.int().min(0),
  train: split,
  val: split,
  test: split,
  floodedFraction: anyNumber,
  objective: anyNumber,
  lr: anyNumber,
  seconds: anyNumber,
});

const leaseSchema = z.looseObject({
  sweepId: z.string(),
  token: z.string(),
  host: z.string(),
  pid: anyNumber,
  processStart: z.string().optional(),
  startedAt: z.string(),
  expiresAt: z.string(),
});

const reproSchema = z.looseObject({
  name: z.string(),
  sweepId: z.string(),
  baseline: z.string(),
  verdict: z.enum(REPRO_VERDICTS),
  createdAt: z.string(),
  details: z.unknown(),
});

/**
 * Decodes a stored value, throwing StoreError naming `where` if it is not a valid record of the
 * kind or does not carry the identity (`expected`) it is stored under.
 */
function decoder<T>(kind: string, schema: z.ZodType<T>) {
  return (stored: unknown, where: string, expected: Partial<Record<keyof T, unknown>> = {}): T => {
    const parsed = schema.safeParse(fromStored(stored));
    if (!parsed.success) {
      throw new StoreError('state', `corrupt ${kind} record in ${where}: ${describeIssues(parsed.error).join('; ')}`);
    }
    for (const [field, value] of Object.entries(expected)) {
      const actual = parsed.data[field as keyof T];
      if (actual !== value) {
        const mismatch = `${field} is ${JSON.stringify(actual)}, expected ${JSON.stringify(value)}`;
        throw new StoreError('state', `corrupt ${kind} record in ${where}: ${mismatch}`);
      }
    }
    return parsed.data;
  };
}

export const decodeSweep = decoder<SweepRecord>('sweep', sweepSchema);
export const decodeTask = decoder<TaskRecord>('task', taskSchema);
const decodeEpochRecord = decoder<EpochMetrics>('epoch', epochSchema);

/** An epoch row as stored, its checksum verified: a row altered at rest (a flipped digit) is damaged, never a number. */
export function decodeEpoch(stored: unknown, where: string, expected: Partial<Record<keyof EpochMetrics, unknown>> = {}): EpochMetrics {
  const { [ROW_CHECKSUM]: _checksum, ...row } = decodeEpochRecord(stored, where, expected) as EpochMetrics & Record<string, unknown>;
  const record = stored as Record<string, unknown>;
  if (typeof record[ROW_CHECKSUM] !== 'string') throw new StoreError('state', `damaged epoch record in ${where}: it has no checksum`);
  if (record[ROW_CHECKSUM] !== checksumOf(record)) {
    throw new StoreError('state', `damaged epoch record in ${where}: its sha256 checksum does not match its content`);
  }
  return row as EpochMetrics;
}
export const decodeLease = decoder<SweepLease>('lease', leaseSchema);
export const decodeRepro = decoder<ReproRecord>('repro', reproSchema as z.ZodType<ReproRecord>);

/** The record `read` returns, or, if it is damaged (a StoreError of kind state), what is wrong with it. */
export async function readOrDamaged<T>(identity: Omit<DamagedRecord, 'damage'>, read: () => Promise<T>): Promise<T | DamagedRecord> {
  try {
    return await read();
  } catch (error) {
    if (error instanceof StoreError && error.kind === 'state') return { ...identity, damage: error.message };
    throw error;
  }
}

/** The records of a scan, or the first damaged one's error: for callers that need every record intact. */
export function intact<T extends object>(records: Array<T | DamagedRecord>): T[] {
  const damaged = records.find((record) => isDamaged(record));
  if (damaged) throw new StoreError('state', (damaged as DamagedRecord).damage);
  return records as T[];
}

/** Sweeps newest first, then the damaged ones (which have no creation time) by id. */
export function newestFirstListing(records: Array<SweepRecord | DamagedRecord>, limit?: number): Array<SweepRecord | DamagedRecord> {
  const damaged = records.filter((record): record is DamagedRecord => isDamaged(record));
  const sweeps = records.filter((record): record is SweepRecord => !isDamaged(record));
  return [...newestFirst(sweeps), ...damaged.sort((a, b) => (a.sweepId < b.sweepId ? -1 : 1))].slice(0, limit);
}

/** Sort key of sweeps and repro runs: chronological (fixed timestamp format), ties by sweep id. */
export function chronologicalKey(record: { createdAt: string; sweepId: string }): string {
  return `${record.createdAt}#${record.sweepId}`;
}

export function newestFirst<T extends { createdAt: string; sweepId: string }>(records: T[]): T[] {
  const keyed = records.map((record) => [chronologicalKey(record), record] as const);
  keyed.sort(([a], [b]) => (a < b ? 1 : a > b ? -1 : 0));
  return keyed.map(([, record]) => record);
}

/**
 * The patch a conditional update applies: identity fields refused (a JavaScript caller can get
 * past the types), `updatedAt` stamped unless given.
 */
export function stampPatch<P extends { updatedAt?: string }>(patch: P, identity: readonly string[]): P {
  for (const field of identity) {
    if (field in patch) throw new StoreError('internal', `a patch may not change ${field}`);
  }
  return { ...patch, updatedAt: patch.updatedAt ?? new Date().toISOString() };
}
