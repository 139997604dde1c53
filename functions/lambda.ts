import { readEnvironment } from '../src/env.js';
import { openStores, type Stores, storeConfigFromEnv } from '../src/store/open.js';

/** The part of the Lambda context object the handlers use. */
export interface LambdaContext {
  getRemainingTimeInMillis(): number;
  /** The function's memory (a string in the Node.js runtime's context). */
  memoryLimitInMB?: string;
}

let stores: Stores | undefined;

/** Stores built once per Lambda container, from the environment the stack sets. */
export function storesFromEnvironment(): Stores {
  stores ??= openStores(storeConfigFromEnv(readEnvironment()));
  return stores;
}
