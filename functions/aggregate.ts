import { aggregate } from '../src/workflow/aggregate.js';
import { storesFromEnvironment } from './lambda.js';

export const handler = async (event: unknown) => aggregate(storesFromEnvironment(), event);
