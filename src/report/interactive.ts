/**
 * Interactive charts (vega-lite specs for vega-embed in a browser), shared by the dashboard and
 * report.html, and the vega scripts they run on, read from node_modules: no page loads anything
 * from outside.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TopLevelSpec } from 'vega-lite';
import { jsonText } from '../control-chars.js';
import { FloodsweepError } from '../errors.js';
import { type EpochMetrics, SPLITS } from '../flooding/metrics.js';
import { formatLevel, type GroupSummary, type SweepSummary } from '../sweep/aggregate.js';
import { isLossMetric } from '../sweep/selection.js';
import { html, raw } from './html-template.js';

const CHOSEN_COLOR = '#e45756';
/** Pruned seeds, in the charts and the tables' tag. */
const PRUNED_COLOR = '#9d755d';
const percent = (fraction: number) => Math.round(10000 * fraction) / 100;
/** Accuracies are percentages: a band of mean ± sd never reaches below 0 or above 100. */
export const clipPercent = (value: number) => Math.min(100, Math.max(0, value));

/**
 * Clean test accuracy against flood level: mean over seeds, a ±1 sd band clipped to [0, 100],
 * a marker per measured level, every seed's value, and a dashed rule at the chosen level.
 */
export function accuracyVsLevelSpec(group: GroupSummary): TopLevelSpec {
  const finished = group.levels.filter((level) => level.testCleanAcc);
  const levels = finished.map((level) => {
    const { mean, sd, n } = level.testCleanAcc!;
    return {
      b: level.floodLevel,
      mean: percent(mean),
      low: clipPercent(percent(mean - sd)),
      high: clipPercent(percent(mean + sd)),
      sd: percent(sd),
      seeds: n,
    };
  });
  const seeds = finished.flatMap((level) =>
    level.runs.map((run) => ({ b: level.floodLevel, seed: run.seed, task: run.taskId, accuracy: percent(run.testCleanAcc) })),
  );
  // Pruned seeds at the accuracy they stopped with: in no mean, drawn apart.
  const pruned = group.levels.flatMap((level) =>
    level.pruned.map((run) => ({
      b: level.floodLevel,
      seed: run.seed,
      task: run.taskId,
      accuracy: percent(run.testCleanAcc),
      prunedAt: run.prunedAt,
    })),
  );
  const x = { field: 'b', type: 'quantitative', title: 'flood level b', scale: { padding: 16 } } as const;
  const y = { type: 'quantitative', title: 'clean test accuracy (%)', scale: { zero: false } } as const;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: 'Clean test accuracy vs flood level',
      subtitle: `mean over seeds with a ±1 sd band; grey dots: single seeds;${pruned.length > 0 ? ' brown crosses: pruned seeds (at the epoch they stopped);' : ''} drag to zoom`,
    },
    width: 520,
    height: 280,
    layer: [
      {
        data: { values: levels },
        mark: { type: 'area', opacity: 0.2, color: '#4c78a8' },
        encoding: { x, y: { ...y, field: 'low' }, y2: { field: 'high' } },
      },
      {
        data: { values: seeds },
        mark: { type: 'circle', size: 30, color: '#888', opacity: 0.6 },
        encoding: {
          x,
          y: { ...y, field: 'accuracy' },
          tooltip: [
            { field: 'b', title: 'b' },
            { field: 'seed', title: 'seed' },
            { field: 'accuracy', title: 'clean test acc (%)' },
            { field: 'task', title: 'task' },
          ],
        },
      },
      ...(pruned.length === 0
        ? []
        : [
            {
              data: { values: pruned },
              mark: { type: 'point' as const, shape: 'cross', size: 50, color: PRUNED_COLOR, filled: true },
              encoding: {
                x,
                y: { ...y, field: 'accuracy' },
                tooltip: [
                  { field: 'b', title: 'b' },
                  { field: 'seed', title: 'seed' },
                  { field: 'accuracy', title: 'clean test acc (%) when pruned' },
                  { field: 'prunedAt', title: 'pruned at epoch' },
                  { field: 'task', title: 'task' },
                ],
              },
            },
          ]),
      {
        data: { values: levels },
        mark: { type: 'line', point: { size: 60, filled: true }, color: '#4c78a8' },
        params: [{ name: 'zoom', select: 'interval', bind: 'scales' }],
        encoding: {
          x,
          y: { ...y, field: 'mean' },
          tooltip: [
            { field: 'b', title: 'b' },
            { field: 'mean', title: 'mean (%)' },
            { field: 'sd', title: 'sd (pp)' },
            { field: 'seeds', title: 'seeds' },
          ],
        },
      },
      ...(group.chosenLevel === null
        ? []
        : [
            {
              data: { values: [{ b: group.chosenLevel, label: `chosen b = ${formatLevel(group.chosenLevel)}` }] },
              mark: { type: 'rule' as const, strokeDash: [6, 4], color: CHOSEN_COLOR },
              encoding: { x, tooltip: [{ field: 'label', title: 'level' }] },
            },
          ]),
    ],
  };
}

