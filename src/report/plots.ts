import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { renderAsync } from '@resvg/resvg-js';
import { parse, View } from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { ENV_NAMES, readEnvironment } from '../env.js';
import { FloodsweepError } from '../errors.js';
import type { EpochMetrics } from '../flooding/metrics.js';
import { levelFormatter } from '../sweep/aggregate.js';

export interface Figure {
  svg: string;
  png: Buffer;
}

export interface LineSeries {
  /** Legend entry; must be unique within a chart. */
  name: string;
  points: Array<{ x: number; y: number }>;
  dashed?: boolean;
  /** CSS colour; series without one take the next colour of a categorical palette. */
  color?: string;
}

/** A mean line with a shaded band around it (e.g. mean ± sd over seeds). */
export interface BandSeries {
  /** Legend entry; must be unique within a chart. */
  name: string;
  points: Array<{ x: number; low: number; mid: number; high: number }>;
  color?: string;
}

export interface ChartSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  lines?: LineSeries[];
  bands?: BandSeries[];
  /** Dots, one per point (e.g. a task on a sampled axis). */
  scatter?: LineSeries[];
  /** `log` for an axis whose values spread over decades (a loguniform draw). */
  xScale?: 'linear' | 'log';
  /** Fixed y range; data outside it is clipped. Default: fitted to the data. */
  yDomain?: [number, number];
  /** Horizontal reference lines (grey, dotted, named in the legend), e.g. a flood level. */
  hLines?: Array<{ y: number; name: string }>;
}

export interface RenderOptions {
  /** Directory holding DejaVuSans.ttf (and optionally DejaVuSans-Bold.ttf). Default: $FLOODSWEEP_FONT_DIR, else the dejavu-fonts-ttf package. */
  fontDir?: string;
  /** Size of the whole figure in SVG pixels, legend and title included. */
  width?: number;
  height?: number;
  /** PNG pixels per SVG pixel. */
  scale?: number;
}

export const FONT_FAMILY = 'DejaVu Sans';
const REGULAR_FONT = 'DejaVuSans.ttf';
const BOLD_FONT = 'DejaVuSans-Bold.ttf';

const PALETTE = ['#4c78a8', '#f58518', '#54a24b', '#e45756', '#72b7b2', '#b279a2', '#eeca3b', '#9d755d', '#ff9da6', '#bab0ac'];
const SOLID = [1, 0];
const DASHED = [6, 4];
const DOTTED = [2, 3];
const REFERENCE_COLOR = '#555555';

/** Fonts are passed to resvg explicitly: a Lambda has no system fonts, and without a font resvg silently drops all text. */
export function resolveFontFiles(fontDir?: string): string[] {
  const dir = fontDir ?? readEnvironment().fontDir ?? packagedFontDir();
  const regular = path.join(dir, REGULAR_FONT);
  if (!existsSync(regular)) {
    throw new FloodsweepError(
      'internal',
      `font file ${regular} not found: set fontDir or ${ENV_NAMES.fontDir} to a directory containing ${REGULAR_FONT}`,
    );
  }
  const bold = path.join(dir, BOLD_FONT);
  return existsSync(bold) ? [regular, bold] : [regular];
}

function packagedFontDir(): string {
  // Resolved lazily: a bundle that sets FLOODSWEEP_FONT_DIR may have no usable import.meta.url.
  const packageJson = createRequire(import.meta.url).resolve('dejavu-fonts-ttf/package.json');
  return path.join(path.dirname(packageJson), 'ttf');
}

export async function renderChart(spec: ChartSpec, options: RenderOptions = {}): Promise<Figure> {
  const fontFiles = resolveFontFiles(options.fontDir);
  const vegaSpec = compile(toVegaLite(spec, options.width ?? 640, options.height ?? 400)).spec;
  // Inline data only: the view never needs its loader, so nothing is fetched.
  const view = new View(parse(vegaSpec), { renderer: 'none' });
  try {
    const svg = await view.toSVG();
    const rendered = await renderAsync(svg, {
      font: { loadSystemFonts: false, fontFiles, defaultFontFamily: FONT_FAMILY, sansSerifFamily: FONT_FAMILY },
      fitTo: { mode: 'zoom', value: options.scale ?? 2 },
    });
    return { svg, png: rendered.asPng() };
  } finally {
    view.finalize();
  }
}

