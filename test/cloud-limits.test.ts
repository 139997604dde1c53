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
import {
  CloudLimitError,
  checkLambdaPayload,
  checkStatePayload,
  HistoryCounter,
  MAX_HISTORY_EVENTS,
  MAX_LAMBDA_PAYLOAD_BYTES,
  MAX_STATE_PAYLOAD_BYTES,
} from '../src/workflow/cloud-limits.js';
import {
  checkExecutionName,
  executionNameFor,
  isExecutionOf,
  MAX_EXECUTION_NAME,
  sweepIdOfExecution,
} from '../src/workflow/execution-names.js';
import { localWorkflowDefinition, runWorkflowLocally } from '../src/workflow/local-executor.js';

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
    assert.ok(isExecutionOf(first, longSweepId) && isExecutionOf(second, longSweepId));
    assert.ok(!isExecutionOf(first, 'another-sweep'));
    assert.throws(() => checkExecutionName('has space'), FloodsweepError);
    assert.throws(() => checkExecutionName('x'.repeat(81)), FloodsweepError);
  });

  test('a Plan retried for the same execution derives the same sweep id', () => {
    assert.equal(sweepIdOfExecution('nightly', 'a1b2:c3'), sweepIdOfExecution('nightly', 'a1b2:c3'));
    assert.equal(sweepIdOfExecution('nightly', 'a1b2:c3'), 'nightly-a1b2-c3');
  });
});
