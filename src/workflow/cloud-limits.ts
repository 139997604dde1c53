/**
 * The limits of Step Functions and Lambda that a deployed sweep runs into, enforced by the local
 * executor so that a local run fails where a deployed one would (DESIGN.md section 5).
 */
import { FloodsweepError, UsageError } from '../errors.js';

/** Every state's input and output, and a Distributed Map's collected result without ResultWriter. */
export const MAX_STATE_PAYLOAD_BYTES = 256 * 1024;
/** A synchronous Lambda invocation's request and response. */
export const MAX_LAMBDA_PAYLOAD_BYTES = 6 * 1024 * 1024;
/** History events of one execution; each Distributed Map child execution has a history of its own. */
export const MAX_HISTORY_EVENTS = 25_000;

/**
 * History events a state adds in Step Functions: a Task enters, is scheduled, starts, succeeds (or
 * fails) and exits; a retry schedules, starts and fails again; other states enter and exit.
 */
const HISTORY_EVENTS_PER_TASK = 5;
const HISTORY_EVENTS_PER_STATE = 2;
const HISTORY_EVENTS_PER_RETRY = 3;

/** One turn of a task's Train -> TaskDone? loop in its Map child: the Train task and the Choice. */
export const HISTORY_EVENTS_PER_TRAIN_TURN = HISTORY_EVENTS_PER_TASK + HISTORY_EVENTS_PER_STATE;
/** A Map child's events besides its turns: its start and end, a RecordFailure, and about 30 retries. */
const CHILD_HISTORY_RESERVE = 100;

/**
 * Refuses a sweep whose longest task needs more turns of the Train loop than a Map child's
 * history holds: past 25,000 events Step Functions ends the child uncatchably, leaving its task
 * RUNNING for good. Checked when Plan validates the spec, before anything is written.
 */
export function checkTrainLoopHistory(tasks: ReadonlyArray<{ config: { training: { epochs: number } } }>, epochsPerCall: number): void {
  const epochs = Math.max(0, ...tasks.map((task) => task.config.training.epochs));
  const turns = Math.ceil(epochs / epochsPerCall);
  const events = turns * HISTORY_EVENTS_PER_TRAIN_TURN + CHILD_HISTORY_RESERVE;
  if (events <= MAX_HISTORY_EVENTS) return;
  const fewestPerCall = Math.ceil((epochs * HISTORY_EVENTS_PER_TRAIN_TURN) / (MAX_HISTORY_EVENTS - CHILD_HISTORY_RESERVE));
  throw new UsageError(
    `training.epochs: ${epochs} epochs at ${epochsPerCall} per Train call take ${turns.toLocaleString('en-US')} turns of the Train loop, ` +
      `about ${events.toLocaleString('en-US')} history events in the task's child execution, above the ${MAX_HISTORY_EVENTS.toLocaleString('en-US')} Step Functions allows; ` +
      `train at least ${fewestPerCall} epochs per call (the stack's epochsPerCall, --epochs-per-call) or fewer epochs`,
  );
}

/** A limit the cloud would enforce: the error names the limit as Step Functions does. */
export class CloudLimitError extends FloodsweepError {
  override name = 'CloudLimitError';

  constructor(
    readonly stepFunctionsError: string,
    message: string,
  ) {
    super('internal', `${stepFunctionsError}: ${message}`);
  }
}

export function payloadBytes(value: unknown): number {
  return value === undefined ? 0 : Buffer.byteLength(JSON.stringify(value));
}

const size = (bytes: number) => `${bytes.toLocaleString('en-US')} bytes`;

export function checkStatePayload(state: string, what: 'input' | 'output', value: unknown): void {
  const bytes = payloadBytes(value);
  if (bytes > MAX_STATE_PAYLOAD_BYTES) {
    throw new CloudLimitError(
      'States.DataLimitExceeded',
      `the ${what} of state ${state} is ${size(bytes)}, above the ${size(MAX_STATE_PAYLOAD_BYTES)} (256 KiB) a state may carry`,
    );
  }
}

export function checkLambdaPayload(state: string, what: 'request' | 'response', value: unknown): void {
  const bytes = payloadBytes(value);
  if (bytes > MAX_LAMBDA_PAYLOAD_BYTES) {
    throw new CloudLimitError(
      'Lambda.RequestTooLargeException',
      `the ${what} of ${state} is ${size(bytes)}, above Lambda's ${size(MAX_LAMBDA_PAYLOAD_BYTES)} (6 MiB)`,
    );
  }
}

/** Counts history events per execution: the parent, and each Distributed Map child by its index. */
export class HistoryCounter {
  private readonly counts = new Map<string, number>();

  state(type: string, child?: number): void {
    this.add(type === 'Task' ? HISTORY_EVENTS_PER_TASK : HISTORY_EVENTS_PER_STATE, child);
  }

  retry(child?: number): void {
    this.add(HISTORY_EVENTS_PER_RETRY, child);
  }

  private add(events: number, child?: number): void {
    const execution = child === undefined ? 'the execution' : `child execution ${child} of the Distributed Map`;
    const count = (this.counts.get(execution) ?? 0) + events;
    this.counts.set(execution, count);
    if (count > MAX_HISTORY_EVENTS) {
      throw new CloudLimitError(
        'States.Runtime',
        `${execution} exceeds Step Functions' ${MAX_HISTORY_EVENTS.toLocaleString('en-US')} history events`,
      );
    }
  }
}