function toVegaLite(spec: ChartSpec, width: number, height: number): TopLevelSpec {
  const lines = spec.lines ?? [];
  const bands = spec.bands ?? [];
  const hLines = spec.hLines ?? [];
  const scatter = spec.scatter ?? [];
  const series = [
    ...bands.map((band) => ({ name: band.name, color: band.color, dash: SOLID })),
    ...lines.map((line) => ({ name: line.name, color: line.color, dash: line.dashed ? DASHED : SOLID })),
    ...scatter.map((dots) => ({ name: dots.name, color: dots.color, dash: SOLID })),
    ...hLines.map((hLine) => ({ name: hLine.name, color: REFERENCE_COLOR, dash: DOTTED })),
  ];
  if (bands.length + lines.length + scatter.length === 0) throw new Error(`chart "${spec.title}" has no lines or bands or dots to plot`);
  const names = series.map((s) => s.name);
  const colors = series.map((s, i) => s.color ?? PALETTE[i % PALETTE.length]);
  const duplicate = names.find((name, i) => names.indexOf(name) !== i);
  if (duplicate !== undefined) throw new Error(`chart "${spec.title}" has two series named "${duplicate}"`);

  const lineRows = [
    ...bands.flatMap((band) => band.points.map((p) => ({ series: band.name, x: p.x, y: p.mid }))),
    ...lines.flatMap((line) => line.points.map((p) => ({ series: line.name, x: p.x, y: p.y }))),
  ];
  const hLineRows = hLines.map((hLine) => ({ series: hLine.name, y: hLine.y }));

  const x = {
    field: 'x',
    type: 'quantitative',
    title: spec.xLabel,
    // Dots at the ends of the range are drawn whole.
    ...(scatter.length > 0 ? { scale: { type: spec.xScale ?? 'linear', nice: false, padding: 12 } } : {}),
  } as const;
  const y = {
    type: 'quantitative',
    title: spec.yLabel,
    scale: spec.yDomain ? { domain: spec.yDomain, zero: false } : { zero: false, ...(scatter.length > 0 ? { padding: 12 } : {}) },
  } as const;
  // Every layer encodes colour and dash by series name over the same domain, so vega-lite merges them into one legend.
  const color = {
    field: 'series',
    type: 'nominal',
    title: null,
    sort: names,
    scale: { domain: names, range: colors },
    legend: { orient: 'bottom', direction: 'horizontal', columns: 2 },
  } as const;
  const strokeDash = {
    field: 'series',
    type: 'nominal',
    title: null,
    sort: names,
    scale: { domain: names, range: series.map((s) => s.dash) },
  } as const;

  // One constant-colour layer per band: a colour scale here would join the legend and make every symbol translucent.
  const bandLayers = bands.map(
    (band, i) =>
      ({
        data: { values: band.points },
        mark: { type: 'area', color: colors[i], opacity: 0.2, clip: true },
        encoding: { x, y: { ...y, field: 'low' }, y2: { field: 'high' } },
      }) as const,
  );
  const lineLayer = {
    data: { values: lineRows },
    mark: { type: 'line', strokeWidth: 2, clip: true },
    encoding: { x, y: { ...y, field: 'y' }, color, strokeDash },
  } as const;
  const scatterLayer = {
    data: { values: scatter.flatMap((dots) => dots.points.map((p) => ({ series: dots.name, x: p.x, y: p.y }))) },
    mark: { type: 'circle', size: 40, opacity: 0.75, clip: true },
    encoding: { x, y: { ...y, field: 'y' }, color },
  } as const;
  const hLineLayer = {
    data: { values: hLineRows },
    mark: { type: 'rule', strokeWidth: 1.5, clip: true },
    encoding: { y: { ...y, field: 'y' }, color, strokeDash },
  } as const;

  return {
    title: spec.title,
    width,
    height,
    autosize: { type: 'fit', contains: 'padding' },
    padding: 12,
    // Drawn into the SVG, so the PNG is opaque too.
    background: 'white',
    config: {
      font: FONT_FAMILY,
      title: { fontSize: 15, offset: 12 },
      axis: { labelFontSize: 11, titleFontSize: 12, titleFontWeight: 'normal', gridColor: '#e6e6e6' },
      // Vega estimates text widths (no canvas here); the default label limit would cut off long entries.
      legend: { labelFontSize: 11, labelLimit: 1000, symbolType: 'stroke', symbolSize: 400, symbolStrokeWidth: 2, columnPadding: 24 },
    },
    layer: [...bandLayers, lineLayer, ...(scatter.length > 0 ? [scatterLayer] : []), ...(hLines.length > 0 ? [hLineLayer] : [])],
  };
}

/**
 * The original demo's two figures: training loss/accuracy on the noisy labels (dashed) and test
 * loss/accuracy on the clean labels (solid), without flooding (b = 0) and with the chosen flood level,
 * one colour per run. `formatLevel` prints the levels as the rest of the report does.
 */
export async function demoFigures(
  withoutFlooding: EpochMetrics[],
  withFlooding: EpochMetrics[],
  chosenLevel: number,
  options: RenderOptions = {},
  formatLevel = levelFormatter([0, chosenLevel]),
): Promise<{ loss: Figure; accuracy: Figure }> {
  const runs = [
    { level: 0, epochs: withoutFlooding, color: PALETTE[0] },
    { level: chosenLevel, epochs: withFlooding, color: PALETTE[1] },
  ];
  const seriesOf = (value: (m: EpochMetrics) => { train: number; test: number }): LineSeries[] =>
    runs.flatMap(({ level, epochs, color }) => [
      {
        name: `train (noisy labels), b = ${formatLevel(level)}`,
        dashed: true,
        color,
        points: epochs.map((m) => ({ x: m.epoch, y: value(m).train })),
      },
      { name: `test (clean labels), b = ${formatLevel(level)}`, color, points: epochs.map((m) => ({ x: m.epoch, y: value(m).test })) },
    ]);
  const comparison = `without flooding (b = 0) and with flooding (b = ${formatLevel(chosenLevel)})`;

  const [loss, accuracy] = await Promise.all([
    renderChart(
      {
        title: `Loss ${comparison}`,
        xLabel: 'epoch',
        yLabel: 'cross-entropy loss',
        lines: seriesOf((m) => ({ train: m.train.loss, test: m.test.cleanLoss })),
        hLines: [{ y: chosenLevel, name: `flood level b = ${formatLevel(chosenLevel)}` }],
      },
      options,
    ),
    renderChart(
      {
        title: `Accuracy ${comparison}`,
        xLabel: 'epoch',
        yLabel: 'accuracy (%)',
        lines: seriesOf((m) => ({ train: 100 * m.train.acc, test: 100 * m.test.cleanAcc })),
      },
      options,
    ),
  ]);
  return { loss, accuracy };
}

/** Writes `<baseName>.png` and `<baseName>.svg` into `dir`, creating it. */
export async function writeFigure(dir: string, baseName: string, figure: Figure): Promise<void> {
  await mkdir(dir, { recursive: true });
  await Promise.all([writeFile(path.join(dir, `${baseName}.png`), figure.png), writeFile(path.join(dir, `${baseName}.svg`), figure.svg)]);
}
