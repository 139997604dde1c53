/**
 * What a sweep costs: the arithmetic on a fixed calibration (expected values worked out by hand
 * from the price table), the estimate of a real local run against what its records say it cost,
 * and bad input through the real CLI.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { estimateSweepCost } from '../src/cost/estimate.js';
import {
  incurredCost,
  LIST_PRICES,
  lambdaSecondsFactor,
  parsePriceTable,
  plannedShape,
  priceSweep,
  regionPrices,
  type Service,
} from '../src/cost/model.js';
import { runSweep } from '../src/run.js';
import { openStores } from '../src/store/open.js';
import { expandSpec } from '../src/sweep/expansion.js';
import { validateSpec } from '../src/sweep/spec.js';
import { loadSweepView } from '../src/ui/data.js';
import { floodsweep, show } from './cli-helpers.js';

const cost = (breakdown: { lines: Array<{ service: Service; quantity: number; costUsd: number }> }, service: Service) =>
  breakdown.lines.find((line) => line.service === service)!;
const close = (actual: number, expected: number, what: string) =>
  assert.ok(Math.abs(actual - expected) <= 1e-9 * Math.max(1, Math.abs(expected)), `${what}: ${actual}, expected ${expected}`);

describe('the estimate on a fixed calibration', () => {
  // 10 tasks (5 levels x 2 seeds) of 200 epochs, evaluated every 5 (41 rows), 0.1 s per epoch and
  // 1 s per call on a 1,769 MB zip function, 50 epochs per call (4 calls), 10 at a time, 4 figures.
  const spec = validateSpec({
    name: 'fixed',
    floodLevels: [0, 0.1, 0.2, 0.3, 0.4],
    seeds: [0, 1],
    training: { epochs: 200, evalEvery: 5 },
    execution: { maxConcurrency: 4 },
  });
  const configs = expandSpec(spec).map((task) => task.config);
  const shape = plannedShape(configs, () => ({ secondsPerEpoch: 0.1, secondsPerCall: 1 }), {
    runtime: 'zip',
    trainMemoryMb: 1769,
    concurrency: 4,
    epochsPerCall: 50,
    figures: 4,
  });
  const breakdown = priceSweep(shape, LIST_PRICES.regions['us-east-1']);

  test('Lambda: train seconds, cold starts and the other steps at their memory, in GB-s at $0.0000166667', () => {
    // Train: 10 x (4 calls x 1 s + 200 x 0.1 s) = 240 s at 1769 MB; 4 cold starts of 2 s (zip).
    // Plan 1 + 0.002 x 10 s at 1024 MB; Aggregate 2 + 0.01 x 10 + 0.5 x 4 s at 2048 MB.
    const gbSeconds = (240 * 1769) / 1024 + (4 * 2 * 1769) / 1024 + 1.02 + 4.1 * 2;
    close(cost(breakdown, 'Lambda compute').quantity, gbSeconds, 'GB-s');
    close(cost(breakdown, 'Lambda compute').costUsd, gbSeconds * 0.0000166667, 'Lambda cost');
    // 40 Train calls + Plan + Aggregate, $0.20 per million.
    close(cost(breakdown, 'Lambda requests').quantity, 42, 'requests');
    close(cost(breakdown, 'Lambda requests').costUsd, (42 * 0.2) / 1e6, 'requests cost');
  });

  test('Step Functions: the parent states plus Train and TaskDone? per call and TaskDone per child, $0.025 per 1,000', () => {
    close(cost(breakdown, 'Step Functions').quantity, 5 + 2 * 40 + 10, 'transitions');
    close(cost(breakdown, 'Step Functions').costUsd, (95 * 0.025) / 1000, 'transitions cost');
  });

  test('DynamoDB and S3: what each step writes and reads', () => {
    // Sweep record 2 + task items 10 x 2 + two task updates per call 40 x 2 x 2 + rows 10 x 41 + Aggregate 2.
    close(cost(breakdown, 'DynamoDB writes').quantity, 2 + 20 + 160 + 410 + 2, 'write units');
    close(cost(breakdown, 'DynamoDB writes').costUsd, (594 * 0.625) / 1e6, 'write cost');
    // A task read per call 40 + Plan's listing 5 + 2 sweep reads + 2 listings 10 + 2 epoch queries of 41 x 0.5 KB (6 units) per task 120.
    close(cost(breakdown, 'DynamoDB reads').quantity, 40 + 5 + 2 + 10 + 120, 'read units');
    // spec + manifest 2, checkpoints 10 x 3, results 10, ResultWriter 3, summary + report 2, 4 figures x 2.
    close(cost(breakdown, 'S3 PUT').quantity, 2 + 30 + 10 + 3 + 2 + 8, 'PUTs');
    close(cost(breakdown, 'S3 PUT').costUsd, (55 * 0.005) / 1000, 'PUT cost');
    close(cost(breakdown, 'S3 GET').quantity, 1 + 40 + 2, 'GETs');
    close(cost(breakdown, 'CloudWatch Logs').quantity, (95 * 1500 + 42 * 400) / 1e9, 'log GB');
    close(cost(breakdown, 'X-Ray').quantity, 11, 'traces');
  });

  test('the total is the sum of the lines; Lambda dominates; the wall time schedules tasks on 4 slots', () => {
    close(
      breakdown.totalUsd,
      breakdown.lines.reduce((sum, line) => sum + line.costUsd, 0),
      'total',
    );
    assert.equal(breakdown.dominant, 'Lambda compute');
    // Tasks of 24 s (26 s for the 4 that cold-start) on 4 slots, each next task on the first slot
    // to free up: the slots end at 26+24+24, 26+24+24, 26+24 and 26+24 s.
    close(breakdown.wallSeconds, 1.02 + 74 + 4.1, 'wall seconds');
  });

  test('the time budget of a Lambda call decides the calls when epochs per call are not fixed', () => {
    const timeBudgeted = plannedShape(configs, () => ({ secondsPerEpoch: 10, secondsPerCall: 20 }), {
      runtime: 'zip',
      trainMemoryMb: 1769,
      concurrency: 4,
      figures: 4,
    });
    // (900 - 30 - 20) / 10 = 85 epochs, less 2 kept in reserve: 83 per call, 3 calls for 200.
    assert.equal(timeBudgeted.tasks[0].calls, 3);
  });

  test('below 1,769 MB a function has a fraction of a vCPU; above, one thread is no faster', () => {
    assert.equal(lambdaSecondsFactor(1769), 1);
    assert.equal(lambdaSecondsFactor(3538), 1);
    close(lambdaSecondsFactor(884.5), 2, 'half a vCPU');
  });

  test('the spec field execution.maxCostUsd is a positive number of dollars', () => {
    assert.equal(validateSpec({ name: 'x', floodLevels: [0], execution: { maxCostUsd: 2.5 } }).execution.maxCostUsd, 2.5);
    assert.throws(
      () => validateSpec({ name: 'x', floodLevels: [0], execution: { maxCostUsd: -1 } }),
      /execution\.maxCostUsd: must be > 0$/,
    );
  });

  test('a prices file adds regions; every field of a region is checked and named', () => {
    const eu = { ...LIST_PRICES.regions['us-east-1'], logsIngestedPerGb: 0.57 };
    const table = parsePriceTable(JSON.stringify({ readOn: '2026-01-31', regions: { 'eu-west-1': eu } }), 'prices.json');
    assert.equal(table.readOn, '2026-01-31');
    assert.deepEqual(regionPrices(table, 'eu-west-1'), eu);
    assert.ok(regionPrices(table, 'us-east-1'), 'the built-in regions stay');
    const { s3GetsPerThousand: _missing, ...incomplete } = eu;
    assert.throws(
      () =>
        parsePriceTable(
          JSON.stringify({ readOn: '2026-01-31', regions: { 'eu-west-1': { ...incomplete, lambdaGbSecond: -1 } } }),
          'p.json',
        ),
      /p\.json: regions\.eu-west-1\.lambdaGbSecond: must be >= 0\np\.json: regions\.eu-west-1\.s3GetsPerThousand/,
    );
    assert.throws(
      () => regionPrices(LIST_PRICES, 'mars-1'),
      /--region: no prices for region "mars-1"; known: us-east-1, us-east-2, us-west-2/,
    );
  });
});

describe('the estimate against what a local run recorded', () => {
  const rootDir = mkdtempSync(join(tmpdir(), 'floodsweep-cost-'));
  after(() => rmSync(rootDir, { recursive: true, force: true }));

  test('a local run stores its estimate and records its usage; the two agree within a factor of 3', async () => {
    const spec = validateSpec({
      name: 'cost-check',
      dataset: { name: 'sinusoid2d', nTrain: 64, nVal: 64, nTest: 512 },
      model: { kind: 'mlp', depth: 2, width: 32 },
      training: { epochs: 30, batchSize: 32, evalEvery: 5 },
      floodLevels: [0, 0.2],
      seeds: [0, 1],
      execution: { maxConcurrency: 2 },
    });
    const estimate = await estimateSweepCost(spec, { runtime: 'zip', backend: 'wasm', epochsPerCall: 10 });
    assert.match(estimate.timing, /^calibrated on wasm/);
    const stores = { kind: 'local' as const, rootDir };
    const { sweepId } = await runSweep(spec, { stores, workers: 1, backend: 'wasm', epochsPerCall: 10, costEstimate: estimate.stored });
    const opened = openStores(stores);
    const sweep = (await opened.metrics.getSweep(sweepId))!;
    assert.deepEqual(sweep.costEstimate, estimate.stored, 'the sweep record keeps the estimate it started with');
    const tasks = await opened.metrics.listTasks(sweepId);
    for (const task of tasks) {
      assert.equal(task.attempts, 3, '30 epochs at 10 per call');
      assert.equal(task.usage?.rows, 7, 'epochs 0, 5, ..., 30');
      assert.ok(task.usage!.seconds > 0);
      assert.equal(task.usage?.lambdaMemoryMb, undefined, 'measured locally');
    }
    const figures = (await opened.artifacts.list(`sweeps/${sweepId}/plots/`)).filter((key) => key.endsWith('.png')).length;
    const incurred = incurredCost(sweep, tasks, { figures, concurrency: 2 });
    assert.equal(incurred.unmeasuredTasks, 0);
    assert.ok(incurred.scaledFromLocal);
    // The counts follow from the records alone, so they match the estimate's exactly but for figures drawn.
    assert.equal(cost(incurred.breakdown, 'Lambda requests').quantity, cost(estimate.breakdown, 'Lambda requests').quantity);
    assert.equal(cost(incurred.breakdown, 'DynamoDB writes').quantity, cost(estimate.breakdown, 'DynamoDB writes').quantity);
    // Seconds: a calibration of 3 epochs against 4 tasks trained on a shared machine.
    const ratio = incurred.breakdown.totalUsd / estimate.breakdown.totalUsd;
    assert.ok(ratio > 1 / 3 && ratio < 3, `incurred / estimated = ${ratio}`);
    const report = (await opened.artifacts.get(`sweeps/${sweepId}/report.html`))!.toString('utf8');
    assert.match(report, /<section id="cost">[\s\S]*incurred \$[\d.]+ at list prices; estimated \$[\d.]+/);
    const view = await loadSweepView(opened, sweepId);
    assert.match(view.cost, /^incurred \$[\d.]+ at list prices; estimated \$[\d.]+ \(incurred\/estimated [\d.]+x\)/, 'the dashboard');
    const status = await floodsweep(['sweep', 'status', sweepId, '--results', rootDir]);
    assert.equal(status.code, 0, show(status));
    assert.match(
      status.stdout,
      /^cost: incurred \$[\d.]+ at list prices; estimated \$[\d.]+ .*seconds measured locally, scaled to the function$/m,
    );
  });
});

describe('bad input to sweep cost and sweep run: one line, exit code 2, nothing started', () => {
  const dir = mkdtempSync(join(tmpdir(), 'floodsweep-cost-cli-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const spec = join(dir, 'spec.json');
  writeFileSync(
    spec,
    JSON.stringify({ name: 'cli-cost', floodLevels: [0, 0.2], training: { epochs: 4 }, dataset: { name: 'sinusoid2d', nTest: 200 } }),
  );
  const badPrices = join(dir, 'prices.json');
  writeFileSync(badPrices, JSON.stringify({ readOn: '2026-01-31', regions: { 'eu-west-1': { lambdaGbSecond: 'cheap' } } }));
  const notJson = join(dir, 'secret.json');
  writeFileSync(notJson, 'password=hunter2');

  const cases: Array<[string, string[], RegExp]> = [
    ['a negative memory', ['--train-memory', '-5'], /^floodsweep: --train-memory: "-5": expected a whole number of MB from 128 to 10240/],
    [
      'an unknown region',
      ['--region', 'mars-1'],
      /^floodsweep: --region: no prices for region "mars-1"; known: us-east-1, us-east-2, us-west-2/,
    ],
    ['an unknown runtime', ['--runtime', 'lambda'], /^floodsweep: --runtime: "lambda": Allowed choices are container, zip/],
    ['a zero seconds per epoch', ['--seconds-per-epoch', '0'], /^floodsweep: --seconds-per-epoch: "0": expected a number > 0/],
    [
      'a prices file with a bad field',
      ['--prices', badPrices],
      /^floodsweep: --prices ".*prices\.json": regions\.eu-west-1\.lambdaGbSecond: /,
    ],
    ['a prices file that is not JSON', ['--prices', notJson], /^floodsweep: --prices ".*secret\.json": not valid JSON$/m],
    ['a missing prices file', ['--prices', join(dir, 'none.json')], /^floodsweep: --prices: cannot read ".*none\.json": no such file/],
  ];
  for (const [what, args, message] of cases) {
    test(`sweep cost: ${what}`, async () => {
      const result = await floodsweep(['sweep', 'cost', spec, ...args]);
      assert.equal(result.code, 2, show(result));
      assert.match(result.stderr, message);
      assert.doesNotMatch(result.stderr, /hunter2|\n\s+at /, 'no file content, no stack trace');
      assert.equal(result.stdout, '');
    });
  }

  test('sweep cost prints every service, the total, the wall time, what dominates and that these are list prices; --json for scripts', async () => {
    const text = await floodsweep(['sweep', 'cost', spec, '--seconds-per-epoch', '0.5', '--runtime', 'zip']);
    assert.equal(text.code, 0, show(text));
    for (const service of [
      'Lambda compute',
      'Lambda requests',
      'Step Functions',
      'DynamoDB writes',
      'DynamoDB reads',
      'S3 PUT',
      'S3 GET',
      'CloudWatch Logs',
    ]) {
      assert.match(text.stdout, new RegExp(`^  ${service} `, 'm'));
    }
    assert.match(text.stdout, /^ {2}total .*\$[\d.]+$/m);
    assert.match(text.stdout, /wall time at the spec's concurrency: about .*; Lambda compute dominates/);
    assert.match(text.stdout, /AWS list prices read on \d{4}-\d{2}-\d{2}/);
    const json = await floodsweep(['sweep', 'cost', spec, '--seconds-per-epoch', '0.5', '--runtime', 'zip', '--json']);
    const parsed = JSON.parse(json.stdout);
    assert.equal(parsed.listPrices, true);
    assert.equal(parsed.trainMemoryMb, 1769);
    // 2 tasks of 4 epochs at 0.5 s (one call each, no per-call seconds given) plus 2 cold starts of 2 s, at 1769 MB.
    const train = (2 * 4 * 0.5 + 2 * 2) * (1769 / 1024);
    const lambda = parsed.breakdown.lines.find((line: { service: string }) => line.service === 'Lambda compute');
    close(lambda.quantity, train + (1 + 0.004) + (2 + 0.02 + 0.5 * 4) * 2, 'GB-s');
  });

  test('sweep run --cloud refuses a sweep estimated above --max-cost or execution.maxCostUsd before starting anything', async () => {
    const results = join(dir, 'results');
    const flag = await floodsweep(['sweep', 'run', spec, '--cloud', '--max-cost', '0.0001', '--seconds-per-epoch', '1', '--out', results]);
    assert.equal(flag.code, 2, show(flag));
    assert.match(
      flag.stderr,
      /^floodsweep: --max-cost: the sweep is estimated at \$[\d.]+, above the limit of \$0\.00010 .*nothing was started$/m,
    );
    assert.equal(flag.stderr.trim().split('\n').length, 1);
    const limited = join(dir, 'limited.json');
    writeFileSync(
      limited,
      JSON.stringify({ name: 'limited', floodLevels: [0], training: { epochs: 4 }, execution: { maxCostUsd: 0.0001 } }),
    );
    const field = await floodsweep(['sweep', 'run', limited, '--cloud', '--seconds-per-epoch', '1', '--out', results]);
    assert.equal(field.code, 2, show(field));
    assert.match(field.stderr, /^floodsweep: execution\.maxCostUsd: the sweep is estimated at/);
    assert.ok(!existsSync(results), 'nothing written');
    const local = await floodsweep(['sweep', 'run', spec, '--max-cost', '1', '--results', results]);
    assert.equal(local.code, 2, show(local));
    assert.match(local.stderr, /^floodsweep: --max-cost: only with --cloud/);
    assert.ok(!existsSync(results), 'nothing written');
  });
});
