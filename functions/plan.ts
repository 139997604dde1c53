import { readEnvironment } from '../src/env.js';
import { plan } from '../src/workflow/plan.js';
import { EXECUTION_TIMEOUT_SECONDS } from '../src/workflow-steps.js';
import { storesFromEnvironment } from './lambda.js';

export const handler = async (event: unknown) => {
  const { maxConcurrency, epochsPerCall } = readEnvironment();
  return plan(storesFromEnvironment(), event, {
    maxConcurrencyCap: maxConcurrency,
    epochsPerCall,
    executionLeaseSeconds: EXECUTION_TIMEOUT_SECONDS,
  });
};
