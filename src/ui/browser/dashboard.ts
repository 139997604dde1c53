/// <reference lib="dom" />
/**
 * The dashboard's browser code, bundled by esbuild and served as /assets/dashboard.js. It polls the
 * sweep's JSON every second while the sweep runs and redraws only what changed. Text from the
 * stores goes into the page as text nodes, never as HTML.
 */
import type { Difference, Estimate } from '../../sweep/statistics.js';
import type { SweepView, TaskView } from '../data.js';

/** What /api/sweeps/ID answers: the sweep's view and its chart specs. */
interface SweepAnswer extends SweepView {
  charts: (object | null)[];
  parallel: object | null;
  sampled: object | null;
}

declare function vegaEmbed(target: string, spec: object, options: { actions: boolean; renderer: 'svg' }): Promise<unknown>;

type Child = Node | string | number;

function el(tag: string, attributes: Record<string, string> = {}, children: Child[] = []): HTMLElement {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
  for (const child of children) node.appendChild(typeof child === 'object' ? child : document.createTextNode(String(child)));
  return node;
}

const byId = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const replace = (id: string, children: Node[] | string[]) => byId(id).replaceChildren(...children);
const draw = (target: string, spec: object) => vegaEmbed(target, spec, { actions: false, renderer: 'svg' });
const level = (b: number) => String(Number(Number(b).toPrecision(4)));
const isLoss = (metric: string) => metric === 'val.loss' || metric === 'val.cleanLoss';

function estimate(value: Estimate | null, scale: number, digits: number): string {
  if (!value) return '—';
  return `${(scale * value.mean).toFixed(digits)} ± ${(scale * value.sd).toFixed(digits)}`;
}

function difference(d: Difference | null | undefined): string {
  if (!d) return '—';
  const signed = (v: number) => (v >= 0 ? '+' : '−') + Math.abs(100 * v).toFixed(2);
  return signed(d.mean) + (d.ci95 ? ` [${signed(d.ci95[0])}, ${signed(d.ci95[1])}]` : ` (n = ${d.n})`);
}

