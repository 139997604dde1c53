import { FloodsweepError } from '../errors.js';
import type { EpochMetrics } from '../flooding/metrics.js';
import type { DamagedRecord, ReproRecord, SweepLease, SweepRecord, SweepStatus, TaskRecord, TaskStatus } from '../sweep/records.js';

export type SweepPatch = Partial<Omit<SweepRecord, 'sweepId' | 'createdAt'>>;
export type TaskPatch = Partial<Omit<TaskRecord, 'sweepId' | 'taskId'>>;

/**
 * Sweeps, tasks, per-epoch metrics and reproducibility records. Every write is idempotent.
 * In patches, a field set to `undefined` is removed; `updatedAt` defaults to the current time.
 */
export interface MetricsStore {
  /** Returns false, changing nothing, if the sweep already exists. */
  createSweep(record: SweepRecord): Promise<boolean>;
  getSweep(sweepId: string): Promise<SweepRecord | undefined>;
  /** Newest first (createdAt desc). */
  /** Newest first; a record that cannot be read is listed as damaged (last), not an error for the listing. */
  listSweeps(limit?: number): Promise<Array<SweepRecord | DamagedRecord>>;
  /** Conditional: applies only when the current status is one of `from`; returns whether it applied. */
  updateSweep(sweepId: string, from: SweepStatus[], patch: SweepPatch): Promise<boolean>;
  /** Upsert. */
  putTask(record: TaskRecord): Promise<void>;
  /** Upsert of many, in batches (25 per DynamoDB BatchWriteItem); each record is written whole or not at all. */
  putTasks(records: TaskRecord[]): Promise<void>;
  getTask(sweepId: string, taskId: string): Promise<TaskRecord | undefined>;
  /** Sorted by taskId. */
  /** Every task record of the sweep; one that cannot be read is a StoreError naming it (the workflow needs them all). */
  listTasks(sweepId: string): Promise<TaskRecord[]>;
  /** Every task record, one that cannot be read listed as damaged: what readers show, confining the damage to it. */
  scanTasks(sweepId: string): Promise<Array<TaskRecord | DamagedRecord>>;
  /** Conditional status change, like updateSweep. */
  updateTask(sweepId: string, taskId: string, from: TaskStatus[], patch: TaskPatch): Promise<boolean>;
  /** Keyed by (task, epoch), stored per task: rewriting an epoch overwrites it, never duplicates it. */
  putEpochs(sweepId: string, taskId: string, rows: EpochMetrics[]): Promise<void>;
  /** Sorted by epoch. */
  getEpochs(sweepId: string, taskId: string): Promise<EpochMetrics[]>;
  /** Removes every epoch row of the task (a task restarted from scratch); nothing to remove is no error. */
  deleteEpochs(sweepId: string, taskId: string): Promise<void>;
  /**
   * Takes the sweep's lease, atomically, if nobody holds it, its holder's expired, or it is this
   * token's already; otherwise changes nothing and returns the lease that holds.
   */
  acquireLease(lease: SweepLease): Promise<{ acquired: true } | { acquired: false; holder: SweepLease }>;
  /** Moves the expiry of the lease held by `token`; false if another holder has taken it over. */
  renewLease(sweepId: string, token: string, expiresAt: string): Promise<boolean>;
  /** Expires the lease now if `token` holds it; the record stays, naming who held it last. */
  releaseLease(sweepId: string, token: string): Promise<void>;
  /** The current (or last) lease, expired or not. */
  getLease(sweepId: string): Promise<SweepLease | undefined>;
  /**
   * The row at one epoch of each of several tasks (a pruning check reads its references' rows at
   * a rung): tasks without that row are absent. One batched read, not a query per task.
   */
  getEpochsAt(sweepId: string, taskIds: string[], epoch: number): Promise<Map<string, EpochMetrics>>;
  /** Upsert, keyed by (name, createdAt, sweepId). */
  putRepro(record: ReproRecord): Promise<void>;
  /** Newest first. */
  listRepro(name: string, limit?: number): Promise<ReproRecord[]>;
}

