import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { resolveTaskConfig } from '../src/flooding/config.js';
import type { EpochMetrics } from '../src/flooding/metrics.js';
import { renderReport } from '../src/report/html.js';
import { sweepFigures } from '../src/report/sweep-figures.js';
import { summarizeSweep } from '../src/sweep/aggregate.js';
import type { TaskRecord } from '../src/sweep/records.js';
import { taskRecord } from './store-contract.js';

const LEVELS = [0, 0.02, 0.05, 0.1, 0.2];
const SEEDS = [1, 2, 3];
const EPOCHS = 60;
const EVAL_EVERY = 2;
const FAILURE = 'Error: loss is NaN at epoch 31 <script>alert("x")</script> & the model diverged';

/** Where each dataset's clean test accuracy peaks over flood levels (a parabola in b). */
const DATASETS = {
  sinusoid2d: { base: 0.84, gain: 0.03, best: 0.05, width: 0.15 },
  spiral: { base: 0.78, gain: 0.04, best: 0.1, width: 0.2 },
} as const;
type DatasetName = keyof typeof DATASETS;

/**
 * A plausible training run: without flooding the training loss goes to ~0 and test accuracy peaks
 * early then degrades; with flooding the training loss floats around b and test accuracy ends higher.
 */
function syntheticRun(dataset: DatasetName, b: number, seed: number): EpochMetrics[] {
  const { base, gain, best, width } = DATASETS[dataset];
  const finalAcc = (b === 0 ? base : base + gain * Math.max(-0.5, 1 - ((b - best) / width) ** 2)) + 0.004 * (seed - 2);
  const jitter = (epoch: number, phase: number) => 0.004 * Math.sin(1.3 * epoch + 2.1 * seed + 17 * b + phase);
  return Array.from({ length: EPOCHS / EVAL_EVERY + 1 }, (_, i) => {
    const epoch = i * EVAL_EVERY;
    const grown = 1 - Math.exp(-epoch / 10);
    const trainLoss = b === 0 ? 0.69 * (1 - grown) + 0.02 : b + (0.69 - b) * (1 - grown) + 0.35 * b * Math.sin(0.9 * epoch + seed) * grown;
    const overfitBump = b === 0 ? 0.03 * Math.exp(-(((epoch - 16) / 8) ** 2)) : 0;
    const cleanAcc = 0.5 + (finalAcc - 0.5) * grown + overfitBump + jitter(epoch, 0);
    const cleanLoss = 0.69 * (1 - grown) + (b === 0 ? 0.3 + 0.006 * epoch * grown : 0.32 - 2 * (finalAcc - base));
    const split = (acc: number, loss: number, phase: number) => ({
      cleanAcc: acc + jitter(epoch, phase),
      acc: 0.1 + 0.8 * acc + jitter(epoch, phase + 1),
      cleanLoss: loss,
      loss: loss + 0.25 * grown,
    });
    return {
      epoch,
      train: {
        acc: b === 0 ? 0.5 + 0.5 * grown : 0.5 + (0.42 - b) * grown,
        loss: trainLoss,
        cleanAcc: cleanAcc + 0.02,
        cleanLoss: trainLoss,
      },
      val: split(cleanAcc, cleanLoss, 3),
      test: split(cleanAcc, cleanLoss, 0),
      floodedFraction: b > 0 ? 0.5 * grown : 0,
      objective: b > 0 ? Math.abs(trainLoss - b) + b : trainLoss,
      lr: 0.01,
      seconds: 0.4,
    };
  });
}

const taskId = (dataset: string, b: number, seed: number) => `${dataset}-b${b}-s${seed}`;

function sweepTasks(datasets: DatasetName[], levels = LEVELS): { tasks: TaskRecord[]; curves: Map<string, EpochMetrics[]> } {
  const curves = new Map<string, EpochMetrics[]>();
  const tasks = datasets.flatMap((dataset) =>
    levels.flatMap((b) =>
      SEEDS.map((seed) => {
        const id = taskId(dataset, b, seed);
        const failed = dataset === 'spiral' && b === 0.2 && seed === 2;
        const rows = syntheticRun(dataset, b, seed);
        if (!failed) curves.set(id, rows);
        return taskRecord('demo-sweep-20250101', id, {
          status: failed ? 'FAILED' : 'SUCCEEDED',
          config: resolveTaskConfig({
            dataset: { name: dataset },
            training: { epochs: EPOCHS, evalEvery: EVAL_EVERY },
            floodLevel: b,
            seed,
          }),
          group: `grp-${dataset}`,
          epochsDone: failed ? 30 : EPOCHS,
          epochsTotal: EPOCHS,
          backend: 'wasm',
          attempts: failed ? 3 : 1,
          ...(failed ? { error: FAILURE } : { final: rows[rows.length - 1] }),
        });
      }),
    ),
  );
  return { tasks, curves };
}