/** A run whose per-epoch curves a chart shows, labelled e.g. `b=0.3 seed 1`. */
export interface CurveRun {
  label: string;
  /** Runs of one series share a colour and a legend entry (e.g. the seeds of a level); default: the label. */
  series?: string;
  rows: EpochMetrics[];
}

/**
 * Per-epoch loss and accuracy of the given runs on train/val/test, noisy and clean labels: colour
 * tells the runs (or series) apart, the dash the curve; click a curve in the legend to highlight it, drag to zoom.
 */
export function curvesSpec(runs: CurveRun[]): TopLevelSpec {
  const values = runs.flatMap(({ label, series = label, rows }) =>
    rows.flatMap((row) =>
      SPLITS.flatMap((split) =>
        (['noisy', 'clean'] as const).map((labels) => ({
          run: label,
          series,
          epoch: row.epoch,
          curve: `${split} (${labels} labels)`,
          loss: labels === 'noisy' ? row[split].loss : row[split].cleanLoss,
          accuracy: percent(labels === 'noisy' ? row[split].acc : row[split].cleanAcc),
        })),
      ),
    ),
  );
  // Seeds drawn as thin lines of their level's colour, when a series holds several runs.
  const severalPerSeries = new Set(runs.map((run) => run.series ?? run.label)).size < runs.length;
  const chart = (field: 'loss' | 'accuracy', title: string) => ({
    width: 520,
    height: 220,
    mark: severalPerSeries ? { type: 'line' as const, strokeWidth: 1 } : { type: 'line' as const, point: true },
    params: [
      { name: `${field}Curve`, select: { type: 'point' as const, fields: ['curve'] }, bind: 'legend' as const },
      { name: `${field}Zoom`, select: 'interval' as const, bind: 'scales' as const },
    ],
    encoding: {
      x: { field: 'epoch', type: 'quantitative' as const, title: 'epoch' },
      y: { field, type: 'quantitative' as const, title, scale: { zero: false } },
      color: { field: 'series', type: 'nominal' as const, title: severalPerSeries ? 'level' : 'run' },
      detail: { field: 'run', type: 'nominal' as const },
      strokeDash: { field: 'curve', type: 'nominal' as const, title: 'curve' },
      opacity: { condition: { param: `${field}Curve`, value: 1 }, value: 0.15 },
      tooltip: [{ field: 'run' }, { field: 'curve' }, { field: 'epoch' }, { field, title, format: field === 'loss' ? '.4f' : '.2f' }],
    },
  });
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    data: { values },
    vconcat: [chart('loss', 'cross-entropy loss'), chart('accuracy', 'accuracy (%)')],
  } as TopLevelSpec;
}

/** The browser builds of vega, vega-lite and vega-embed, in the order a page loads them. */
/**
 * Parallel coordinates over the settings that vary (the grid axes), the flood level b and the
 * clean test accuracy: one line per finished run, coloured by accuracy. Each axis is scaled to
 * its own range; its ticks show the real values on hover. Null without a finished run.
 */
