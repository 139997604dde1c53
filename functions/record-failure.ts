import { type FailureInput, recordFailure } from '../src/sweep/steps.js';
import { storesFromEnvironment } from './lambda.js';

export const handler = async (event: FailureInput) => recordFailure(storesFromEnvironment(), event);
