import { recordFailure } from '../src/workflow/record-failure.js';
import { storesFromEnvironment } from './lambda.js';

export const handler = async (event: unknown) => recordFailure(storesFromEnvironment(), event);
