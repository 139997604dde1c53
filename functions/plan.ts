import { readEnvironment } from '../src/env.js';
import { plan } from '../src/workflow/plan.js';
import { storesFromEnvironment } from './lambda.js';

export const handler = async (event: unknown) =>
  plan(storesFromEnvironment(), event, { maxConcurrencyCap: readEnvironment().maxConcurrency });
