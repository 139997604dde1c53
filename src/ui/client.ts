/**
 * The dashboard's browser code, served as /assets/dashboard.js: no build step. It polls the sweep's
 * JSON every second while the sweep runs and redraws only what changed. Text from the stores goes
 * into the page as text nodes, never as HTML.
 */
import { EMBED_CHARTS_SCRIPT } from '../report/interactive.js';

const LIVE_SWEEP_SCRIPT = `
(function () {
  var main = document.getElementById('sweep');
  if (!main) return;
  var sweepId = main.dataset.sweepId;
  var api = '/api/sweeps/' + encodeURIComponent(sweepId);
  var picked = new Set();
  var shown = { summary: '', curves: '', levels: '' };
  var latest = null;

  function el(tag, attributes, children) {
    var node = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (key) { node.setAttribute(key, attributes[key]); });
    (children || []).forEach(function (child) {
      node.appendChild(typeof child === 'string' || typeof child === 'number' ? document.createTextNode(String(child)) : child);
    });
    return node;
  }
  function replace(id, children) {
    var target = document.getElementById(id);
    target.replaceChildren.apply(target, children);
  }
  function pct(fraction) { return fraction === null || fraction === undefined ? '—' : (100 * fraction).toFixed(2); }
  function level(b) { return String(Number(Number(b).toPrecision(4))); }
  function estimate(value, scale, digits) {
    if (!value) return '—';
    return (scale * value.mean).toFixed(digits) + ' ± ' + (scale * value.sd).toFixed(digits);
  }
  function difference(d) {
    if (!d) return '—';
    var signed = function (v) { return (v >= 0 ? '+' : '−') + Math.abs(100 * v).toFixed(2); };
    return signed(d.mean) + (d.ci95 ? ' [' + signed(d.ci95[0]) + ', ' + signed(d.ci95[1]) + ']' : ' (n = ' + d.n + ')');
  }
  function isLoss(metric) { return metric === 'val.loss' || metric === 'val.cleanLoss'; }

  function renderProgress(view) {
    var counts = view.progress.tasks;
    var total = view.tasks.length;
    var progress = document.getElementById('progress');
    progress.max = Math.max(1, view.progress.epochsTotal);
    progress.value = view.progress.epochsDone;
    replace('progress-text', [
      (counts.SUCCEEDED + counts.PRUNED) + ' of ' + total + ' tasks done' + (counts.PRUNED > 0 ? ' (' + counts.PRUNED + ' pruned)' : '') + ', ' + counts.FAILED + ' failed, ' + counts.RUNNING + ' running · epoch ' +
        view.progress.epochsDone + ' of ' + view.progress.epochsTotal,
    ]);
    replace('status', [el('span', { class: 'status status-' + view.sweep.status }, [view.sweep.status])]);
    replace('cost', ['Cost: ' + view.cost + '.']);
    var selection = view.summary.selection;
    replace('selection', ['flood level chosen by ' + selection.metric + ' at the ' + selection.epoch + ' epoch']);
  }

  function renderGroups(view) {
    var metric = view.summary.selection.metric;
    var sections = view.summary.groups.map(function (group, index) {
      var chosen = group.chosenLevel === null ? 'not chosen yet (no task of this group finished)' : 'b = ' + level(group.chosenLevel);
      var header = el('tr', {}, ['flood level b', 'seeds finished', metric + ' (selection)', 'clean test acc (%)', 'noisy test acc (%)', 'Δ clean vs b = 0 (pp) [95% CI]']
        .map(function (text) { return el('th', {}, [text]); }));
      var rows = group.levels.map(function (l) {
        var cells = [
          level(l.floodLevel), l.seeds.length + ' / ' + l.tasks + (l.pruned.length > 0 ? ' (' + l.pruned.length + ' pruned)' : ''),
          isLoss(metric) ? estimate(l.selectionValue, 1, 4) : estimate(l.selectionValue, 100, 2),
          estimate(l.testCleanAcc, 100, 2), estimate(l.testAcc, 100, 2),
          l.floodLevel === 0 ? 'baseline' : difference(l.diffToBaseline && l.diffToBaseline.testCleanAcc),
        ];
        return el('tr', l.floodLevel === group.chosenLevel ? { class: 'chosen' } : {}, cells.map(function (c) { return el('td', {}, [c]); }));
      });
      var chartId = 'accuracy-chart-' + index;
      return el('section', { class: 'group' }, [
        el('h2', {}, ['Group ' + (index + 1) + ': ' + group.setting]),
        el('p', {}, ['Chosen flood level: ', el('strong', { class: 'chosen-level' }, [chosen])]),
        el('table', { class: 'statistics' }, [el('thead', {}, [header]), el('tbody', {}, rows)]),
        el('div', { id: chartId, class: 'chart accuracy-chart' }, []),
      ]);
    });
    replace('groups', sections);
    if (view.parallel) vegaEmbed('#parallel', view.parallel, { actions: false, renderer: 'svg' });
    document.getElementById('sampled-section').hidden = !view.sampled;
    if (view.sampled) vegaEmbed('#sampled', view.sampled, { actions: false, renderer: 'svg' });
    view.charts.forEach(function (spec, index) {
      if (spec) vegaEmbed('#accuracy-chart-' + index, spec, { actions: false, renderer: 'svg' });
      else replace('accuracy-chart-' + index, [el('p', { class: 'muted' }, ['The chart appears when a task of this group finishes.'])]);
    });
  }

  function settingOf(view, group) {
    var found = view.summary.groups.find(function (g) { return g.group === group; });
    return found ? found.setting : group;
  }

  function renderTasks(view) {
    var rows = view.tasks.map(function (task) {
      var box = el('input', { type: 'checkbox', 'data-task': task.taskId, 'aria-label': 'show curves of ' + task.taskId }, []);
      box.checked = picked.has(task.taskId);
      box.addEventListener('change', function () {
        if (box.checked) picked.add(task.taskId); else picked.delete(task.taskId);
        document.getElementById('level-picker').value = '';
        drawCurves(true);
      });
      var cells = [box, el('code', {}, [task.taskId]), settingOf(view, task.group), level(task.floodLevel), task.seed,
        el('span', { class: 'status status-' + task.status }, [task.status]), task.epochsDone + ' / ' + task.epochsTotal, task.attempts];
      return el('tr', {}, cells.map(function (c, i) { return el('td', i === 1 || i === 2 || i === 5 ? { class: 'text' } : {}, [c]); }));
    });
    replace('tasks', [document.querySelector('#tasks thead'), el('tbody', {}, rows)]);

    var levels = Array.from(new Set(view.tasks.map(function (t) { return t.floodLevel; }))).sort(function (a, b) { return a - b; });
    if (levels.join() !== shown.levels) {
      shown.levels = levels.join();
      var picker = document.getElementById('level-picker');
      replace('level-picker', [el('option', { value: '' }, ['—'])].concat(levels.map(function (b) {
        return el('option', { value: String(b) }, ['b = ' + level(b) + ' (every seed)']);
      })));
      picker.onchange = function () {
        if (picker.value === '') return;
        picked = new Set(latest.tasks.filter(function (t) { return String(t.floodLevel) === picker.value; }).map(function (t) { return t.taskId; }));
        renderTasks(latest);
        drawCurves(true);
      };
    }

    var failed = view.tasks.filter(function (t) { return t.status === 'FAILED'; });
    replace('failures', failed.length === 0 ? [] : [
      el('h2', {}, ['Failures (' + failed.length + ')']),
      el('table', {}, [el('tbody', {}, failed.map(function (t) {
        return el('tr', {}, [el('td', { class: 'text' }, [el('code', {}, [t.taskId])]), el('td', {}, ['b = ' + level(t.floodLevel) + ', seed ' + t.seed]),
          el('td', { class: 'message' }, [t.error || 'failed without a message'])]);
      }))]),
    ]);
  }

  /** Redraws the curves when the picked tasks or their epoch counts changed. */
  function drawCurves(force) {
    var ids = Array.from(picked).sort();
    var progress = latest.tasks.filter(function (t) { return picked.has(t.taskId); }).map(function (t) { return t.epochsDone; }).join();
    var key = ids.join() + '|' + progress;
    if (!force && key === shown.curves) return;
    shown.curves = key;
    if (ids.length === 0) { replace('curves', [el('p', { class: 'muted' }, ['No task picked.'])]); return; }
    var query = ids.map(function (id) { return 'task=' + encodeURIComponent(id); }).join('&');
    fetch(api + '/curves?' + query).then(function (response) { return response.json(); }).then(function (spec) {
      if (spec.error) replace('curves', [el('p', { class: 'message' }, [spec.error])]);
      else vegaEmbed('#curves', spec, { actions: false, renderer: 'svg' });
    });
  }

  function refresh() {
    fetch(api).then(function (response) {
      return response.json().then(function (body) {
        if (!response.ok) throw new Error(body.error || response.statusText);
        return body;
      });
    }).then(function (view) {
      latest = view;
      document.getElementById('refresh-error').hidden = true;
      renderProgress(view);
      var summary = JSON.stringify(view.summary);
      if (summary !== shown.summary) { shown.summary = summary; renderGroups(view); }
      renderTasks(view);
      drawCurves(false);
      if (view.sweep.status === 'RUNNING') setTimeout(refresh, 1000);
    }).catch(function (error) {
      var message = document.getElementById('refresh-error');
      message.hidden = false;
      message.textContent = 'Could not refresh: ' + error.message + ' (retrying)';
      setTimeout(refresh, 3000);
    });
  }
  refresh();
})();
`;

export const DASHBOARD_SCRIPT = `${EMBED_CHARTS_SCRIPT}${LIVE_SWEEP_SCRIPT}`;
