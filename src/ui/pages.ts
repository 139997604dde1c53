/** The dashboard's HTML pages, rendered on the server; everything from the stores or the URL is escaped. */

import { type Html, type HtmlValue, html, joinHtml, raw } from '../report/html-template.js';
import { accuracyVsLevelSpec, chartHtml, VEGA_SCRIPTS } from '../report/interactive.js';
import { STYLE } from '../report/styles.js';
import { bestResult, formatLevel, type LevelSummary, type SweepSummary } from '../sweep/aggregate.js';
import type { DamagedRecord, SweepRecord } from '../sweep/records.js';
import { isLossMetric } from '../sweep/selection.js';
import type { SweepListEntry } from './data.js';

export function layout(title: string, where: string, body: Html, script: HtmlValue = ''): string {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · floodsweep</title>
<link rel="icon" href="data:,">
<style>${raw(STYLE)}</style>
</head>
<body>
<header class="top"><a href="/">floodsweep</a><a href="/">sweeps</a><span class="where">${where}</span></header>
${body}
${script}
</body>
</html>
`.text;
}

/** The vega scripts the app serves itself, then the dashboard's own script. */
const scripts = () =>
  joinHtml(
    [...VEGA_SCRIPTS.map((s) => s.name), 'dashboard.js'].map((name) => html`<script src="/assets/${name}"></script>`),
    '\n',
  );

const pct = (fraction: number | undefined | null) => (fraction === undefined || fraction === null ? '—' : (100 * fraction).toFixed(2));

function bestText(summary: SweepSummary | undefined): Html {
  const best = summary && bestResult(summary);
  if (!best) return html`<span class="muted">—</span>`;
  const value = isLossMetric(best.metric) ? best.value.toFixed(4) : `${pct(best.value)}%`;
  const setting = summary!.groups.length > 1 ? html` <span class="muted">(${best.setting})</span>` : '';
  return html`b = ${formatLevel(best.floodLevel)} · ${best.metric} ${value}${setting}`;
}

const statusBadge = (status: string) => html`<span class="status status-${status}">${status}</span>`;
const sweepLink = (sweep: SweepRecord) => html`<a href="/sweeps/${encodeURIComponent(sweep.sweepId)}">${sweep.name}</a>`;

const damagedRow = ({ sweepId, damage }: DamagedRecord) =>
  html`<tr class="damaged"><td class="text"><code>${sweepId}</code></td><td class="text">${statusBadge('DAMAGED')}</td><td colspan="5" class="text message">${damage}</td></tr>`;

const sweepRow = ({ sweep, done, failed, summary }: Exclude<SweepListEntry, { damaged: DamagedRecord }>) =>
  html`<tr><td class="text">${sweepLink(sweep)}<br><code class="muted">${sweep.sweepId}</code></td><td class="text">${statusBadge(sweep.status)}</td><td>${done}</td><td>${failed}</td><td>${sweep.taskCount}</td><td class="text">${sweep.createdAt}</td><td class="text">${bestText(summary)}</td></tr>`;

/** The sweeps, a damaged one as a row naming what is wrong with it. */
export function sweepListPage(where: string, entries: SweepListEntry[]): string {
  if (entries.length === 0)
    return layout('sweeps', where, html`<h1>Sweeps</h1>\n<p>No sweeps yet: run one with <code>floodsweep sweep run SPEC</code>.</p>`);
  const rows = entries.map((entry) => ('damaged' in entry ? damagedRow(entry.damaged) : sweepRow(entry)));
  const sweeps = entries.flatMap((entry) => ('sweep' in entry ? [entry] : []));
  const options = sweeps.map(({ sweep }) => html`<option value="${sweep.sweepId}">${sweep.name} (${sweep.sweepId})</option>`);
  return layout(
    'sweeps',
    where,
    html`<h1>Sweeps</h1>
<table id="sweeps">
<thead><tr><th class="text">sweep</th><th class="text">status</th><th>done</th><th>failed</th><th>tasks</th><th class="text">created</th><th class="text">best level and its metric</th></tr></thead>
<tbody>
${joinHtml(rows, '\n')}
</tbody>
</table>
<h2>Compare two sweeps</h2>
<form action="/compare" method="get">
<select name="a" aria-label="first sweep">${options}</select> against <select name="b" aria-label="second sweep">${options}</select>
<button type="submit">compare</button>
</form>`,
  );
}

/** The shell of one sweep's page; the dashboard script fills it and keeps it up to date. */
export function sweepPage(where: string, sweep: SweepRecord): string {
  return layout(
    sweep.name,
    where,
    html`<main id="sweep" data-sweep-id="${sweep.sweepId}">
<h1>Sweep ${sweep.name} <span id="status">${statusBadge(sweep.status)}</span></h1>
<p><code>${sweep.sweepId}</code> · created ${sweep.createdAt} · <span id="selection"></span></p>
<p><progress id="progress" max="1" value="0"></progress> <span id="progress-text">loading…</span></p>
<p id="cost" class="muted"></p>
<p id="refresh-error" class="message" hidden></p>
<div id="groups"></div>
<h2>Across the grid</h2>
<div id="parallel" class="chart"><p class="muted">The chart appears when a task finishes.</p></div>
<section id="sampled-section" hidden>
<h2>Sampled axes</h2>
<p>Each finished task at its drawn values, coloured by flood level.</p>
<div id="sampled" class="chart"></div>
</section>
<h2>Per-epoch curves</h2>
<p>Pick a level <select id="level-picker" aria-label="flood level"><option value="">—</option></select> or tick tasks below.</p>
<div id="curves" class="chart"><p class="muted">No task picked.</p></div>
<h2>Tasks</h2>
<table id="tasks"><thead><tr><th></th><th class="text">task</th><th class="text">setting</th><th>b</th><th>seed</th><th class="text">status</th><th>epoch</th><th>attempts</th></tr></thead><tbody></tbody></table>
<div id="failures"></div>
</main>`,
    scripts(),
  );
}

export function errorPage(where: string, title: string, message: string): string {
  return layout(
    title,
    where,
    html`<div class="error-page"><h1>${title}</h1>\n<p>${message}</p>\n<p><a href="/">Back to the sweeps</a></p></div>`,
  );
}

/** Two sweeps side by side: per setting and flood level, the clean test accuracy of each and their difference. */
export function comparisonPage(where: string, a: SweepSummary, b: SweepSummary): string {
  const settings = [...new Set([...a.groups, ...b.groups].map((group) => group.setting))];
  const sections = settings.map((setting, index) => {
    const [groupA, groupB] = [a, b].map((summary) => summary.groups.find((group) => group.setting === setting));
    const levels = [...new Set([...(groupA?.levels ?? []), ...(groupB?.levels ?? [])].map((level) => level.floodLevel))].sort(
      (x, y) => x - y,
    );
    const find = (levelsOf: LevelSummary[] | undefined, level: number) => levelsOf?.find((l) => l.floodLevel === level);
    const cell = (level: LevelSummary | undefined) =>
      level?.testCleanAcc
        ? html`${pct(level.testCleanAcc.mean)} ± ${pct(level.testCleanAcc.sd)} <span class="muted">(${level.seeds.length})</span>`
        : '—';
    const rows = levels.map((level) => {
      const [x, y] = [find(groupA?.levels, level), find(groupB?.levels, level)];
      const diff = x?.testCleanAcc && y?.testCleanAcc ? 100 * (y.testCleanAcc.mean - x.testCleanAcc.mean) : undefined;
      return html`<tr><td>${formatLevel(level)}</td><td>${cell(x)}</td><td>${cell(y)}</td><td>${diff === undefined ? '—' : `${diff >= 0 ? '+' : '−'}${Math.abs(diff).toFixed(2)}`}</td></tr>`;
    });
    const chosen = (group: typeof groupA) => (group?.chosenLevel === null || !group ? '—' : formatLevel(group.chosenLevel));
    const charts = [groupA, groupB].map((group, i) =>
      group?.levels.some((level) => level.testCleanAcc)
        ? html`<div><h3>${[a, b][i].name}</h3>${chartHtml(`compare-${index}-${i}`, accuracyVsLevelSpec(group))}</div>`
        : '',
    );
    return html`<section>
<h2>${setting}</h2>
<p>Chosen flood level: ${chosen(groupA)} in ${a.name}, ${chosen(groupB)} in ${b.name}.</p>
<table><thead><tr><th>b</th><th>${a.name}: clean test acc (%)</th><th>${b.name}: clean test acc (%)</th><th>difference (pp)</th></tr></thead>
<tbody>${rows}</tbody></table>
<div class="charts">${charts}</div>
</section>`;
  });
  const head = (summary: SweepSummary) =>
    html`<a href="/sweeps/${encodeURIComponent(summary.sweepId)}">${summary.name}</a> <code>${summary.sweepId}</code> ${statusBadge(summary.status)} · ${summary.succeededTasks}/${summary.taskCount} tasks`;
  return layout(
    `${a.name} vs ${b.name}`,
    where,
    html`<h1>Comparison</h1>
<p>First: ${head(a)}<br>Second: ${head(b)}</p>
<p class="muted">Clean test accuracy: mean ± sd over seeds (seeds finished); the difference is the second minus the first, in percentage points.</p>
${joinHtml(sections, '\n')}`,
    scripts(),
  );
}
