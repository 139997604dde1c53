/**
 * What a sweep is made of, as the stores keep it: the sweep, its tasks, and the verdicts of
 * reproducibility runs. The stores (src/store/) persist these; this folder owns their meaning.
 */

import type { RecordedUsage, StoredCostEstimate } from '../cost/model.js';
import type { TaskConfig } from '../flooding/config.js';
import type { SplitMetrics } from '../flooding/metrics.js';
import type { TaskPruning } from './pruning.js';

/** INTERRUPTED: a local run stopped (Ctrl-C, a signal, an abort) or died before the end; resumable. */
export const SWEEP_STATUSES = ['RUNNING', 'SUCCEEDED', 'PARTIAL', 'FAILED', 'INTERRUPTED'] as const;
export type SweepStatus = (typeof SWEEP_STATUSES)[number];
/** PRUNED: stopped early by the sweep's pruning rule; its rows are kept, and it is no failure. */
export const TASK_STATUSES = ['PENDING', 'RUNNING', 'SUCCEEDED', 'PRUNED', 'FAILED'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];
export const REPRO_VERDICTS = ['REPRODUCED', 'DRIFTED', 'INCOMPLETE'] as const;
export type ReproVerdict = (typeof REPRO_VERDICTS)[number];

export interface SweepRecord {
  sweepId: string;
  name: string;
  /** ISO 8601 as produced by `Date.prototype.toISOString()`; listings sort on it as a string. */
  createdAt: string;
  status: SweepStatus;
  taskCount: number;
  specKey: string;
  updatedAt: string;
  summaryKey?: string;
  /** SHA-256 of the stored spec.json (Plan) and summary.json (Aggregate): what readers verify them against. */
  specSha256?: string;
  summarySha256?: string;
  failedTasks?: number;
  error?: string;
  /** What the sweep was estimated to cost when it started (sweep cost, sweep run). */
  costEstimate?: StoredCostEstimate;
  /** In the cloud: the Step Functions execution running (or last run) the sweep, a scheduled one included. */
  executionArn?: string;
}

export interface TaskRecord {
  sweepId: string;
  taskId: string;
  status: TaskStatus;
  config: TaskConfig;
  /** Id of the group of tasks sharing all axes but flood level and seed. */
  group: string;
  epochsDone: number;
  epochsTotal: number;
  backend?: string;
  final?: { train: SplitMetrics; val: SplitMetrics; test: SplitMetrics };
  error?: string;
  /** Train calls that ran (retries included). */
  attempts: number;
  /** What its Train calls used, for the cost it incurred. */
  usage?: RecordedUsage;
  updatedAt: string;
  /** Only in sweeps that prune: the rule, the reference tasks, the rungs passed and the decision. */
  pruning?: TaskPruning;
}

/**
 * A stored record that cannot be read (not JSON, another shape, another identity): its id and what
 * is wrong, so that a listing shows it as damaged and goes on with the others.
 */
export interface DamagedRecord {
  sweepId: string;
  taskId?: string;
  damage: string;
}

export const isDamaged = (record: object): record is DamagedRecord => 'damage' in record;

/**
 * What is missing from a task's stored epoch rows up to `epochsDone` (epoch 0, every `evalEvery`-th
 * and the last are stored): undefined if nothing. A task whose rows were lost is not complete,
 * whatever its record says.
 */
export function missingEpochRows(
  rows: ReadonlyArray<{ epoch: number }>,
  { epochs, evalEvery }: Pick<TaskConfig['training'], 'epochs' | 'evalEvery'>,
  epochsDone: number,
): string | undefined {
  const stored = new Set(rows.map((row) => row.epoch));
  const expected: number[] = [];
  for (let epoch = 0; epoch <= epochsDone; epoch += evalEvery) expected.push(epoch);
  if (epochsDone === epochs && epochs % evalEvery !== 0) expected.push(epochs);
  const missing = expected.filter((epoch) => !stored.has(epoch));
  if (missing.length === 0) return undefined;
  return `${missing.length} of its ${expected.length} evaluated epochs have no stored row (the first: epoch ${missing[0]})`;
}

/** Who runs a sweep now: the process that holds its lease, until `expiresAt` unless renewed. */
export interface SweepLease {
  sweepId: string;
  /** Unique per run; only the holder's token renews or releases the lease. */
  token: string;
  host: string;
  pid: number;
  /**
   * The holder process's identity beyond its pid, which the system reuses: the boot and the
   * process's start on it ("<boot id>/<start ticks>", Linux). A lease of a process that is gone
   * from this host is taken over at once instead of waiting for it to expire.
   */
  processStart?: string;
  /** ISO 8601, like every timestamp here. */
  startedAt: string;
  expiresAt: string;
}

/** Whether a lease no longer holds at `now`: it expired, or was released (which expires it). */
export function leaseExpired(lease: Pick<SweepLease, 'expiresAt'>, now = new Date()): boolean {
  return Date.parse(lease.expiresAt) <= now.getTime();
}

/**
 * The status a reader should show: a sweep still RUNNING whose lease expired has nobody running
 * it (its process was killed or its machine stopped), so it is INTERRUPTED. A sweep without a
 * lease (run in the cloud, where executions are not leased) keeps its stored status.
 */
export function observedStatus(sweep: Pick<SweepRecord, 'status'>, lease: SweepLease | undefined, now = new Date()): SweepStatus {
  if (sweep.status === 'RUNNING' && lease && leaseExpired(lease, now)) return 'INTERRUPTED';
  return sweep.status;
}

export interface ReproRecord {
  name: string;
  sweepId: string;
  baseline: string;
  verdict: ReproVerdict;
  /** ISO 8601 as produced by `Date.prototype.toISOString()`. */
  createdAt: string;
  /** Any JSON value. */
  details: unknown;
}
