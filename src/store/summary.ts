/**
 * The sweep's stored JSON artifacts, verified on read: the spec and the summary carry their SHA-256
 * in the sweep record (written by Plan and Aggregate), so an edited or truncated file is refused
 * naming it, never parsed into numbers or half-read into "Cannot read properties of undefined".
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { MissingStateError } from '../errors.js';
import { describeIssues } from '../flooding/config.js';
import type { SweepSummary } from '../sweep/aggregate.js';
import type { SweepRecord } from '../sweep/records.js';
import { parseSpecText, type SweepSpec } from '../sweep/spec.js';
import type { Stores } from './open.js';
import { StoreError, sweepKeys } from './ports.js';

export const sha256Of = (text: string | Uint8Array) => createHash('sha256').update(text).digest('hex');

/** The stored text at `key`, its checksum verified when the sweep record holds one; undefined if there is none. */
async function verifiedText(stores: Stores, key: string, expected: string | undefined, what: string): Promise<string | undefined> {
  const bytes = await stores.artifacts.get(key);
  if (!bytes) return undefined;
  if (expected !== undefined && sha256Of(bytes) !== expected) {
    throw new StoreError(
      'state',
      `damaged ${what} ${stores.artifacts.locate(key)}: its SHA-256 is not the one its sweep record holds (edited or truncated since it was written)`,
    );
  }
  return bytes.toString('utf8');
}

/**
 * The spec a sweep was planned with (the record's `specKey`, else where Plan writes it): verified
 * against the record's `specSha256`, so a spec edited at rest is refused by name instead of
 * planning other tasks into the sweep. Undefined if there is no stored spec.
 */
export async function readSweepSpec(stores: Stores, sweepId: string, sweep: SweepRecord | undefined): Promise<SweepSpec | undefined> {
  const key = sweep?.specKey ?? sweepKeys(sweepId).spec;
  const text = await verifiedText(stores, key, sweep?.specSha256, 'spec');
  if (text === undefined) {
    if (sweep) throw new MissingStateError(`${stores.artifacts.locate(key)} is missing`);
    return undefined;
  }
  return parseSpecText(text, key);
}

const summaryShape = z.looseObject({
  sweepId: z.string(),
  name: z.string(),
  status: z.string(),
  selection: z.looseObject({ metric: z.string(), epoch: z.string() }),
  backends: z.array(z.string()),
  taskCount: z.number(),
  succeededTasks: z.number(),
  prunedTasks: z.number(),
  failedTasks: z.array(z.looseObject({ taskId: z.string() })),
  groups: z.array(z.looseObject({ group: z.string(), setting: z.string(), levels: z.array(z.looseObject({ floodLevel: z.number() })) })),
});

/**
 * The summary Aggregate wrote, or undefined before the sweep was aggregated. Verified against the
 * record's `summarySha256` (summaries written before it are checked for their shape only); a
 * truncated file or one of another shape is a StoreError naming the file.
 */
export async function readSummary(stores: Stores, sweepId: string, sweep?: SweepRecord): Promise<SweepSummary | undefined> {
  const key = sweepKeys(sweepId).summary;
  const record = sweep ?? (await stores.metrics.getSweep(sweepId));
  const text = await verifiedText(stores, key, record?.summarySha256, 'summary');
  if (text === undefined) return undefined;
  const where = stores.artifacts.locate(key);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new StoreError('state', `damaged summary ${where}: not valid JSON (truncated?)`);
  }
  const shaped = summaryShape.safeParse(parsed);
  if (!shaped.success) throw new StoreError('state', `damaged summary ${where}: ${describeIssues(shaped.error).slice(0, 3).join('; ')}`);
  if (shaped.data.sweepId !== sweepId) throw new StoreError('state', `damaged summary ${where}: it is the summary of another sweep`);
  return parsed as SweepSummary;
}
