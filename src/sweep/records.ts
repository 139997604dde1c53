/**
 * What a sweep is made of, as the stores keep it: the sweep, its tasks, and the verdicts of
 * reproducibility runs. The stores (src/store/) persist these; this folder owns their meaning.
 */
import type { TaskConfig } from '../flooding/config.js';
import type { SplitMetrics } from '../flooding/metrics.js';
import type { TaskPruning } from './pruning.js';

export const SWEEP_STATUSES = ['RUNNING', 'SUCCEEDED', 'PARTIAL', 'FAILED'] as const;
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
  failedTasks?: number;
  error?: string;
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
  attempts: number;
  updatedAt: string;
  /** Only in sweeps that prune: the rule, the reference tasks, the rungs passed and the decision. */
  pruning?: TaskPruning;
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
