import { executionLeaseToken } from '../store/lease.js';
import type { Stores } from '../store/open.js';
import { SWEEP_STATUSES } from '../sweep/records.js';
import { type FailureInput, type FailureOutput, failureInputSchema, parsePayload } from './payloads.js';
import { plannedSweepId } from './plan.js';

/**
 * Records a failure after the workflow's retries: a task's, so the sweep goes on without it, or
 * (no taskId) the sweep's, when a step after Plan failed, so it never stays RUNNING.
 */
export async function recordFailure(stores: Stores, event: unknown): Promise<FailureOutput> {
  const input: FailureInput = parsePayload(failureInputSchema, event, 'RecordFailure input');
  const { taskId, executionName } = input;
  const error = describeFailure(input.error);
  const planFailed = input.sweepId === undefined;
  const sweepId = input.sweepId ?? (input.input && executionName ? plannedSweepId(input.input, executionName) : undefined);
  // Plan failed before it could name the sweep (its spec is invalid): it recorded nothing.
  if (sweepId === undefined) return { failed: true };
  if (taskId === undefined) {
    // A Plan that failed marks only the sweep it set RUNNING, never one whose earlier run ended.
    await stores.metrics.updateSweep(sweepId, planFailed ? ['RUNNING'] : [...SWEEP_STATUSES], { status: 'FAILED', error });
    if (executionName) await stores.metrics.releaseLease(sweepId, executionLeaseToken(executionName));
    return { sweepId, failed: true };
  }
  await stores.metrics.updateTask(sweepId, taskId, ['PENDING', 'RUNNING', 'FAILED'], { status: 'FAILED', error });
  return { sweepId, taskId, failed: true };
}

/** A Lambda failure's Cause is a JSON document; a local one is the message itself. */
function describeFailure(error: FailureInput['error']): string {
  if (!error) return 'unknown error';
  const cause = error.Cause ?? '';
  try {
    const parsed = JSON.parse(cause) as { errorMessage?: string; errorType?: string };
    if (parsed.errorMessage) return `${parsed.errorType ?? error.Error}: ${parsed.errorMessage}`;
  } catch {
    // Not JSON: the cause is already the message.
  }
  return `${error.Error ?? 'Error'}: ${cause}`;
}