export function parallelCoordinatesSpec(summary: SweepSummary): TopLevelSpec | null {
  const axes = [...new Set(summary.groups.flatMap((group) => Object.keys(group.label)))];
  const rows = summary.groups.flatMap((group) =>
    group.levels.flatMap((level) =>
      level.runs.map((run) => ({
        ...Object.fromEntries(axes.map((axis) => [axis, group.label[axis] ?? null])),
        b: level.floodLevel,
        'clean test acc (%)': percent(run.testCleanAcc),
        run: `${group.setting}, b = ${formatLevel(level.floodLevel)}, seed ${run.seed}`,
      })),
    ),
  );
  if (rows.length === 0) return null;
  const dimensions = [...axes, 'b', 'clean test acc (%)'];
  // Categorical settings (strings, booleans) are placed by their rank among the values seen.
  const numeric = (axis: string) => rows.every((row) => typeof (row as Record<string, unknown>)[axis] === 'number');
  const rank = (axis: string) => [...new Set(rows.map((row) => String((row as Record<string, unknown>)[axis])))].sort();
  const points = rows.flatMap((row, index) =>
    dimensions.map((dimension) => {
      const value = (row as Record<string, unknown>)[dimension];
      const position = numeric(dimension) ? (value as number) : rank(dimension).indexOf(String(value));
      return { index, run: row.run, accuracy: row['clean test acc (%)'], dimension, value: String(value), position };
    }),
  );
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: 'Settings, flood level and clean test accuracy (one line per run)',
    width: Math.max(360, 140 * dimensions.length),
    height: 260,
    data: { values: points },
    transform: [
      {
        joinaggregate: [
          { op: 'min', field: 'position', as: 'min' },
          { op: 'max', field: 'position', as: 'max' },
        ],
        groupby: ['dimension'],
      },
      { calculate: 'datum.max === datum.min ? 0.5 : (datum.position - datum.min) / (datum.max - datum.min)', as: 'scaled' },
    ],
    mark: { type: 'line', opacity: 0.6, strokeWidth: 1.5 },
    encoding: {
      x: { field: 'dimension', type: 'nominal', sort: dimensions, title: null, axis: { labelAngle: 0 } },
      y: { field: 'scaled', type: 'quantitative', axis: null },
      detail: { field: 'index', type: 'nominal' },
      color: { field: 'accuracy', type: 'quantitative', title: 'clean test acc (%)', scale: { scheme: 'viridis' } },
      tooltip: [
        { field: 'run', title: 'run' },
        { field: 'dimension', title: 'axis' },
        { field: 'value', title: 'value' },
      ],
    },
  } as TopLevelSpec;
}

/** One finished run placed on the sampled axes: its value on each, and its selection metric. */
export interface SampledRun {
  /** By axis path (`floodLevel`, `optimizer.lr`). */
  values: Record<string, number>;
  b: number;
  seed: number;
  taskId: string;
  setting: string;
  /** The selection metric at the selected epoch; accuracies in percent. */
  selection: number;
}

/** The finished runs of a sweep with sampled axes of numbers, on those axes; [] without such axes. */
export function sampledRuns(summary: SweepSummary): SampledRun[] {
  const axes = summary.sampledAxes ?? [];
  if (axes.length === 0) return [];
  const scale = isLossMetric(summary.selection.metric) ? (value: number) => value : percent;
  return summary.groups.flatMap((group) =>
    group.levels.flatMap((level) =>
      level.runs.map((run) => ({
        // A value all groups share is not in their labels but among the shared settings.
        values: Object.fromEntries(
          axes.map(({ path }) => [
            path,
            path === 'floodLevel' ? level.floodLevel : Number(group.label[path] ?? summary.sharedSettings[path]),
          ]),
        ),
        b: level.floodLevel,
        seed: run.seed,
        taskId: run.taskId,
        setting: group.setting,
        selection: scale(run.selectionValue),
      })),
    ),
  );
}

/** The y axis title of the sampled-axes charts: the selection metric, in percent for an accuracy. */
export function selectionTitle(summary: SweepSummary): string {
  return isLossMetric(summary.selection.metric) ? summary.selection.metric : `${summary.selection.metric} (%)`;
}

