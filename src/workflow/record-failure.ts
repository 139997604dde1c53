import type { Stores } from '../store/open.js';
import { SWEEP_STATUSES } from '../sweep/records.js';
import { type FailureInput, type FailureOutput, failureInputSchema, parsePayload } from './payloads.js';

/**
 * Records a failure after the workflow's retries: a task's, so the sweep goes on without it, or
 * (no taskId) the sweep's, when a step after Plan failed, so it never stays RUNNING.
 */
export async function recordFailure(stores: Stores, event: unknown): Promise<FailureOutput> {
  const input: FailureInput = parsePayload(failureInputSchema, event, 'RecordFailure input');
  const { sweepId, taskId } = input;
  const error = describeFailure(input.error);
  if (taskId === undefined) {
    await stores.metrics.updateSweep(sweepId, [...SWEEP_STATUSES], { status: 'FAILED', error });
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