async function summarizeSynthetic(datasets: DatasetName[], levels = LEVELS) {
  const { tasks, curves } = sweepTasks(datasets, levels);
  const curvesOf = async (id: string) => curves.get(id) ?? assert.fail(`no curves for ${id}`);
  const summary = await summarizeSweep({
    sweepId: 'demo-sweep-20250101',
    name: 'flood-demo',
    tasks,
    epochsOf: curvesOf,
    selection: { metric: 'val.acc', epoch: 'last' },
  });
  return { summary, curvesOf };
}

async function renderSweep(datasets: DatasetName[], levels = LEVELS) {
  const { summary, curvesOf } = await summarizeSynthetic(datasets, levels);
  const drawn = await sweepFigures(summary, curvesOf);
  assert.deepEqual(drawn.omitted, []);
  const curves = Object.fromEntries(
    await Promise.all(
      summary.groups.map(async (group) => [
        group.group,
        await Promise.all(
          group.levels.flatMap((level) =>
            level.runs.map(async (run) => ({
              label: `b=${level.floodLevel} seed ${run.seed}`,
              series: `b = ${level.floodLevel}`,
              rows: await curvesOf(run.taskId),
            })),
          ),
        ),
      ]),
    ),
  );
  return { summary, figures: drawn.figures, html: renderReport(summary, drawn, undefined, curves) };
}

