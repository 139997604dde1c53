import { type AggregateInput, aggregate } from '../src/sweep/steps.js';
import { storesFromEnvironment } from './lambda.js';

export const handler = async (event: AggregateInput) => aggregate(storesFromEnvironment(), event);