function startLiveSweep(main: HTMLElement): void {
  const api = `/api/sweeps/${encodeURIComponent(main.dataset.sweepId ?? '')}`;
  let picked = new Set<string>();
  const shown = { summary: '', curves: '', levels: '' };
  let latest: SweepAnswer;

  function renderProgress(view: SweepAnswer): void {
    const counts = view.progress.tasks;
    const progress = byId<HTMLProgressElement>('progress');
    progress.max = Math.max(1, view.progress.epochsTotal);
    progress.value = view.progress.epochsDone;
    replace('progress-text', [
      `${counts.SUCCEEDED + counts.PRUNED} of ${view.tasks.length} tasks done${counts.PRUNED > 0 ? ` (${counts.PRUNED} pruned)` : ''}, ${counts.FAILED} failed, ${counts.RUNNING} running · epoch ${view.progress.epochsDone} of ${view.progress.epochsTotal}`,
    ]);
    replace('status', [el('span', { class: `status status-${view.sweep.status}` }, [view.sweep.status])]);
    replace('cost', [`Cost: ${view.cost}.`]);
    const { selection } = view.summary;
    replace('selection', [`flood level chosen by ${selection.metric} at the ${selection.epoch} epoch`]);
  }

  function renderGroups(view: SweepAnswer): void {
    const { metric } = view.summary.selection;
    const sections = view.summary.groups.map((group, index) => {
      const chosen = group.chosenLevel === null ? 'not chosen yet (no task of this group finished)' : `b = ${level(group.chosenLevel)}`;
      const header = el(
        'tr',
        {},
        [
          'flood level b',
          'seeds finished',
          `${metric} (selection)`,
          'clean test acc (%)',
          'noisy test acc (%)',
          'Δ clean vs b = 0 (pp) [95% CI]',
        ].map((text) => el('th', {}, [text])),
      );
      const rows = group.levels.map((l) => {
        const cells = [
          level(l.floodLevel),
          `${l.seeds.length} / ${l.tasks}${l.pruned.length > 0 ? ` (${l.pruned.length} pruned)` : ''}`,
          isLoss(metric) ? estimate(l.selectionValue, 1, 4) : estimate(l.selectionValue, 100, 2),
          estimate(l.testCleanAcc, 100, 2),
          estimate(l.testAcc, 100, 2),
          l.floodLevel === 0 ? 'baseline' : difference(l.diffToBaseline?.testCleanAcc),
        ];
        return el(
          'tr',
          l.floodLevel === group.chosenLevel ? { class: 'chosen' } : {},
          cells.map((c) => el('td', {}, [c])),
        );
      });
      return el('section', { class: 'group' }, [
        el('h2', {}, [`Group ${index + 1}: ${group.setting}`]),
        el('p', {}, ['Chosen flood level: ', el('strong', { class: 'chosen-level' }, [chosen])]),
        el('table', { class: 'statistics' }, [el('thead', {}, [header]), el('tbody', {}, rows)]),
        el('div', { id: `accuracy-chart-${index}`, class: 'chart accuracy-chart' }, []),
      ]);
    });
    replace('groups', sections);
    if (view.parallel) draw('#parallel', view.parallel);
    byId('sampled-section').hidden = !view.sampled;
    if (view.sampled) draw('#sampled', view.sampled);
    view.charts.forEach((spec, index) => {
      if (spec) draw(`#accuracy-chart-${index}`, spec);
      else replace(`accuracy-chart-${index}`, [el('p', { class: 'muted' }, ['The chart appears when a task of this group finishes.'])]);
    });
  }

  const settingOf = (view: SweepAnswer, group: string) => view.summary.groups.find((g) => g.group === group)?.setting ?? group;

  function renderTasks(view: SweepAnswer): void {
    const rows = view.tasks.map((task: TaskView) => {
      const box = el('input', {
        type: 'checkbox',
        'data-task': task.taskId,
        'aria-label': `show curves of ${task.taskId}`,
      }) as HTMLInputElement;
      box.checked = picked.has(task.taskId);
      box.addEventListener('change', () => {
        if (box.checked) picked.add(task.taskId);
        else picked.delete(task.taskId);
        byId<HTMLSelectElement>('level-picker').value = '';
        drawCurves(true);
      });
      const cells: Child[] = [
        box,
        el('code', {}, [task.taskId]),
        settingOf(view, task.group),
        level(task.floodLevel),
        task.seed,
        el('span', { class: `status status-${task.status}` }, [task.status]),
        `${task.epochsDone} / ${task.epochsTotal}`,
        task.attempts,
      ];
      return el(
        'tr',
        {},
        cells.map((c, i) => el('td', i === 1 || i === 2 || i === 5 ? { class: 'text' } : {}, [c])),
      );
    });
    replace('tasks', [document.querySelector('#tasks thead')!, el('tbody', {}, rows)]);

    const levels = [...new Set(view.tasks.map((t) => t.floodLevel))].sort((a, b) => a - b);
    if (levels.join() !== shown.levels) {
      shown.levels = levels.join();
      const picker = byId<HTMLSelectElement>('level-picker');
      replace('level-picker', [
        el('option', { value: '' }, ['—']),
        ...levels.map((b) => el('option', { value: String(b) }, [`b = ${level(b)} (every seed)`])),
      ]);
      picker.onchange = () => {
        if (picker.value === '') return;
        picked = new Set(latest.tasks.filter((t) => String(t.floodLevel) === picker.value).map((t) => t.taskId));
        renderTasks(latest);
        drawCurves(true);
      };
    }

    const failed = view.tasks.filter((t) => t.status === 'FAILED');
    replace(
      'failures',
      failed.length === 0
        ? []
        : [
            el('h2', {}, [`Failures (${failed.length})`]),
            el('table', {}, [
              el(
                'tbody',
                {},
                failed.map((t) =>
                  el('tr', {}, [
                    el('td', { class: 'text' }, [el('code', {}, [t.taskId])]),
                    el('td', {}, [`b = ${level(t.floodLevel)}, seed ${t.seed}`]),
                    el('td', { class: 'message' }, [t.error || 'failed without a message']),
                  ]),
                ),
              ),
            ]),
          ],
    );
  }

  /** Redraws the curves when the picked tasks or their epoch counts changed. */
  function drawCurves(force: boolean): void {
    const ids = [...picked].sort();
    const progress = latest.tasks
      .filter((t) => picked.has(t.taskId))
      .map((t) => t.epochsDone)
      .join();
    const key = `${ids.join()}|${progress}`;
    if (!force && key === shown.curves) return;
    shown.curves = key;
    if (ids.length === 0) {
      replace('curves', [el('p', { class: 'muted' }, ['No task picked.'])]);
      return;
    }
    const query = ids.map((id) => `task=${encodeURIComponent(id)}`).join('&');
    fetch(`${api}/curves?${query}`)
      .then((response) => response.json())
      .then((spec) => {
        if (spec.error) replace('curves', [el('p', { class: 'message' }, [spec.error])]);
        else draw('#curves', spec);
      });
  }

  function refresh(): void {
    fetch(api)
      .then((response) =>
        response.json().then((body) => {
          if (!response.ok) throw new Error(body.error || response.statusText);
          return body as SweepAnswer;
        }),
      )
      .then((view) => {
        latest = view;
        byId('refresh-error').hidden = true;
        renderProgress(view);
        const summary = JSON.stringify(view.summary);
        if (summary !== shown.summary) {
          shown.summary = summary;
          renderGroups(view);
        }
        renderTasks(view);
        drawCurves(false);
        if (view.sweep.status === 'RUNNING') setTimeout(refresh, 1000);
      })
      .catch((error: Error) => {
        const message = byId('refresh-error');
        message.hidden = false;
        message.textContent = `Could not refresh: ${error.message} (retrying)`;
        setTimeout(refresh, 3000);
      });
  }
  refresh();
}

const main = document.getElementById('sweep');
if (main) startLiveSweep(main);
