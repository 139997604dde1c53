import { type CostComparison, describeComparison, formatUsd } from '../cost/model.js';
import {
  type GroupSummary,
  groupLevelFormatter,
  type LevelSummary,
  type SelectionMetric,
  type SettingValue,
  type SweepSummary,
} from '../sweep/aggregate.js';
import { isLossMetric } from '../sweep/selection.js';
import type { Difference, Estimate } from '../sweep/statistics.js';
import { type Html, type HtmlValue, html, joinHtml, raw } from './html-template.js';
import {
  accuracyVsLevelSpec,
  type CurveRun,
  chartHtml,
  curvesSpec,
  EMBED_CHARTS_SCRIPT,
  readVegaScript,
  sampledAxesSpec,
  VEGA_SCRIPTS,
} from './interactive.js';
import { STYLE } from './styles.js';
import { type OmittedFigure, type SweepFigure, type SweepFigures, WHOLE_SWEEP } from './sweep-figures.js';

/** Per group (GroupSummary.group), the runs whose per-epoch curves the report's interactive chart shows. */
export type ReportCurves = Record<string, CurveRun[]>;

/**
 * report.html: one self-contained page (inline CSS and scripts, figures as PNG data: URIs, no
 * external reference at all) with the sweep's status, a table per group, interactive charts
 * (vega-embed, inlined), the PNG figures (for papers and S3 previews) and the failures.
 * PNGs rather than inline SVG: several vega SVGs in one document would clash on their clip-path ids.
 */
