import type { EpochMetrics } from '../flooding/metrics.js';
import { formatLevel, type GroupSummary, type LevelSummary, type SweepSummary } from '../sweep/aggregate.js';
import { demoFigures, type Figure, type LineSeries, type RenderOptions, renderChart } from './plots.js';

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
      const which = comparison.level === group.chosenLevel ? 'the chosen level' : 'the best level b > 0 (the rule chose b = 0)';
      const about = `b = 0 against ${which} b = ${formatLevel(comparison.level)}, seed ${comparison.seed}`;
      add('loss', `Training loss (noisy labels, dashed) and test loss (clean labels): ${about}.`, loss);
      add('accuracy', `Training accuracy (noisy labels, dashed) and test accuracy (clean labels): ${about}.`, accuracy);
    }

    const curves = await Promise.all(
      finished.map(async (level) => ({ level, seed: level.runs[0].seed, rows: await curvesOf(level.runs[0].taskId) })),
    );
    const seeds = new Set(curves.map((curve) => curve.seed));
    const seedNote = seeds.size === 1 ? `seed ${[...seeds][0]}` : 'the first finished seed of each level';
    add(
      'train-loss-per-level',
      `Training loss on the noisy labels for every flood level (${seedNote}); dotted lines mark each b > 0: the loss floats around its level.`,
      await trainingLossPerLevel(curves, seeds.size > 1, options),
    );
  }
  return figures;
}

async function accuracyVsLevel(group: GroupSummary, finished: LevelSummary[], options: RenderOptions): Promise<Figure> {
  const points = finished.map((level) => {
    const { mean, sd } = level.testCleanAcc!;
    return { x: level.floodLevel, low: 100 * (mean - sd), mid: 100 * mean, high: 100 * (mean + sd) };
  });
  const low = Math.min(...points.map((p) => p.low));
  const high = Math.max(...points.map((p) => p.high));
  const padding = Math.max(0.5, 0.1 * (high - low));
  const yDomain: [number, number] = [low - padding, high + padding];
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
  curves: Array<{ level: LevelSummary; seed: number; rows: EpochMetrics[] }>,
  nameSeeds: boolean,
  options: RenderOptions,
): Promise<Figure> {
  const lines: LineSeries[] = curves.map(({ level, seed, rows }) => ({
    name: `b = ${formatLevel(level.floodLevel)}${nameSeeds ? ` (seed ${seed})` : ''}`,
    points: rows.map((row) => ({ x: row.epoch, y: row.train.loss })),
  }));
  return renderChart(
    {
      title: 'Training loss (noisy labels) per flood level',
      xLabel: 'epoch',
      yLabel: 'cross-entropy loss',
      lines,
      hLines: curves
        .filter(({ level }) => level.floodLevel > 0)
        .map(({ level }) => ({ y: level.floodLevel, name: `flood level ${formatLevel(level.floodLevel)}` })),
    },
    options,
  );
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
