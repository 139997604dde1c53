import type { SweepSummary } from '../sweep/aggregate.js';
import type { Stores } from './open.js';
import { sweepKeys } from './ports.js';

/** The summary Aggregate wrote, or undefined before the sweep was aggregated. */
export async function readSummary(stores: Stores, sweepId: string): Promise<SweepSummary | undefined> {
  const bytes = await stores.artifacts.get(sweepKeys(sweepId).summary);
  return bytes ? (JSON.parse(bytes.toString('utf8')) as SweepSummary) : undefined;
}
