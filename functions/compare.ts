import { compare } from '../src/workflow/compare.js';
import { storesFromEnvironment } from './lambda.js';

export const handler = async (event: unknown) => compare(storesFromEnvironment(), event);
