import { UsageError } from '../errors.js';
import { stringifyKeepingNonFinite } from '../flooding/json.js';
import { planTasks } from '../planned-tasks.js';
import type { Stores } from '../store/open.js';
import { sweepKeys } from '../store/ports.js';
import { readSummary } from '../store/summary.js';
import type { SweepSummary } from '../sweep/aggregate.js';
import {
  BaselineError,
  type Comparison,
  compareSnapshots,
  describeComparison,
  parseBaseline,
  type SweepSnapshot,
  snapshotOf,
} from '../sweep/repro.js';
import { readStoredSweep, type StoredSweep, writeReport } from './aggregate.js';
import { type CompareOutput, compareInputSchema, parsePayload } from './payloads.js';

/** The Compare state of reproducibility runs: resolves the baseline, then compares and records. */
export async function compare(stores: Stores, event: unknown): Promise<CompareOutput> {
  const { sweepId, repro } = parsePayload(compareInputSchema, event, 'Compare input');
  let baseline: SweepSnapshot;
  if ('sweepId' in repro.baseline) {
    baseline = await loadSnapshot(stores, repro.baseline.sweepId);
  } else {
    const bytes = await stores.artifacts.get(repro.baseline.key);
    if (!bytes) throw new BaselineError([`baseline ${stores.artifacts.locate(repro.baseline.key)} is missing`]);
    baseline = parseBaseline(bytes.toString('utf8'), repro.baseline.key);
  }
  const baselineName = 'sweepId' in repro.baseline ? `sweep ${repro.baseline.sweepId}` : repro.baseline.key;
  // The full comparison stays in repro.json: state payloads are capped at 256 KiB.
  const { comparison: _comparison, ...output } = await compareAndRecord(stores, {
    sweepId,
    name: repro.name,
    baseline,
    baselineName,
    tolerances: repro.tolerances,
  });
  return output;
}

/** A stored sweep as a baseline snapshot; an unknown sweep id is bad input. */
export async function loadSnapshot(stores: Stores, sweepId: string): Promise<SweepSnapshot> {
  const stored = await readKnownSweep(stores, sweepId);
  return snapshotOfStored(stored, await readSummary(stores, sweepId, stored.sweep));
}

async function readKnownSweep(stores: Stores, sweepId: string): Promise<StoredSweep> {
  const stored = await readStoredSweep(stores, sweepId);
  if (!stored) throw new UsageError(`sweep "${sweepId}" not found in ${stores.artifacts.locate('')}`);
  return stored;
}

function snapshotOfStored({ sweep, spec, tasks }: StoredSweep, summary: SweepSummary | undefined): SweepSnapshot {
  const planned = planTasks(spec, { maxTasks: Number.MAX_SAFE_INTEGER });
  return snapshotOf({ sweepId: sweep.sweepId, name: sweep.name, spec, planned, records: tasks, summary });
}

/** SNS allows subjects of at most 100 characters; a repro name may have 128. */
const MAX_SUBJECT = 100;

/** The drift alert's subject (NotifyDrift publishes it), shortened to fit SNS. */
export function alertSubject(name: string, verdict: string): string {
  const subject = `floodsweep reproducibility run ${name}: ${verdict}`;
  if (subject.length <= MAX_SUBJECT) return subject;
  const room = MAX_SUBJECT - `floodsweep reproducibility run ...: ${verdict}`.length;
  return `floodsweep reproducibility run ${name.slice(0, room)}...: ${verdict}`;
}

/**
 * Compares a sweep with a baseline, writes repro.json, records the verdict in the history and
 * renders the report again with its reproducibility section.
 */
export async function compareAndRecord(
  stores: Stores,
  input: { sweepId: string; name: string; baseline: SweepSnapshot; baselineName: string; tolerances?: unknown },
  now = () => new Date(),
): Promise<CompareOutput & { comparison: Comparison }> {
  const { sweepId, name } = input;
  // The sweep's records and summary, read once for the comparison and the report.
  const stored = await readKnownSweep(stores, sweepId);
  const summary = await readSummary(stores, sweepId, stored.sweep);
  const comparison = compareSnapshots(snapshotOfStored(stored, summary), input.baseline, input.tolerances);
  const lines = describeComparison(comparison);
  const keys = sweepKeys(sweepId);
  await stores.artifacts.put(keys.repro, `${stringifyKeepingNonFinite(comparison, 2)}\n`, 'application/json');
  if (summary) await writeReport(stores, summary, stored, { verdict: comparison.verdict, lines });
  await stores.metrics.putRepro({
    name,
    sweepId,
    baseline: input.baselineName,
    verdict: comparison.verdict,
    createdAt: now().toISOString(),
    details: { counts: comparison.counts, chosenLevels: comparison.chosenLevels, lines },
  });
  return {
    sweepId,
    name,
    verdict: comparison.verdict,
    message: lines.join('\n'),
    subject: alertSubject(name, comparison.verdict),
    comparison,
  };
}
