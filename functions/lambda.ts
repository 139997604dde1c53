import { type FloodsweepEnvironment, readEnvironment } from '../src/env.js';
import { openStores, type Stores, storeConfigFromEnv } from '../src/store/open.js';

/** The part of the Lambda context object the handlers use. */
export interface LambdaContext {
  getRemainingTimeInMillis(): number;
}

let stores: Stores | undefined;

/** The FLOODSWEEP_* settings the stack gave this function (parsing them is cheap: once per call). */
export function lambdaEnvironment(): FloodsweepEnvironment {
  return readEnvironment();
}

/** Stores built once per Lambda container, from the environment the stack sets. */
export function storesFromEnvironment(): Stores {
  stores ??= openStores(storeConfigFromEnv(lambdaEnvironment()));
  return stores;
}
