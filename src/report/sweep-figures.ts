import type { EpochMetrics } from '../flooding/metrics.js';
import { formatLevel, type GroupSummary, type LevelSummary, type SweepSummary } from '../sweep/aggregate.js';
import { estimate } from '../sweep/statistics.js';
import { clipPercent } from './interactive.js';
import { type BandSeries, demoFigures, type Figure, type RenderOptions, renderChart } from './plots.js';

export interface SweepFigure {
  /** File name under plots/, e.g. `group-1-accuracy-vs-level.png`; the SVG goes beside it as `.svg`. */
  name: string;
  /** The group it belongs to (GroupSummary.group). */
  group: string;
  caption: string;
  figure: Figure;
}

const CHOSEN_COLOR = '#e45756';

/**
 * Per group (numbered from 1 in summary order): test accuracy against flood level, the demo's loss
 * and accuracy curves for b = 0 against the chosen level, and the training loss of every level.
 * A figure without data to show (no finished task, no b = 0 to compare with) is left out.
 */
export async function sweepFigures(
  summary: SweepSummary,
  curvesOf: (taskId: string) => Promise<EpochMetrics[]>,
  options: RenderOptions = {},
): Promise<SweepFigure[]> {
  const figures: SweepFigure[] = [];
  for (const [index, group] of summary.groups.entries()) {
    const prefix = `group-${index + 1}`;
    const add = (name: string, caption: string, figure: Figure) =>
      figures.push({ name: `${prefix}-${name}.png`, group: group.group, caption, figure });
    const finished = group.levels.filter((level) => level.testCleanAcc);
    if (finished.length === 0) continue;

    add(
      'accuracy-vs-level',
      'Clean test accuracy against flood level: mean over seeds with a ±1 sd band.',
      await accuracyVsLevel(group, finished, options),
    );

    const comparison = demoComparison(group);
    if (comparison) {
      const [withoutFlooding, withFlooding] = await Promise.all([curvesOf(comparison.baselineTaskId), curvesOf(comparison.floodedTaskId)]);
      const { loss, accuracy } = await demoFigures(withoutFlooding, withFlooding, comparison.level, options);
      const level = `b = ${formatLevel(comparison.level)}`;
      const which =
        comparison.level === group.chosenLevel ? `the chosen level ${level}` : `${level}, the best level above 0 (the rule chose b = 0)`;
      const about = `b = 0 against ${which}, on seed ${comparison.seed}`;
      add('loss', `Training loss (noisy labels, dashed) and test loss (clean labels): ${about}.`, loss);
      add('accuracy', `Training accuracy (noisy labels, dashed) and test accuracy (clean labels): ${about}.`, accuracy);
    }

    const curves = await Promise.all(
      finished.map(async (level) => ({ level, rows: await Promise.all(level.runs.map((run) => curvesOf(run.taskId))) })),
    );
    const seedCounts = [...new Set(finished.map((level) => level.runs.length))];
    const seedNote =
      seedCounts.length === 1 && seedCounts[0] === 1 ? 'one seed per level' : 'mean over the seeds of each level with a ±1 sd band';
    add(
      'train-loss-per-level',
      `Training loss on the noisy labels for every flood level (${seedNote}); the dotted lines mark each b > 0, around which the loss floats.`,
      await trainingLossPerLevel(curves, options),
    );
  }
  return figures;
}

async function accuracyVsLevel(group: GroupSummary, finished: LevelSummary[], options: RenderOptions): Promise<Figure> {
  const points = finished.map((level) => {
    const { mean, sd } = level.testCleanAcc!;
    return { x: level.floodLevel, low: clipPercent(100 * (mean - sd)), mid: 100 * mean, high: clipPercent(100 * (mean + sd)) };
  });
  const low = Math.min(...points.map((p) => p.low));
  const high = Math.max(...points.map((p) => p.high));
  const padding = Math.max(0.5, 0.1 * (high - low));
  const yDomain: [number, number] = [Math.max(0, low - padding), Math.min(100, high + padding)];
  const baseline = group.levels.find((level) => level.floodLevel === 0)?.testCleanAcc;
  const chosen = group.chosenLevel;
  return renderChart(
    {
      title: 'Clean test accuracy vs flood level',
      xLabel: 'flood level b',
      yLabel: 'clean test accuracy (%)',
      yDomain,
      bands: [{ name: 'mean ± sd over seeds', points }],
      // A vertical mark drawn as a two-point line spanning the y range.
      lines:
        chosen === null
          ? []
          : [
              {
                name: `chosen level b = ${formatLevel(chosen)}`,
                dashed: true,
                color: CHOSEN_COLOR,
                points: yDomain.map((y) => ({ x: chosen, y })),
              },
            ],
      hLines: baseline ? [{ y: 100 * baseline.mean, name: `b = 0 (no flooding): ${(100 * baseline.mean).toFixed(2)}%` }] : [],
    },
    options,
  );
}

async function trainingLossPerLevel(
  curves: Array<{ level: LevelSummary; rows: EpochMetrics[][] }>,
  options: RenderOptions,
): Promise<Figure> {
  const bands: BandSeries[] = curves.map(({ level, rows }) => ({
    name: `b = ${formatLevel(level.floodLevel)}`,
    points: meanByEpoch(rows, (row) => row.train.loss).map(({ epoch, mean, sd }) => ({
      x: epoch,
      low: Math.max(0, mean - sd),
      mid: mean,
      high: mean + sd,
    })),
  }));
  return renderChart(
    {
      title: 'Training loss (noisy labels) per flood level',
      xLabel: 'epoch',
      yLabel: 'cross-entropy loss',
      bands,
      hLines: curves
        .filter(({ level }) => level.floodLevel > 0)
        .map(({ level }) => ({ y: level.floodLevel, name: `flood level ${formatLevel(level.floodLevel)}` })),
    },
    options,
  );
}

/** Mean and sample sd over seeds at every epoch some seed evaluated (the seeds of a level share their schedule). */
function meanByEpoch(runs: EpochMetrics[][], value: (row: EpochMetrics) => number): Array<{ epoch: number; mean: number; sd: number }> {
  const byEpoch = new Map<number, number[]>();
  for (const row of runs.flat()) byEpoch.set(row.epoch, [...(byEpoch.get(row.epoch) ?? []), value(row)]);
  return [...byEpoch].sort(([a], [b]) => a - b).map(([epoch, values]) => ({ epoch, ...estimate(values)! }));
}

/** b = 0 against the chosen level (or the best b > 0 when b = 0 won), on the smallest seed both finished. */
function demoComparison(group: GroupSummary): { level: number; seed: number; baselineTaskId: string; floodedTaskId: string } | null {
  const level = group.chosenLevel !== null && group.chosenLevel > 0 ? group.chosenLevel : group.bestFloodedLevel;
  const baseline = group.levels.find((l) => l.floodLevel === 0);
  const flooded = group.levels.find((l) => l.floodLevel === level);
  if (level === null || !baseline || !flooded) return null;
  for (const run of flooded.runs) {
    const base = baseline.runs.find((b) => b.seed === run.seed);
    if (base) return { level, seed: run.seed, baselineTaskId: base.taskId, floodedTaskId: run.taskId };
  }
  return null;
}
