import type { Stores } from '../store/open.js';
import { type FailureInput, type FailureOutput, failureInputSchema, parsePayload } from './payloads.js';

/** Records a task that threw (after the workflow's retries) so the sweep can go on without it. */
export async function recordFailure(stores: Stores, event: unknown): Promise<FailureOutput> {
  const input: FailureInput = parsePayload(failureInputSchema, event, 'RecordFailure input');
  const { sweepId, taskId } = input;
  await stores.metrics.updateTask(sweepId, taskId, ['PENDING', 'RUNNING', 'FAILED'], {
    status: 'FAILED',
    error: describeFailure(input.error),
  });
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
