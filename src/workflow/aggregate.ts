import { MissingStateError } from '../errors.js';
import { type ReportCurves, type ReproducibilitySection, renderReport } from '../report/html.js';
import { curveLevels, sweepFigures } from '../report/sweep-figures.js';
import type { Stores } from '../store/open.js';
import { sweepKeys } from '../store/ports.js';
import { groupLevelFormatter, type SweepSummary, summarizeSweep } from '../sweep/aggregate.js';
import { validateSpec } from '../sweep/spec.js';
import { type AggregateOutput, aggregateInputSchema, parsePayload } from './payloads.js';
import { settlePruning } from './pruning.js';

/**
 * The Aggregate state: per group the chosen flood level and the statistics over seeds;
 * summary.json, the figures and report.html; the sweep's final status.
 */
export async function aggregate(stores: Stores, event: unknown): Promise<AggregateOutput> {
  const { sweepId } = parsePayload(aggregateInputSchema, event, 'Aggregate input');
  const keys = sweepKeys(sweepId);
  const sweep = await stores.metrics.getSweep(sweepId);
  if (!sweep) throw new MissingStateError(`sweep ${sweepId} does not exist`);
  const spec = validateSpec(await readStoredJson(stores, keys.spec));
  const tasks = await settlePruning(stores.metrics, await stores.metrics.listTasks(sweepId));
  const epochsOf = (taskId: string) => stores.metrics.getEpochs(sweepId, taskId);
  const summary = await summarizeSweep({ sweepId, name: sweep.name, tasks, epochsOf, selection: spec.selection });
  await stores.artifacts.put(keys.summary, `${JSON.stringify(summary, null, 2)}\n`, 'application/json');
  await writeReport(stores, summary);
  await stores.metrics.updateSweep(sweepId, ['RUNNING', 'SUCCEEDED', 'PARTIAL', 'FAILED'], {
    status: summary.status,
    summaryKey: keys.summary,
    failedTasks: summary.failedTasks.length,
  });
  return { sweepId, status: summary.status, summaryKey: keys.summary, reportKey: keys.report };
}

/** Draws the sweep's figures (PNG and SVG) and writes them with report.html, which names any figure that could not be drawn. */
export async function writeReport(stores: Stores, summary: SweepSummary, reproducibility?: ReproducibilitySection): Promise<void> {
  const keys = sweepKeys(summary.sweepId);
  const epochsOf = (taskId: string) => stores.metrics.getEpochs(summary.sweepId, taskId);
  const drawn = await sweepFigures(summary, epochsOf);
  // Every seed of the levels the figures draw (a bounded set), for the report's interactive per-epoch chart.
  const curves: ReportCurves = {};
  for (const group of summary.groups) {
    const formatLevel = groupLevelFormatter(group);
    const shown = curveLevels(
      group,
      group.levels.filter((level) => level.testCleanAcc),
    );
    curves[group.group] = await Promise.all(
      shown.flatMap((level) =>
        level.runs.map(async (run) => ({
          label: `b=${formatLevel(level.floodLevel)} seed ${run.seed}`,
          series: `b = ${formatLevel(level.floodLevel)}`,
          rows: await epochsOf(run.taskId),
        })),
      ),
    );
  }
  for (const { name, figure } of drawn.figures) {
    await stores.artifacts.put(keys.plot(name), figure.png, 'image/png');
    await stores.artifacts.put(keys.plot(name.replace(/\.png$/, '.svg')), figure.svg, 'image/svg+xml');
  }
  await stores.artifacts.put(keys.report, renderReport(summary, drawn, reproducibility, curves), 'text/html');
}

/** A JSON artifact the workflow wrote earlier (spec, summary); its absence is missing state. */
export async function readStoredJson(stores: Stores, key: string): Promise<unknown> {
  const bytes = await stores.artifacts.get(key);
  if (!bytes) throw new MissingStateError(`${stores.artifacts.locate(key)} is missing`);
  return JSON.parse(bytes.toString('utf8'));
}
