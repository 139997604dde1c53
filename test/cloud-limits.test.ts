/**
 * The local executor fails where Step Functions would: a Distributed Map without ResultWriter
 * collects every child's output into its own result, which passes 256 KiB at about 3,000 tasks;
 * the shipped definition exports them and passes. Plus the limits themselves, and execution names.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { FloodsweepError, openStores, runSweep, validateSpec } from '../src/index.js';
import { planTasks } from '../src/planned-tasks.js';
import { concurrencyFor } from '../src/workflow/cloud-executor.js';
import {
  CloudLimitError,
  checkLambdaPayload,
  checkStatePayload,
  checkTrainLoopHistory,
  HISTORY_EVENTS_PER_TRAIN_TURN,
  HistoryCounter,
  MAX_HISTORY_EVENTS,
  MAX_LAMBDA_PAYLOAD_BYTES,
  MAX_STATE_PAYLOAD_BYTES,
} from '../src/workflow/cloud-limits.js';
import { alertSubject } from '../src/workflow/compare.js';
import {
  checkExecutionName,
  executionNameFor,
  executionNameOf,
  MAX_EXECUTION_NAME,
  sweepIdOfExecution,
} from '../src/workflow/execution-names.js';
import { localWorkflowDefinition, runWorkflowLocally } from '../src/workflow/local-executor.js';
import { OTHER_STEPS_CONCURRENCY } from '../src/workflow-steps.js';

/** 3,000 trivial tasks (1 epoch of 8 samples, a linear model): 300 flood levels x 10 seeds. */
const manyTasks = validateSpec({
  name: 'many-tasks',
  dataset: { name: 'sinusoid2d', nTrain: 8, nVal: 8, nTest: 8 },
  model: { kind: 'linear' },
  training: { epochs: 1, batchSize: 8, evalEvery: 1 },
  floodLevels: Array.from({ length: 300 }, (_, i) => i / 1000),
  seeds: Array.from({ length: 10 }, (_, i) => i),
});

describe('a sweep of 3,000 trivial tasks through the local executor', { concurrency: 1 }, () => {
  test('without ResultWriter the Map fails with States.DataLimitExceeded, and the sweep is FAILED with the cause', async () => {
    const definition = localWorkflowDefinition();
    delete definition.States.TrainAll.ResultWriter;
    const rootDir = mkdtempSync(join(tmpdir(), 'floodsweep-limits-'));
    // A sweep id as runSweep makes them (name, time, suffix): each child's output is then about 90 bytes.
    const sweepId = 'many-tasks-20261201-120000-abcd';
    const { result } = runWorkflowLocally(
      { spec: manyTasks, sweepId },
      { stores: { kind: 'local', rootDir }, workers: 2, backend: 'wasm', definition },
    );
    await assert.rejects(result, (error: unknown) => {
      assert.ok(error instanceof CloudLimitError, String(error));
      assert.match(
        error.message,
        /^States\.DataLimitExceeded: the output of state TrainAll is [\d,]+ bytes, above the 262,144 bytes \(256 KiB\)/,
      );
      return true;
    });
    const sweep = await openStores({ kind: 'local', rootDir }).metrics.getSweep(sweepId);
    assert.equal(sweep?.status, 'FAILED');
    assert.match(sweep?.error ?? '', /States\.DataLimitExceeded/);
  });

  test('the shipped definition exports the children outputs (ResultWriter) and the sweep SUCCEEDS', async () => {
    const rootDir = mkdtempSync(join(tmpdir(), 'floodsweep-limits-'));
    const result = await runSweep(manyTasks, { stores: { kind: 'local', rootDir }, workers: 2, backend: 'wasm' });
    assert.equal(result.summary.status, 'SUCCEEDED');
    assert.equal(result.summary.succeededTasks, 3000);
    const exported = JSON.parse(readFileSync(join(rootDir, 'map-results', result.sweepId, 'local', 'SUCCEEDED_0.json'), 'utf8'));
    assert.equal(exported.length, 3000, 'one output per child, written where ResultWriter puts them');
  });
});