/**
 * The selection metric of every finished run against each sampled axis of numbers, one scatter
 * per axis on a numeric scale (log for a loguniform axis), coloured by flood level. Null without
 * sampled axes of numbers or without a finished run.
 */
export function sampledAxesSpec(summary: SweepSummary): TopLevelSpec | null {
  const runs = sampledRuns(summary);
  if (runs.length === 0) return null;
  const rows = runs.map(({ values, ...run }) => ({
    ...run,
    ...Object.fromEntries(Object.entries(values).map(([path, value]) => [`axis:${path}`, value])),
  }));
  const y = { field: 'selection', type: 'quantitative', title: selectionTitle(summary), scale: { zero: false, padding: 10 } } as const;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: `${summary.selection.metric} against the sampled axes`, subtitle: 'one dot per finished task; drag to zoom' },
    data: { values: rows },
    columns: 2,
    concat: (summary.sampledAxes ?? []).map(({ path, scale }) => ({
      width: 320,
      height: 240,
      mark: { type: 'circle', size: 50, opacity: 0.8 },
      params: [{ name: `zoom_${path.replace(/\W/g, '_')}`, select: 'interval', bind: 'scales' }],
      encoding: {
        // A field path with dots would be read as nested fields: escaped.
        x: {
          field: `axis:${path}`.replace(/\./g, '\\.'),
          type: 'quantitative',
          title: path,
          scale: { type: scale, zero: false, nice: false, padding: 10 },
        },
        y,
        color: { field: 'b', type: 'quantitative', title: 'flood level b', scale: { scheme: 'viridis' } },
        tooltip: [
          { field: 'setting', title: 'setting' },
          { field: 'b', title: 'b' },
          { field: 'seed', title: 'seed' },
          { field: 'selection', title: selectionTitle(summary) },
          { field: 'taskId', title: 'task' },
        ],
      },
    })),
  } as TopLevelSpec;
}

export const VEGA_SCRIPTS = [
  { name: 'vega.min.js', packageName: 'vega', file: 'build/vega.min.js' },
  { name: 'vega-lite.min.js', packageName: 'vega-lite', file: 'build/vega-lite.min.js' },
  { name: 'vega-embed.min.js', packageName: 'vega-embed', file: 'build/vega-embed.min.js' },
] as const;

/**
 * A file of an installed package, found the way Node resolves packages (node_modules of this
 * folder and its parents); the packages' `exports` do not list their browser builds.
 */
export function packageFile(packageName: string, file: string): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', packageName, file);
    if (existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) throw new FloodsweepError('internal', `${packageName}/${file} not found: is ${packageName} installed?`);
  }
}

/** A Lambda bundle has no node_modules: infra/bundling.ts copies the scripts into `vega/` beside it. */
const BESIDE_BUNDLE = join(dirname(fileURLToPath(import.meta.url)), 'vega');

export function readVegaScript(name: string): string | undefined {
  const script = VEGA_SCRIPTS.find((s) => s.name === name);
  if (!script) return undefined;
  const bundled = join(BESIDE_BUNDLE, script.name);
  return readFileSync(existsSync(bundled) ? bundled : packageFile(script.packageName, script.file), 'utf8');
}

/** JSON inside a <script> element: `<` escaped, so no value can close the element. */
function scriptJson(value: unknown): string {
  return jsonText(value).replace(/</g, '\\u003c');
}

/** A chart's place, and its spec in a JSON script element, drawn by EMBED_CHARTS_SCRIPT. */
export const chartHtml = (id: string, spec: unknown) =>
  html`<div class="chart" id="${id}"></div>\n<script type="application/json" data-chart-for="${id}">${raw(scriptJson(spec))}</script>`;

/** Browser code: draws every chart whose spec sits in a `<script type="application/json" data-chart-for="ID">`. */
export const EMBED_CHARTS_SCRIPT = `
document.querySelectorAll('script[data-chart-for]').forEach(function (element) {
  vegaEmbed('#' + element.dataset.chartFor, JSON.parse(element.textContent), { actions: false, renderer: 'svg' });
});
`;
