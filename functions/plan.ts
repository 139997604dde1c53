import { plan, type PlanInput } from '../src/sweep/steps.js';
import { storesFromEnvironment } from './lambda.js';

export const handler = async (event: PlanInput) => plan(storesFromEnvironment(), event);
