import { readEnvironment } from '../src/env.js';
import { plan } from '../src/workflow/plan.js';
import { storesFromEnvironment } from './lambda.js';

export const handler = async (event: unknown) => {
  const { maxConcurrency, epochsPerCall } = readEnvironment();
  return plan(storesFromEnvironment(), event, {
    maxConcurrencyCap: maxConcurrency,
    epochsPerCall,
    takesExecutionLease: true,
  });
};
