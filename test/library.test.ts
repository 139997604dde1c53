/**
 * floodsweep as a library: `import { runSweep } from 'floodsweep'` (the package's own exports,
 * the compiled dist/) runs a sweep in process with typed options and progress events, and its
 * errors carry the kind that decides the exit code.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { exitCodeOf, FloodsweepError, loadSpecFile, resumeSweep, runSweep, type SweepEvent } from 'floodsweep';

const TINY = new URL('../examples/tiny.json', import.meta.url).pathname;

test('runSweep runs a small sweep through the workflow, reporting progress, and returns its summary', async () => {
  const rootDir = mkdtempSync(join(tmpdir(), 'floodsweep-library-'));
  const events: SweepEvent[] = [];
  const result = await runSweep(loadSpecFile(TINY), {
    stores: { kind: 'local', rootDir },
    workers: 1,
    backend: 'wasm',
    onEvent: (e) => events.push(e),
  });
  assert.equal(result.summary.status, 'SUCCEEDED');
  assert.equal(result.summary.succeededTasks, 4);
  assert.ok(result.reportLocation.startsWith(rootDir) && result.reportLocation.endsWith('report.html'));
  const started = events.find((e) => e.type === 'started');
  assert.deepEqual(started && { taskCount: started.taskCount, where: started.where }, { taskCount: 4, where: 'wasm' });
  const last = events.filter((e) => e.type === 'progress').at(-1);
  assert.ok(last?.type === 'progress');
  assert.deepEqual([last.progress.succeeded, last.progress.failed, last.progress.tasksTotal, last.progress.running], [4, 0, 4, 0]);
  assert.equal(last.progress.epochsDone, last.progress.epochsTotal, 'every planned epoch was trained');

  // The same stores again: a resume finds everything done and retrains nothing.
  const again = await resumeSweep(result.sweepId, { stores: { kind: 'local', rootDir }, workers: 1, backend: 'wasm' });
  assert.deepEqual(again.summary.groups, result.summary.groups);
});

test('an unknown sweep id is bad input (exit code 2), named in one line', async () => {
  const rootDir = mkdtempSync(join(tmpdir(), 'floodsweep-library-'));
  await assert.rejects(resumeSweep('no-such-sweep', { stores: { kind: 'local', rootDir } }), (error: unknown) => {
    assert.ok(error instanceof FloodsweepError);
    assert.equal(error.kind, 'input');
    assert.equal(exitCodeOf(error), 2);
    assert.match(error.message, /^sweep "no-such-sweep" not found in /);
    return true;
  });
});

test('an invalid spec is refused by Plan with the field named, as bad input', async () => {
  const rootDir = mkdtempSync(join(tmpdir(), 'floodsweep-library-'));
  const spec = { ...loadSpecFile(TINY), seeds: [-1] };
  await assert.rejects(runSweep(spec, { stores: { kind: 'local', rootDir }, workers: 1, backend: 'wasm' }), (error: unknown) => {
    assert.ok(error instanceof FloodsweepError);
    assert.equal(exitCodeOf(error), 2);
    assert.match(error.message, /seeds/);
    return true;
  });
});