export function renderReport(
  summary: SweepSummary,
  drawn: SweepFigures,
  reproducibility?: ReproducibilitySection,
  curves: ReportCurves = {},
  cost?: CostComparison,
): string {
  const groupNumbers = new Map(summary.groups.map((group, i) => [group.group, i + 1]));
  const groupSections = summary.groups.map((group, i) =>
    groupSection(
      group,
      i + 1,
      summary,
      drawn.figures.filter((figure) => figure.group === group.group),
      drawn.omitted.filter((figure) => figure.group === group.group),
      curves[group.group] ?? [],
    ),
  );
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>floodsweep: ${summary.name}</title>
<style>${raw(STYLE)}</style>
</head>
<body>
<h1>Sweep ${summary.name} ${statusBadge(summary.status)}${reproducibility ? html` ${verdictBadge(reproducibility.verdict)}` : ''}</h1>
${overview(summary, reproducibility)}
${sharedSettings(summary.sharedSettings)}
${sampledAxesSection(
  summary,
  drawn.figures.filter((figure) => figure.group === WHOLE_SWEEP),
  drawn.omitted.filter((figure) => figure.group === WHOLE_SWEEP),
)}
${joinHtml(groupSections, '\n')}
${failures(summary, groupNumbers, new Map(summary.groups.map((group) => [group.group, groupLevelFormatter(group)])))}
${reproducibility ? reproducibilitySection(reproducibility) : ''}
${cost ? costSection(cost) : ''}
<footer>
<p>Accuracies are percentages: mean ± sample standard deviation over seeds (sd is 0 with a single seed).
Δ vs b = 0 is the flood level's accuracy minus b = 0's, seed by seed over the seeds both finished, in percentage points,
with a 95% Student-t confidence interval, mean ± t(0.975, n − 1) · sd / √n; a single pair has no interval.
${summary.selection.epoch === 'best' ? `Every number is taken at the epoch with each run’s best ${summary.selection.metric} (early stopping).` : 'Every number is taken at the last epoch.'}</p>
</footer>
${joinHtml([...VEGA_SCRIPTS.map((script) => readVegaScript(script.name)!), EMBED_CHARTS_SCRIPT].map(inlineScript), '\n')}
</body>
</html>
`.text;
}

const statusBadge = (status: string) => html`<span class="status status-${status}">${status}</span>`;
const verdictBadge = (verdict: string) =>
  html`<span class="status status-${verdict}" title="reproducibility against the baseline">${verdict}</span>`;

/** Inline, so the file stays self-contained; `</script` inside a script would end the element early. */
const inlineScript = (code: string) => html`<script>${raw(code.replace(/<\/script/gi, '<\\/script'))}</script>`;

function overview(summary: SweepSummary, reproducibility?: ReproducibilitySection): Html {
  const failed = summary.failedTasks.length;
  const rows: Array<[string, HtmlValue]> = [
    ['sweep id', html`<code>${summary.sweepId}</code>`],
    ['status', statusBadge(summary.status)],
    ...(reproducibility
      ? [['reproducibility', html`${verdictBadge(reproducibility.verdict)} (details at the bottom)`] as [string, HtmlValue]]
      : []),
    [
      'tasks',
      `${summary.succeededTasks} of ${summary.taskCount} finished${summary.prunedTasks > 0 ? `, ${summary.prunedTasks} pruned (stopped early by the sweep's pruning rule; marked in the tables and charts)` : ''}${failed > 0 ? `, ${failed} failed or unfinished (listed below)` : ''}`,
    ],
    ['backend', summary.backends.length > 0 ? summary.backends.join(', ') : html`<span class="muted">not recorded</span>`],
    ['selection', selectionRule(summary)],
    ['groups', String(summary.groups.length)],
  ];
  return html`<dl class="overview">\n${joinHtml(
    rows.map(([term, value]) => html`<dt>${term}</dt><dd>${value}</dd>`),
    '\n',
  )}\n</dl>`;
}

/** The cost the records say the sweep incurred, per service, next to its estimate. */
function costSection(cost: CostComparison): Html {
  const estimated = cost.estimate?.byService ?? {};
  const rows = cost.incurred.breakdown.lines.map((line) => {
    const estimate = estimated[line.service];
    return html`<tr><td class="text">${line.service}</td><td>${line.quantity.toPrecision(4)} ${line.unit}</td><td>${formatUsd(line.costUsd)}</td><td>${estimate === undefined ? html`<span class="muted">n/a</span>` : formatUsd(estimate)}</td></tr>`;
  });
  const total = html`<tr><th class="text">total</th><td></td><th>${formatUsd(cost.incurred.breakdown.totalUsd)}</th><th>${cost.estimate ? formatUsd(cost.estimate.totalUsd) : ''}</th></tr>`;
  const prices = cost.estimate
    ? `AWS list prices of ${cost.estimate.region} read on ${cost.estimate.pricesReadOn}`
    : 'AWS list prices of us-east-1';
  return html`<section id="cost">
<h2>Cost</h2>
<p>${describeComparison(cost)}. ${prices}; computed from what the stores recorded (seconds per Train call, calls, epoch rows, objects written) with the assumptions of docs/cloud.md.</p>
<table>
<thead><tr><th class="text">service</th><th>incurred quantity</th><th>incurred</th><th>estimated</th></tr></thead>
<tbody>
${joinHtml(rows, '\n')}
${total}
</tbody>
</table>
</section>`;
}

function selectionRule({ selection }: SweepSummary): string {
  const direction = isLossMetric(selection.metric) ? 'lowest' : 'highest';
  const epoch = selection.epoch === 'last' ? 'at the last epoch' : 'at each run’s best epoch';
  return `the flood level with the ${direction} mean ${selection.metric} over seeds, ${epoch}; ties go to the smaller level`;
}

function sharedSettings(settings: Record<string, SettingValue>): HtmlValue {
  const entries = Object.entries(settings);
  if (entries.length === 0) return '';
  const rows = entries.map(
    ([path, value]) => html`<tr><td class="text"><code>${path}</code></td><td class="text">${String(value)}</td></tr>`,
  );
  return html`<details><summary>Settings shared by all tasks (${entries.length})</summary>\n<table>\n${joinHtml(rows, '\n')}\n</table>\n</details>`;
}

function groupTitle(group: GroupSummary, number: number): string {
  const entries = Object.entries(group.label);
  return `Group ${number}${entries.length > 0 ? `: ${entries.map(([path, value]) => `${path} = ${String(value)}`).join(', ')}` : ''}`;
}

function groupSection(
  group: GroupSummary,
  number: number,
  summary: SweepSummary,
  figures: SweepFigure[],
  omitted: OmittedFigure[],
  curves: CurveRun[],
): Html {
  const { metric } = summary.selection;
  const formatLevel = groupLevelFormatter(group);
  const chosen =
    group.chosenLevel === null
      ? html`<p>No task of this group finished: no flood level was chosen.</p>`
      : html`<p>Chosen flood level: <strong>b = ${formatLevel(group.chosenLevel)}</strong>${group.chosenLevel === 0 ? ' (no flooding)' : ''}${group.chosenFromPruned ? ', from pruned tasks: every level had a pruned seed' : ''}.</p>`;
  const baselineNote = group.hasBaseline ? '' : html`<p class="muted">This group has no b = 0 level: no differences to b = 0.</p>`;
  const header: HtmlValue[] = [
    'flood level b',
    'seeds finished',
    html`${metric}${isLossMetric(metric) ? '' : ' (%)'} <span class="muted">(selection)</span>`,
    'clean test acc (%)',
    'noisy test acc (%)',
    'Δ clean vs b = 0 (pp) [95% CI]',
    'Δ noisy vs b = 0 (pp) [95% CI]',
  ];
  const rows = group.levels.map((level) => levelRow(level, group, metric, formatLevel));
  return html`<section>
<h2>${groupTitle(group, number)} <span class="muted">(<code>${group.group}</code>)</span></h2>
${chosen}
${baselineNote}
<table>
<thead><tr>${header.map((h) => html`<th>${h}</th>`)}</tr></thead>
<tbody>
${joinHtml(rows, '\n')}
</tbody>
</table>
${interactiveCharts(group, number, curves)}
${joinHtml(figures.map(figureHtml), '\n')}
${omitted.length > 0 ? omittedFigures(omitted) : ''}
</section>`;
}

/** The selection metric of every finished task against each sampled axis of numbers; '' without such axes. */
function sampledAxesSection(summary: SweepSummary, figures: SweepFigure[], omitted: OmittedFigure[]): HtmlValue {
  const spec = sampledAxesSpec(summary);
  if (!spec && figures.length + omitted.length === 0) return '';
  const axes = joinHtml(
    (summary.sampledAxes ?? []).map(({ path }) => html`<code>${path}</code>`),
    ', ',
  );
  return html`<section>
<h2>Sampled axes</h2>
<p>The sweep drew ${axes} from distributions: each task is a dot at its drawn values, coloured by flood level.</p>
${spec ? chartHtml('sampled-axes', spec) : ''}
${joinHtml(figures.map(figureHtml), '\n')}
${omitted.length > 0 ? omittedFigures(omitted) : ''}
</section>`;
}

/** The interactive charts of a group. */
function interactiveCharts(group: GroupSummary, number: number, curves: CurveRun[]): HtmlValue {
  const charts = [
    group.levels.some((level) => level.testCleanAcc) ? { id: `group-${number}-accuracy-vs-level`, spec: accuracyVsLevelSpec(group) } : null,
    curves.length > 0 ? { id: `group-${number}-curves`, spec: curvesSpec(curves) } : null,
  ].flatMap((chart) => (chart ? [chart] : []));
  if (charts.length === 0) return '';
  return html`<h3>Interactive charts</h3>
<p class="muted">Hover for values, drag to zoom, click a legend entry to highlight its curves. The per-epoch chart has a thin line for every seed.</p>
${joinHtml(
  charts.map(({ id, spec }) => chartHtml(id, spec)),
  '\n',
)}
<h3>Figures</h3>`;
}

/** A level's pruned seeds: counted in no estimate of the row, and a level with one is no candidate for the choice. */
function prunedTag(level: LevelSummary): Html {
  const where = level.pruned.map((run) => `seed ${run.seed} at epoch ${run.prunedAt}`).join(', ');
  return html` <span class="tag tag-pruned" title="pruned: ${where}">${level.pruned.length} pruned</span>`;
}

function levelRow(level: LevelSummary, group: GroupSummary, metric: SelectionMetric, formatLevel: (level: number) => string): Html {
  const isChosen = level.floodLevel === group.chosenLevel;
  const percent = (value: Estimate | null) => estimateCell(value, 100, 2);
  const difference = (pick: (d: NonNullable<LevelSummary['diffToBaseline']>) => Difference) => {
    if (level.floodLevel === 0) return html`<span class="muted">baseline</span>`;
    return level.diffToBaseline ? differenceCell(pick(level.diffToBaseline)) : '—';
  };
  const cells: HtmlValue[] = [
    html`${formatLevel(level.floodLevel)}${isChosen ? html`<span class="tag">chosen</span>` : ''}`,
    html`${level.seeds.length} / ${level.tasks}${level.pruned.length > 0 ? prunedTag(level) : ''}`,
    isLossMetric(metric) ? estimateCell(level.selectionValue, 1, 4) : percent(level.selectionValue),
    percent(level.testCleanAcc),
    percent(level.testAcc),
    difference((d) => d.testCleanAcc),
    difference((d) => d.testAcc),
  ];
  return html`<tr${isChosen ? raw(' class="chosen"') : ''}>${cells.map((cell) => html`<td>${cell}</td>`)}</tr>`;
}

function estimateCell(value: Estimate | null, scale: number, digits: number): HtmlValue {
  if (!value) return '—';
  const single = value.n === 1 ? html` <span class="muted">(1 seed)</span>` : '';
  return html`${(scale * value.mean).toFixed(digits)} ± ${(scale * value.sd).toFixed(digits)}${single}`;
}

function differenceCell(difference: Difference): Html {
  const signed = (v: number) => `${v >= 0 ? '+' : '−'}${Math.abs(100 * v).toFixed(2)}`;
  // Without an interval the note says why, n included: n is not repeated after it.
  if (!difference.ci95)
    return html`${signed(difference.mean)} <span class="muted">(${difference.note ?? `n = ${difference.n}: no interval`})</span>`;
  return html`${signed(difference.mean)} [${signed(difference.ci95[0])}, ${signed(difference.ci95[1])}] <span class="muted">n = ${difference.n}</span>`;
}

function figureHtml({ name, caption, figure }: SweepFigure): Html {
  return html`<figure>
<img src="data:image/png;base64,${figure.png.toString('base64')}" alt="${caption}" title="${name}">
<figcaption>${caption}</figcaption>
</figure>`;
}

function omittedFigures(omitted: OmittedFigure[]): Html {
  const items = omitted.map(
    ({ name, caption, reason }) => html`<li><code>${name}</code> (${caption}): <span class="message">${reason}</span></li>`,
  );
  return html`<div class="omitted">\n<p>Figures left out because they could not be drawn; the table above has their numbers:</p>\n<ul>\n${joinHtml(items, '\n')}\n</ul>\n</div>`;
}

/** The report lists at most this many failed tasks; summary.json has them all. */
export const LISTED_FAILURES = 200;

function failures(summary: SweepSummary, groupNumbers: Map<string, number>, formatters: Map<string, (level: number) => string>): Html {
  if (summary.failedTasks.length === 0) return html`<section>\n<h2>Failures</h2>\n<p>No task failed.</p>\n</section>`;
  const rows = summary.failedTasks.slice(0, LISTED_FAILURES).map((task) => {
    const formatLevel = formatters.get(task.group) ?? String;
    return html`<tr><td class="text"><code>${task.taskId}</code></td><td>${groupNumbers.get(task.group) ?? '?'}</td><td>${formatLevel(task.floodLevel)}</td><td>${task.seed}</td><td class="text">${task.status}</td><td class="message">${task.error}</td></tr>`;
  });
  return html`<section>
<h2>Failures (${summary.failedTasks.length})</h2>
<p>These tasks contribute nothing to the tables and figures above.${
    summary.failedTasks.length > LISTED_FAILURES ? ` The first ${LISTED_FAILURES} are listed; summary.json has all of them.` : ''
  }</p>
<table>
<thead><tr><th class="text">task</th><th>group</th><th>flood level b</th><th>seed</th><th class="text">status</th><th class="text">message</th></tr></thead>
<tbody>
${joinHtml(rows, '\n')}
</tbody>
</table>
</section>`;
}

/** A reproducibility run's verdict against its baseline, with the lines that explain it. */
export interface ReproducibilitySection {
  verdict: string;
  lines: string[];
}

function reproducibilitySection({ verdict, lines }: ReproducibilitySection): Html {
  return html`<section>
<h2>Reproducibility: ${verdict}</h2>
<pre class="message">${lines.join('\n')}</pre>
</section>`;
}
