import { type ErrorKind, FloodsweepError } from './flooding/errors.js';

export { type ErrorKind, FloodsweepError };

export const EXIT_SUCCESS = 0;
export const EXIT_FAILURE = 1;
export const EXIT_BAD_INPUT = 2;
/** A command stopped by Ctrl-C, as shells report SIGINT. */
export const EXIT_INTERRUPTED = 130;
/** A command stopped by SIGTERM (128 + 15). */
export const EXIT_TERMINATED = 143;

/** A mistake in what the user typed or pointed at: a flag, an argument, a file, an id. */
export class UsageError extends FloodsweepError {
  override name = 'UsageError';

  constructor(message: string, options?: ErrorOptions) {
    super('input', message, options);
  }
}

/** The exit code of an error: 2 for bad input, 1 for everything else. */
export function exitCodeOf(error: unknown): number {
  return kindOf(error) === 'input' ? EXIT_BAD_INPUT : EXIT_FAILURE;
}

/** Errors that are not ours (a library's TypeError, a Node fs error) are internal. */
export function kindOf(error: unknown): ErrorKind {
  return error instanceof FloodsweepError ? error.kind : 'internal';
}

/** Stored state that should be there and is not: a sweep's spec, a task record, a summary. */
export class MissingStateError extends FloodsweepError {
  override name = 'MissingStateError';

  constructor(message: string, options?: ErrorOptions) {
    super('state', message, options);
  }
}