/** The page's markup, without the inlined scripts (the vega libraries hold HTML and URLs in their code). */
const withoutScripts = (html: string) => html.replace(/<script[^>]*>[\s\S]*?<\/script>/g, '');

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const textsOf = (svg: string) => [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((match) => match[1]);

describe('report of a 2-group sweep with a failed task', async () => {
  const rendered = renderSweep(['sinusoid2d', 'spiral']);

  it('has four non-empty PNG figures per group', async () => {
    const { summary, figures } = await rendered;
    assert.equal(summary.status, 'PARTIAL');
    assert.deepEqual(
      summary.groups.map((g) => g.chosenLevel),
      [0.05, 0.1],
    );
    const kinds = ['accuracy-vs-level', 'loss', 'accuracy', 'train-loss-per-level'];
    assert.deepEqual(
      figures.map((f) => f.name),
      [1, 2].flatMap((i) => kinds.map((kind) => `group-${i}-${kind}.png`)),
    );
    assert.deepEqual(
      figures.map((f) => f.group),
      [...kinds.map(() => 'grp-sinusoid2d'), ...kinds.map(() => 'grp-spiral')],
    );
    for (const { name, figure } of figures) {
      assert.deepEqual(figure.png.subarray(0, 8), PNG_SIGNATURE, name);
      assert.ok(figure.png.length > 20_000, `${name}: ${figure.png.length} bytes`);
    }
  });

  it('marks b = 0 and the chosen level, and each flood level in the training loss', async () => {
    const { figures } = await rendered;
    const texts = (name: string) => textsOf(figures.find((f) => f.name === name)!.figure.svg);
    const accuracy = texts('group-1-accuracy-vs-level.png');
    assert.ok(accuracy.includes('chosen level b = 0.05'));
    assert.ok(accuracy.includes('mean ± sd over seeds'));
    assert.ok(
      accuracy.some((t) => /^b = 0 \(no flooding\): \d+\.\d\d%$/.test(t)),
      accuracy.join(' | '),
    );
    const trainLoss = texts('group-2-train-loss-per-level.png');
    for (const b of ['0.02', '0.05', '0.1', '0.2']) {
      assert.ok(trainLoss.includes(`b = ${b}`) && trainLoss.includes(`flood level ${b}`), `b = ${b} in ${trainLoss.join(' | ')}`);
    }
    assert.ok(texts('group-2-loss.png').includes('Loss without flooding (b = 0) and with flooding (b = 0.1)'));
  });

  it('is self-contained: every script inline, no external reference in the markup', async () => {
    const { html } = await rendered;
    const scripts = html.match(/<script[^>]*>/g) ?? [];
    assert.ok(scripts.length > 3, 'the vega scripts and the chart specs are inlined');
    assert.deepEqual(
      scripts.filter((tag) => tag.includes('src=')),
      [],
    );
    // The browser test (dashboard.test.ts) checks that the page requests nothing.
    const markup = withoutScripts(html);
    for (const forbidden of ['http://', 'https://', 'src="//', "src='//", 'url(', '<link', '<script', '@import']) {
      assert.ok(!markup.includes(forbidden), `report contains ${forbidden}`);
    }
    assert.match(html, /^<!doctype html>/);
  });

  it('has interactive charts per group: accuracy against level, and the curves of every seed', async () => {
    const { html, summary } = await rendered;
    const specs = [...html.matchAll(/<script type="application\/json" data-chart-for="([^"]+)">([\s\S]*?)<\/script>/g)];
    assert.deepEqual(
      specs.map((m) => m[1]),
      ['group-1-accuracy-vs-level', 'group-1-curves', 'group-2-accuracy-vs-level', 'group-2-curves'],
    );
    for (const [, id] of specs) assert.ok(html.includes(`<div class="chart" id="${id}"></div>`), id);
    const curves = JSON.parse(specs[1][2]);
    const runs = new Set(curves.data.values.map((v: { run: string }) => v.run));
    assert.equal(
      runs.size,
      summary.groups[0].levels.reduce((n, level) => n + level.runs.length, 0),
      'every finished seed',
    );
    const band = JSON.parse(specs[0][2]).layer[0].data.values as Array<{ low: number; high: number }>;
    assert.ok(band.every((p) => p.low >= 0 && p.high <= 100));
  });

  it('has every group’s table with the chosen level highlighted, and every figure embedded', async () => {
    const { html, figures } = await rendered;
    for (const title of ['Group 1: dataset.name = sinusoid2d', 'Group 2: dataset.name = spiral']) assert.ok(html.includes(title), title);
    assert.equal(withoutScripts(html).match(/<table>/g)?.length, 2 + 1 + 1, 'two groups, the failures, the shared settings');
    assert.equal(html.match(/<tr class="chosen">/g)?.length, 2);
    assert.match(html, /<tr class="chosen"><td>0\.05<span class="tag">chosen<\/span><\/td><td>3 \/ 3<\/td>/);
    // Spiral at b = 0.2 lost seed 2: two seeds, and the difference pairs only those.
    assert.match(html, /<tr><td>0\.2<\/td><td>2 \/ 3<\/td>/);
    for (const { figure, caption } of figures) {
      assert.ok(html.includes(`src="data:image/png;base64,${figure.png.toString('base64')}"`), caption);
    }
    assert.ok(html.includes('<span class="status status-PARTIAL">PARTIAL</span>'));
    assert.ok(html.includes('<dd>wasm</dd>'));
  });

  it('lists the failed task with its message escaped', async () => {
    const { html } = await rendered;
    assert.ok(
      html.includes('Error: loss is NaN at epoch 31 &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; the model diverged'),
      'escaped message',
    );
    assert.match(
      html,
      /<td class="text"><code>spiral-b0\.2-s2<\/code><\/td><td>2<\/td><td>0\.2<\/td><td>2<\/td><td class="text">FAILED<\/td>/,
    );

    // For a look by eye: FLOODSWEEP_REPORT_DIR=/tmp/report-check node --import tsx --test test/report.test.ts
    const dir = process.env.FLOODSWEEP_REPORT_DIR;
    if (dir) {
      const { figures, summary } = await rendered;
      await mkdir(dir, { recursive: true });
      await writeFile(path.join(dir, 'report.html'), html);
      await writeFile(path.join(dir, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
      await Promise.all(figures.map(({ name, figure }) => writeFile(path.join(dir, name), figure.png)));
    }
  });
});

describe('report edge cases', () => {
  it('a group without b = 0: no comparison figures, no differences, said so', async () => {
    const { summary, figures, html } = await renderSweep(['sinusoid2d'], [0.05, 0.1]);
    assert.deepEqual(
      figures.map((f) => f.name),
      ['group-1-accuracy-vs-level.png', 'group-1-train-loss-per-level.png'],
    );
    assert.equal(summary.groups[0].hasBaseline, false);
    assert.ok(html.includes('This group has no b = 0 level: no differences to b = 0.'));
    assert.ok(html.includes('<h2>Group 1 <span class="muted">'), 'a single group has no label');
    assert.ok(html.includes('No task failed.'));
  });

  it('when the rule chose b = 0, the demo figures compare it with the best b > 0', async () => {
    const { summary, curvesOf } = await summarizeSynthetic(['sinusoid2d'], [0, 0.05, 0.1]);
    const chosenZero = { ...summary, groups: summary.groups.map((g) => ({ ...g, chosenLevel: 0 })) };
    const { figures } = await sweepFigures(chosenZero, curvesOf, { scale: 1 });
    const loss = figures.find((f) => f.name === 'group-1-loss.png')!;
    assert.match(loss.caption, /^Training loss .*: b = 0 against b = 0\.05, the best level above 0 \(the rule chose b = 0\), on seed 1\.$/);
    assert.ok(textsOf(loss.figure.svg).includes('Loss without flooding (b = 0) and with flooding (b = 0.05)'));
    assert.ok(textsOf(figures[0].figure.svg).includes('chosen level b = 0'));
  });

  it('one seed: accuracy bands stay in [0, 100], the CI cell says "n = 1" once, and the verdict is in the header', async () => {
    const { summary, curvesOf } = await summarizeSynthetic(['sinusoid2d'], [0, 0.05]);
    const oneSeed = await summarizeSweep({
      sweepId: summary.sweepId,
      name: summary.name,
      tasks: sweepTasks(['sinusoid2d'], [0, 0.05]).tasks.filter((task) => task.config.seed === SEEDS[0]),
      epochsOf: curvesOf,
      selection: summary.selection,
    });
    const html = renderReport(oneSeed, { figures: [], omitted: [] }, { verdict: 'DRIFTED', lines: ['val.acc moved'] });
    const cell = /<td>[+−]\d+\.\d\d <span class="muted">\(([^)]*\))\)<\/span><\/td>/.exec(html);
    assert.ok(cell, 'a difference cell without an interval');
    assert.equal(cell[0].match(/n = 1/g)?.length, 1, cell[0]);
    assert.match(
      html,
      /<h1>Sweep flood-demo <span class="status status-SUCCEEDED">SUCCEEDED<\/span> <span class="status status-DRIFTED"[^>]*>DRIFTED<\/span><\/h1>/,
    );

    const nearlyPerfect = {
      ...summary,
      groups: summary.groups.map((group) => ({
        ...group,
        levels: group.levels.map((level) => ({ ...level, testCleanAcc: { n: 3, mean: 0.99, sd: 0.05 } })),
      })),
    };
    const [accuracy] = (await sweepFigures(nearlyPerfect, curvesOf, { scale: 1 })).figures;
    const ticks = textsOf(accuracy.figure.svg).map(Number).filter(Number.isFinite);
    assert.ok(Math.max(...ticks) <= 100, `y axis up to ${Math.max(...ticks)}`);
  });

  it('control characters in stored text (ESC, BEL, C1, bidi) reach the page as references, never raw', async () => {
    const { summary, curvesOf } = await summarizeSynthetic(['sinusoid2d'], [0, 0.05]);
    const hostile = 'x\u001b]0;owned\u0007\u001b[2J\u009b\u202e\u2066';
    const tainted = {
      ...summary,
      name: hostile,
      groups: summary.groups.map((group) => ({ ...group, setting: hostile, group: hostile })),
      failedTasks: [{ taskId: 't1', group: hostile, floodLevel: 0, seed: 0, status: 'FAILED' as const, error: hostile }],
    };
    const drawn = await sweepFigures(tainted, curvesOf, { scale: 1 });
    const html = renderReport(tainted, drawn, { verdict: 'DRIFTED', lines: [hostile] });
    assert.doesNotMatch(html, /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/);
    assert.ok(html.includes('x&#x001b;]0;owned&#x0007;'), 'shown as references in the text');
  });

  it('a sweep where every task failed renders without figures', async () => {
    const { tasks } = sweepTasks(['spiral'], [0]);
    const failed = tasks.map((t) => ({ ...t, status: 'FAILED' as const, final: undefined, error: 'Error: out of memory' }));
    const summary = await summarizeSweep({
      sweepId: 's-1',
      name: 'broken',
      tasks: failed,
      epochsOf: async () => [],
      selection: { metric: 'val.loss', epoch: 'best' },
    });
    const drawn = await sweepFigures(summary, async () => []);
    assert.deepEqual(drawn, { figures: [], omitted: [] });
    const html = renderReport(summary, drawn);
    assert.ok(html.includes('<span class="status status-FAILED">FAILED</span>'));
    assert.ok(html.includes('No task of this group finished'));
    assert.equal(html.match(/Error: out of memory/g)?.length, 3);
    assert.ok(html.includes('the flood level with the lowest mean val.loss over seeds, at each run’s best epoch'));
  });
});