describe('the limits', () => {
  /** A string whose JSON (with its two quotes) is exactly `limit` bytes. */
  const atLimit = (limit: number) => 'x'.repeat(limit - 2);

  test('a state carries at most 256 KiB, a Lambda call at most 6 MiB, in JSON bytes', () => {
    checkStatePayload('S', 'output', atLimit(MAX_STATE_PAYLOAD_BYTES));
    assert.throws(
      () => checkStatePayload('S', 'output', `${atLimit(MAX_STATE_PAYLOAD_BYTES)}x`),
      /States\.DataLimitExceeded: the output of state S is 262,145 bytes/,
    );
    checkLambdaPayload('Train', 'response', atLimit(MAX_LAMBDA_PAYLOAD_BYTES));
    assert.throws(
      () => checkLambdaPayload('Train', 'response', `${atLimit(MAX_LAMBDA_PAYLOAD_BYTES)}x`),
      /Lambda\.RequestTooLargeException/,
    );
  });

  test('history events are counted per execution: the parent, and each Map child on its own', () => {
    const history = new HistoryCounter();
    // A Train loop of one child: Train (5 events) + Choice (2) per call.
    const callsThatFit = Math.floor(MAX_HISTORY_EVENTS / 7);
    for (let call = 0; call < callsThatFit; call++) {
      history.state('Task', 0);
      history.state('Choice', 0);
    }
    for (let child = 1; child < 100; child++) history.state('Task', child);
    history.state('Task');
    assert.throws(() => {
      history.state('Task', 0);
      history.state('Choice', 0);
    }, /child execution 0 of the Distributed Map exceeds Step Functions' 25,000 history events/);
  });

  test('execution names: fresh for every run of a sweep, at most 80 characters, in the allowed alphabet', () => {
    const longSweepId = `${'a-very-long-spec-name-'.repeat(3)}x-20261201-120000-abcd`;
    const first = executionNameFor(longSweepId);
    const second = executionNameFor(longSweepId);
    assert.notEqual(first, second, 'a closed execution name cannot be reused for 90 days');
    assert.ok(first.length <= MAX_EXECUTION_NAME);
    assert.ok(first.startsWith(longSweepId.slice(0, MAX_EXECUTION_NAME - 9)));
    assert.equal(executionNameOf(`arn:aws:states:us-east-1:123456789012:execution:Sweeps:${first}`), first);
    assert.throws(() => checkExecutionName('has space'), FloodsweepError);
    assert.throws(() => checkExecutionName('x'.repeat(81)), FloodsweepError);
  });

  test('a Plan retried for the same execution derives the same sweep id', () => {
    assert.equal(sweepIdOfExecution('nightly', 'a1b2:c3'), sweepIdOfExecution('nightly', 'a1b2:c3'));
    assert.equal(sweepIdOfExecution('nightly', 'a1b2:c3'), 'nightly-a1b2-c3');
  });
});

describe("a real account's limits, checked before a cloud sweep starts", () => {
  test('the Train loop of a task must fit a Map child history of 25,000 events: refused at Plan, naming the field and the way out', async () => {
    const tasks = planTasks(validateSpec({ name: 'long', training: { epochs: 4000, evalEvery: 100 }, floodLevels: [0], seeds: [0] }));
    // 4,000 turns of 7 events: 28,100 events.
    assert.throws(
      () => checkTrainLoopHistory(tasks, 1),
      (error: Error) =>
        error instanceof FloodsweepError &&
        error.kind === 'input' &&
        /^training\.epochs: 4000 epochs at 1 per Train call take 4,000 turns .* about 28,100 history events .* above the 25,000 .*; train at least 2 epochs per call/.test(
          error.message,
        ),
    );
    assert.doesNotThrow(() => checkTrainLoopHistory(tasks, 2));
    assert.equal(HISTORY_EVENTS_PER_TRAIN_TURN, 7);
    // The local executor refuses it in Plan, before anything is written.
    const rootDir = mkdtempSync(join(tmpdir(), 'floodsweep-history-'));
    const spec = validateSpec({ name: 'long', training: { epochs: 4000, evalEvery: 100 }, floodLevels: [0], seeds: [0] });
    await assert.rejects(
      runSweep(spec, { stores: { kind: 'local', rootDir }, epochsPerCall: 1, workers: 1 }),
      /^UsageError: training\.epochs|training\.epochs: 4000 epochs/,
    );
    assert.deepEqual(await openStores({ kind: 'local', rootDir }).metrics.listSweeps(), []);
  });

  test("maxConcurrency within the account's unreserved Lambda concurrency: kept, lowered with the quota named, or refused", () => {
    const target = { region: 'eu-west-1' };
    assert.deepEqual(concurrencyFor(50, { total: 1000, unreserved: 1000 }, target), { maxConcurrency: 50 });
    // A new account: 10 concurrent executions in all, nothing left for Train beside the other steps.
    assert.throws(
      () => concurrencyFor(50, { total: 10, unreserved: 10 }, target),
      (error: Error) =>
        error instanceof FloodsweepError &&
        error.kind === 'state' &&
        error.message ===
          `--cloud: the account's unreserved Lambda concurrency is 10 in eu-west-1: Train needs at least 1 and the other steps ${OTHER_STEPS_CONCURRENCY} beside it; ` +
            'request a higher Lambda quota "Concurrent executions" (now 10 in eu-west-1; Service Quotas, AWS Lambda)',
    );
    const lowered = concurrencyFor(100, { total: 50, unreserved: 50 }, target);
    assert.equal(lowered.maxConcurrency, 50 - OTHER_STEPS_CONCURRENCY);
    assert.match(
      lowered.notice ?? '',
      /^maxConcurrency lowered from 100 to 40: .*unreserved Lambda concurrency is 50 in eu-west-1.*"Concurrent executions" \(now 50 in eu-west-1/,
    );
    // Train with reserved concurrency: its own pool; the rest of the account must leave room for the other steps.
    assert.deepEqual(concurrencyFor(100, { total: 1000, unreserved: 800 }, { ...target, trainReservedConcurrency: 200 }), {
      maxConcurrency: 100,
    });
    assert.match(
      concurrencyFor(300, { total: 1000, unreserved: 800 }, { ...target, trainReservedConcurrency: 200 }).notice ?? '',
      /reserved concurrency is 200; .* -c trainReservedConcurrency/,
    );
    assert.throws(
      () => concurrencyFor(5, { total: 205, unreserved: 5 }, { ...target, trainReservedConcurrency: 200 }),
      /unreserved Lambda concurrency is 5/,
    );
  });

  test('a drift alert subject fits the 100 characters SNS allows, with the verdict', () => {
    assert.equal(alertSubject('nightly', 'DRIFTED'), 'floodsweep reproducibility run nightly: DRIFTED');
    const long = alertSubject('n'.repeat(128), 'INCOMPLETE');
    assert.ok(long.length <= 100, String(long.length));
    assert.match(long, /^floodsweep reproducibility run n+\.\.\.: INCOMPLETE$/);
  });
});
