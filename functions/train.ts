import { readEnvironment } from '../src/env.js';
import { initBackend } from '../src/flooding/backend.js';
import { trainStep } from '../src/workflow/train.js';
import { type LambdaContext, storesFromEnvironment } from './lambda.js';

let backendReady: Promise<unknown> | undefined;

export const handler = async (event: unknown, context?: LambdaContext) => {
  const environment = readEnvironment();
  backendReady ??= initBackend(environment.backend, { wasmDir: environment.wasmDir });
  await backendReady;
  return trainStep(storesFromEnvironment(), event, {
    remainingMs: context ? () => context.getRemainingTimeInMillis() : undefined,
    maxEpochs: environment.epochsPerCall,
    lambdaMemoryMb: context?.memoryLimitInMB ? Number(context.memoryLimitInMB) : undefined,
  });
};
