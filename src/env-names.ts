/**
 * The names of every FLOODSWEEP_* environment variable. This file imports nothing, so the CDK
 * stack (which imports no runtime code of src/) sets exactly the names that src/env.ts reads.
 */
export const ENV_NAMES = {
  /** DynamoDB table of the metrics store (with `bucket`: the AWS stores). */
  table: 'FLOODSWEEP_TABLE',
  /** S3 bucket of the artifact store. */
  bucket: 'FLOODSWEEP_BUCKET',
  /** The local results directory, when no table and bucket are set. */
  resultsDir: 'FLOODSWEEP_RESULTS_DIR',
  /** auto, tfjs-node, wasm or cpu. */
  backend: 'FLOODSWEEP_BACKEND',
  /** Epochs per Train call: how often a task checkpoints. */
  epochsPerCall: 'FLOODSWEEP_EPOCHS_PER_CALL',
  /** The deployment's ceiling on parallel tasks, whatever a spec asks for. */
  maxConcurrency: 'FLOODSWEEP_MAX_CONCURRENCY',
  /** Directory of the tfjs-backend-wasm `.wasm` files (bundles copy them beside the handler). */
  wasmDir: 'FLOODSWEEP_WASM_DIR',
  /**
   * Seconds a local run's lease on its sweep lasts unless renewed (default 30): how soon a sweep
   * whose process died shows as INTERRUPTED and can be resumed. Tests shorten it.
   */
  leaseSeconds: 'FLOODSWEEP_LEASE_SECONDS',
  /** Directory of the plot fonts (DejaVuSans.ttf). */
  fontDir: 'FLOODSWEEP_FONT_DIR',
} as const;
