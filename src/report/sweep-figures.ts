import type { EpochMetrics } from '../flooding/metrics.js';
import { type GroupSummary, groupLevelFormatter, type LevelSummary, type SweepSummary } from '../sweep/aggregate.js';
import { estimate } from '../sweep/statistics.js';
import { clipPercent, sampledRuns, selectionTitle } from './interactive.js';
import { type BandSeries, demoFigures, type Figure, type RenderOptions, renderChart } from './plots.js';

export interface SweepFigure {
  /** File name under plots/, e.g. `group-1-accuracy-vs-level.png`; the SVG goes beside it as `.svg`. */
  name: string;
  /** The group it belongs to (GroupSummary.group), or WHOLE_SWEEP. */
  group: string;
  caption: string;
  figure: Figure;
}

/** A figure that could not be drawn, and why: the report says so instead of failing. */
export interface OmittedFigure {
  name: string;
  group: string;
  caption: string;
  reason: string;
}

export interface SweepFigures {
  figures: SweepFigure[];
  omitted: OmittedFigure[];
}

const CHOSEN_COLOR = '#e45756';

/** The `group` of a figure about the whole sweep (the sampled axes), not one group. */
export const WHOLE_SWEEP = '';

/**
 * Besides b = 0, the chosen level and the best b > 0, the training-loss figure shows this many
 * levels spread evenly over the range: a legend of hundreds of curves says nothing, and its cost
 * grows with the sweep.
 */
export const SPREAD_CURVES = 4;

/**
 * Per group (numbered from 1 in summary order): test accuracy against flood level (every level),
 * the demo's loss and accuracy curves for b = 0 against the chosen level, and the training loss of
 * a bounded set of levels. A figure without data to show (no finished task, no b = 0 to compare
 * with) is left out silently; one that fails to draw is listed in `omitted`.
 */
export async function sweepFigures(
  summary: SweepSummary,
  curvesOf: (taskId: string) => Promise<EpochMetrics[]>,
  options: RenderOptions = {},
): Promise<SweepFigures> {
  const figures: SweepFigure[] = [];
  const omitted: OmittedFigure[] = [];
  const runs = sampledRuns(summary);
  for (const [index, { path, scale }] of (runs.length > 0 ? (summary.sampledAxes ?? []) : []).entries()) {
    const name = `sampled-${index + 1}-${path.replace(/[^A-Za-z0-9]+/g, '-')}.png`;
    const caption = `${summary.selection.metric} of every finished task against the sampled ${path}${scale === 'log' ? ' (log scale)' : ''}.`;
    try {
      const figure = await renderChart(
        {
          title: `${summary.selection.metric} vs ${path}`,
          xLabel: path,
          yLabel: selectionTitle(summary),
          xScale: scale,
          scatter: [{ name: 'one dot per finished task', points: runs.map((run) => ({ x: run.values[path], y: run.selection })) }],
        },
        options,
      );
      figures.push({ name, group: WHOLE_SWEEP, caption, figure });
    } catch (error) {
      omitted.push({ name, group: WHOLE_SWEEP, caption, reason: error instanceof Error ? error.message : String(error) });
    }
  }
  for (const [index, group] of summary.groups.entries()) {
    const prefix = `group-${index + 1}`;
    const formatLevel = groupLevelFormatter(group);
    const draw = async (name: string, caption: string, render: () => Promise<Figure>) => {
      const file = `${prefix}-${name}.png`;
      try {
        figures.push({ name: file, group: group.group, caption, figure: await render() });
      } catch (error) {
        omitted.push({ name: file, group: group.group, caption, reason: error instanceof Error ? error.message : String(error) });
      }
    };
    const finished = group.levels.filter((level) => level.testCleanAcc);
    if (finished.length === 0) continue;

    await draw(
      'accuracy-vs-level',
      `Clean test accuracy against flood level (all ${finished.length} levels with a finished seed): mean over seeds with a ±1 sd band.${prunedNote(group)}`,
      () => accuracyVsLevel(group, finished, formatLevel, options),
    );

    const comparison = demoComparison(group);
    if (comparison) {
      const level = `b = ${formatLevel(comparison.level)}`;
      const which =
        comparison.level === group.chosenLevel ? `the chosen level ${level}` : `${level}, the best level above 0 (the rule chose b = 0)`;
      const about = `b = 0 against ${which}, on seed ${comparison.seed}`;
      const pair = async () => {
        const [withoutFlooding, withFlooding] = await Promise.all([
          curvesOf(comparison.baselineTaskId),
          curvesOf(comparison.floodedTaskId),
        ]);
        return demoFigures(withoutFlooding, withFlooding, comparison.level, options, formatLevel);
      };
      const drawn = pair();
      // One rendering for both figures; each is listed on its own if it cannot be drawn.
      drawn.catch(() => undefined);
      await draw('loss', `Training loss (noisy labels, dashed) and test loss (clean labels): ${about}.`, async () => (await drawn).loss);
      await draw(
        'accuracy',
        `Training accuracy (noisy labels, dashed) and test accuracy (clean labels): ${about}.`,
        async () => (await drawn).accuracy,
      );
    }

    const shown = curveLevels(group, finished);
    const seedCounts = [...new Set(shown.map((level) => level.runs.length))];
    const seedNote =
      seedCounts.length === 1 && seedCounts[0] === 1 ? 'one seed per level' : 'mean over the seeds of each level with a ±1 sd band';
    const which =
      shown.length === finished.length
        ? 'every flood level'
        : `${shown.length} of the ${finished.length} flood levels (b = 0 if the group has it, the chosen level, the best b > 0 and ${SPREAD_CURVES} spread over the range; every level's numbers are in the table and summary.json)`;
    await draw(
      'train-loss-per-level',
      `Training loss on the noisy labels for ${which} (${seedNote}); the dotted lines mark each b > 0, around which the loss floats.`,
      async () => {
        const curves = await Promise.all(
          shown.map(async (level) => ({ level, rows: await Promise.all(level.runs.map((run) => curvesOf(run.taskId))) })),
        );
        return trainingLossPerLevel(curves, formatLevel, options);
      },
    );
  }
  return { figures, omitted };
}

