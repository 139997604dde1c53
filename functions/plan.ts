import { plan } from '../src/workflow/plan.js';
import { lambdaEnvironment, storesFromEnvironment } from './lambda.js';

export const handler = async (event: unknown) =>
  plan(storesFromEnvironment(), event, { maxConcurrencyCap: lambdaEnvironment().maxConcurrency });
