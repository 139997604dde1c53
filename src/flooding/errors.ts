/**
 * The one base class of every error floodsweep raises on purpose. It lives in the science core
 * because `src/flooding/` imports nothing else of the project; `src/errors.ts` maps kinds to exit
 * codes for the CLI.
 */

/**
 * What went wrong, which alone decides the exit code:
 * - `input`: something the user typed or pointed at (a flag, a spec field, a file, an id);
 * - `state`: stored state that is missing or damaged (a corrupt checkpoint, a missing object);
 * - `service`: a store or cloud service that failed or could not be reached;
 * - `training`: a run that failed on its own terms (its loss or a metric became NaN or infinite);
 * - `internal`: a bug.
 */
export const ERROR_KINDS = ['input', 'state', 'service', 'training', 'internal'] as const;
export type ErrorKind = (typeof ERROR_KINDS)[number];

export class FloodsweepError extends Error {
  override name = 'FloodsweepError';

  constructor(
    readonly kind: ErrorKind,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}
