/**
 * What a sweep is made of, as the stores keep it: the sweep, its tasks, and the verdicts of
 * reproducibility runs. The stores (src/store/) persist these; this folder owns their meaning.
 */
import type { TaskConfig } from '../flooding/config.js';
import type { SplitMetrics } from '../flooding/metrics.js';
import type { RecordedUsage, StoredCostEstimate } from './cost.js';

export const SWEEP_STATUSES = ['RUNNING', 'SUCCEEDED', 'PARTIAL', 'FAILED'] as const;
export type SweepStatus = (typeof SWEEP_STATUSES)[number];
export const TASK_STATUSES = ['PENDING', 'RUNNING', 'SUCCEEDED', 'FAILED'] as const;
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
  failedTasks?: number;
  error?: string;
  /** What the sweep was estimated to cost when it started (sweep cost, sweep run). */
  costEstimate?: StoredCostEstimate;
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