/** The levels whose curves are drawn, ascending: all of them up to SPREAD_CURVES + 3, else that many, whatever the sweep's size. */
export function curveLevels(group: GroupSummary, finished: LevelSummary[]): LevelSummary[] {
  if (finished.length <= SPREAD_CURVES + 3) return finished;
  const wanted = new Set([0, group.chosenLevel, group.bestFloodedLevel]);
  const last = finished.length - 1;
  for (let i = 0; i < SPREAD_CURVES && last >= 0; i++) {
    wanted.add(finished[Math.round((i * last) / Math.max(1, SPREAD_CURVES - 1))].floodLevel);
  }
  return finished.filter((level) => wanted.has(level.floodLevel));
}

async function accuracyVsLevel(
  group: GroupSummary,
  finished: LevelSummary[],
  formatLevel: (level: number) => string,
  options: RenderOptions,
): Promise<Figure> {
  const points = finished.map((level) => {
    const { mean, sd } = level.testCleanAcc!;
    return { x: level.floodLevel, low: clipPercent(100 * (mean - sd)), mid: 100 * mean, high: clipPercent(100 * (mean + sd)) };
  });
  // A loop, not Math.min(...points): spreading hundreds of thousands of arguments overflows the stack.
  let low = Infinity;
  let high = -Infinity;
  for (const point of points) {
    low = Math.min(low, point.low);
    high = Math.max(high, point.high);
  }
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
  formatLevel: (level: number) => string,
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

function prunedNote({ levels }: GroupSummary): string {
  const pruned = levels.reduce((sum, level) => sum + level.pruned.length, 0);
  return pruned > 0 ? ` The ${pruned} pruned seeds are in no mean (the table and the interactive chart show them).` : '';
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
  const baselineBySeed = new Map(baseline.runs.map((run) => [run.seed, run]));
  for (const run of flooded.runs) {
    const base = baselineBySeed.get(run.seed);
    if (base) return { level, seed: run.seed, baselineTaskId: base.taskId, floodedTaskId: run.taskId };
  }
  return null;
}