/** Keys -> bytes. Keys follow `validateKey`. */
export interface ArtifactStore {
  put(key: string, body: Uint8Array | string, contentType?: string): Promise<void>;
  /** Write-once: stores the object only if the key is absent; returns whether it did. */
  create(key: string, body: Uint8Array | string, contentType?: string): Promise<boolean>;
  /** Undefined only when the key is absent; any other failure throws StoreError. */
  get(key: string): Promise<Buffer | undefined>;
  exists(key: string): Promise<boolean>;
  /** Removes the object; an absent key is no error. */
  delete(key: string): Promise<void>;
  /** Keys starting with `prefix`, sorted. */
  list(prefix: string): Promise<string[]>;
  /** Where a user can find the key: a file path locally, s3://bucket/key in the cloud; '' is the store itself. */
  locate(key: string): string;
}

/** Any failure of a store: bad input, unreadable or corrupt stored state, a failed service call. */
export class StoreError extends FloodsweepError {
  override name = 'StoreError';
}

const ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
export const ID_RULE = "use 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit";

/**
 * Ids (sweep, task, repro name) become path segments and parts of DynamoDB sort keys
 * joined with '#', so they are limited to a portable alphabet.
 */
export function isValidId(id: unknown): id is string {
  return typeof id === 'string' && ID.test(id);
}

export function validateId(what: string, id: string): string {
  if (!isValidId(id)) {
    throw new StoreError('input', `invalid ${what} ${JSON.stringify(id)}: ${ID_RULE}`);
  }
  return id;
}

const KEY_SEGMENT = /^[A-Za-z0-9._=+,-]+$/;
const KEY_RULES =
  "keys are '/'-separated segments of letters, digits and . _ - = + , " + "with no leading '/' and no empty, '.' or '..' segment";

function keyProblem(segments: string[]): string | undefined {
  for (const segment of segments) {
    if (segment === '') return 'empty segment';
    if (segment === '.' || segment === '..') return `relative segment '${segment}'`;
    if (!KEY_SEGMENT.test(segment)) return `segment '${segment}' has a character outside the allowed set`;
  }
  return undefined;
}

/** Returns the key if it is valid for every adapter (S3 and local files), else throws StoreError. */
export function validateKey(key: string): string {
  if (typeof key !== 'string' || key.length === 0) {
    throw new StoreError('input', `invalid artifact key ${JSON.stringify(key)}: empty; ${KEY_RULES}`);
  }
  if (key.length > 1024) {
    throw new StoreError('input', `invalid artifact key '${key.slice(0, 60)}...': longer than 1024 characters`);
  }
  const problem = key.startsWith('/') ? "leading '/'" : keyProblem(key.split('/'));
  if (problem) throw new StoreError('input', `invalid artifact key '${key}': ${problem}; ${KEY_RULES}`);
  return key;
}

/** A listing prefix: empty, or a valid key, optionally ending with '/'. */
export function validatePrefix(prefix: string): string {
  if (prefix === '') return prefix;
  validateKey(prefix.endsWith('/') ? prefix.slice(0, -1) : prefix);
  return prefix;
}

/** The artifact key layout of one sweep, the same in S3 and in a local results directory. */
export function sweepKeys(sweepId: string) {
  const base = `sweeps/${validateId('sweepId', sweepId)}`;
  const task = (taskId: string) => `${base}/tasks/${validateId('taskId', taskId)}`;
  return {
    /** Prefix of every key of the sweep. */
    prefix: `${base}/`,
    spec: `${base}/spec.json`,
    manifest: `${base}/manifest.json`,
    taskCheckpoint: (taskId: string) => `${task(taskId)}/checkpoint.bin`,
    taskResult: (taskId: string) => `${task(taskId)}/result.json`,
    summary: `${base}/summary.json`,
    report: `${base}/report.html`,
    /** The comparison with the baseline, for reproducibility runs. */
    repro: `${base}/repro.json`,
    plot: (name: string) => validateKey(`${base}/plots/${name}`),
  };
}
