import { compare, type CompareInput } from '../src/sweep/repro.js';
import { storesFromEnvironment } from './lambda.js';

export const handler = async (event: CompareInput) => compare(storesFromEnvironment(), event);
