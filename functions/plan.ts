import { plan, type PlanInput } from '../src/sweep/steps.js';
import { storesFromEnvironment } from './lambda.js';

const cap = Number(process.env.FLOODSWEEP_MAX_CONCURRENCY);

export const handler = async (event: PlanInput) =>
  plan(storesFromEnvironment(), event, { maxConcurrencyCap: Number.isFinite(cap) && cap > 0 ? cap : undefined });
