import { backendFromEnv, initBackend } from '../src/flooding/backend.js';
import { type TrainInput, trainStep } from '../src/sweep/steps.js';
import { type LambdaContext, storesFromEnvironment } from './lambda.js';

let backendReady: Promise<unknown> | undefined;

export const handler = async (event: TrainInput, context?: LambdaContext) => {
  backendReady ??= initBackend(backendFromEnv(), { wasmDir: process.env.FLOODSWEEP_WASM_DIR });
  await backendReady;
  const maxEpochs = process.env.FLOODSWEEP_EPOCHS_PER_CALL ? Number(process.env.FLOODSWEEP_EPOCHS_PER_CALL) : undefined;
  return trainStep(storesFromEnvironment(), event, {
    remainingMs: context ? () => context.getRemainingTimeInMillis() : undefined,
    maxEpochs,
  });
};
