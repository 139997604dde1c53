/**
 * Every FLOODSWEEP_* variable, default path and limit, parsed in one place. A bad value is an
 * error naming the variable and what is allowed, never a silent NaN or a fallback.
 */
import { ENV_NAMES } from './env-names.js';
import { UsageError } from './errors.js';
import { BACKENDS, type BackendRequest, isBackendRequest } from './flooding/names.js';

export { ENV_NAMES };

/** Where local sweeps keep their results (like MLflow's `mlruns`), relative to the working directory. */
export const DEFAULT_RESULTS_DIR = './floodsweep-results';
/** Where `floodsweep demo` writes its plots and results. */
export const DEFAULT_DEMO_DIR = './floodsweep-demo';
/** The CloudFormation stack `--cloud` talks to. */
export const DEFAULT_STACK = 'Floodsweep';
/** Sweeps above this many tasks are refused unless `--max-tasks` raises the limit. */
export const DEFAULT_MAX_TASKS = 10_000;
/** Spec, repro spec and baseline files larger than this are refused unread (a 10,000-task baseline is a few MB). */
export const MAX_INPUT_FILE_BYTES = 64 * 2 ** 20;
/** A range (flood levels {from, to, step}, seeds `0-4`) is refused above this many values before it is built in memory. */
export const MAX_RANGE_VALUES = 1_000_000;
/** Epochs a local Train call trains before it checkpoints and returns (a Lambda stops on time instead). */
export const DEFAULT_EPOCHS_PER_CALL = 50;
/** How long a local run's lease on its sweep lasts unless renewed; it is renewed every third of that. */
export const DEFAULT_LEASE_SECONDS = 30;

export interface FloodsweepEnvironment {
  backend: BackendRequest;
  /** Set together: the AWS stores. */
  table?: string;
  bucket?: string;
  resultsDir?: string;
  epochsPerCall?: number;
  maxConcurrency?: number;
  leaseSeconds?: number;
  wasmDir?: string;
  fontDir?: string;
  /** The AWS SDK's own variables, passed on to the clients. */
  aws: { region?: string; endpointUrl?: string; dynamodbEndpointUrl?: string; s3EndpointUrl?: string };
}

export function readEnvironment(env: NodeJS.ProcessEnv = process.env): FloodsweepEnvironment {
  const text = (name: string) => {
    const value = env[name]?.trim();
    return value ? value : undefined;
  };
  const backend = text(ENV_NAMES.backend) ?? 'auto';
  if (!isBackendRequest(backend)) {
    throw new UsageError(`${ENV_NAMES.backend}: unknown backend "${backend}"; allowed: auto, ${BACKENDS.join(', ')}`);
  }
  const table = text(ENV_NAMES.table);
  const bucket = text(ENV_NAMES.bucket);
  if (Boolean(table) !== Boolean(bucket)) {
    const missing = table ? ENV_NAMES.bucket : ENV_NAMES.table;
    throw new UsageError(`${missing}: required together with ${table ? ENV_NAMES.table : ENV_NAMES.bucket}`);
  }
  return {
    backend,
    table,
    bucket,
    resultsDir: text(ENV_NAMES.resultsDir),
    epochsPerCall: positiveInteger(ENV_NAMES.epochsPerCall, text(ENV_NAMES.epochsPerCall)),
    maxConcurrency: positiveInteger(ENV_NAMES.maxConcurrency, text(ENV_NAMES.maxConcurrency)),
    leaseSeconds: positiveInteger(ENV_NAMES.leaseSeconds, text(ENV_NAMES.leaseSeconds)),
    wasmDir: text(ENV_NAMES.wasmDir),
    fontDir: text(ENV_NAMES.fontDir),
    aws: {
      region: text('AWS_REGION'),
      endpointUrl: text('AWS_ENDPOINT_URL'),
      dynamodbEndpointUrl: text('AWS_ENDPOINT_URL_DYNAMODB'),
      s3EndpointUrl: text('AWS_ENDPOINT_URL_S3'),
    },
  };
}

function positiveInteger(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < 1) {
    throw new UsageError(`${name}: expected a whole number >= 1, got ${JSON.stringify(value.slice(0, 40))}`);
  }
  return n;
}
