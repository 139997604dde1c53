import { CommanderError } from 'commander';
import { BackendError } from '../flooding/backend.js';
import { CheckpointError } from '../flooding/checkpoint.js';
import { ConfigError } from '../flooding/config.js';
import { DatasetError } from '../flooding/datasets.js';

/** A mistake in what the user typed or pointed us at: exit code 2. */
export class UsageError extends Error {}

export const EXIT_FAILURE = 1;
export const EXIT_BAD_INPUT = 2;

const BAD_INPUT = [UsageError, ConfigError, DatasetError, BackendError];

/** Prints one line per problem (a stack trace only with --debug) and returns the exit code. */
export function reportError(error: unknown, debug: boolean): number {
  if (error instanceof CommanderError) {
    // Commander has already printed its one-line message.
    return error.exitCode === 0 ? 0 : EXIT_BAD_INPUT;
  }
  const badInput = BAD_INPUT.some((kind) => error instanceof kind);
  const message = error instanceof Error ? error.message : String(error);
  for (const line of message.split('\n')) process.stderr.write(`floodsweep: ${line}\n`);
  if (debug && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
  else if (!badInput && !(error instanceof CheckpointError)) process.stderr.write('(run again with --debug for details)\n');
  return badInput ? EXIT_BAD_INPUT : EXIT_FAILURE;
}
