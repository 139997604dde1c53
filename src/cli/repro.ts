import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { addBackendOption, addResourceOptions, backendRequest, type ResourceFlags, resourceSettings } from './options.js';
import { runTarget, runWithProgress } from './run-progress.js';
import { addStoreOptions, checkOutputFile, openFor, type StoreOptions } from './stores.js';

const exitCodeOf = (verdict: string) => (verdict === 'REPRODUCED' ? 0 : 1);

export function registerRepro(program: Command): void {
  const repro = program.command('repro').description('reproducibility runs: re-run pinned sweeps and compare them with a baseline');

  const run = repro
    .command('run <repro-spec>')
    .description('run the pinned sweep and compare it with its baseline; exit 0 when reproduced, 1 when drifted or incomplete')
    .option('--out <dir>', 'with --cloud: where summary, plots and report are copied')
    .option('--json', 'print the verdict as JSON')
    .addHelpText('after', '\nExample:\n  $ floodsweep repro run examples/repro/pinned-small.json --results ./repro-results');
  addResourceOptions(run);
  addStoreOptions(run);
  addBackendOption(run);
  run.action(async (reproSpecPath: string, options: StoreOptions & ResourceFlags & { out?: string; backend?: string; json?: boolean }) => {
    const backend = backendRequest(options.backend);
    const { runReproducibility } = await import('../run.js');
    const target = await runTarget(options);
    const result = await runWithProgress(options, target, { backend, ...resourceSettings(options) }, (runOptions) =>
      runReproducibility(reproSpecPath, runOptions),
    );
    process.stdout.write(
      options.json ? `${JSON.stringify(result.compare)}\n` : `${result.compare.message}\nreport: ${result.reportLocation}\n`,
    );
    process.exitCode = exitCodeOf(result.compare.verdict);
  });

  addStoreOptions(repro.command('check <sweepId>').description('compare an existing sweep with a baseline (a sweep id or a baseline file)'))
    .requiredOption('--baseline <sweepId|file>', 'the baseline: an earlier sweep id, or a file written by `repro baseline`')
    .option('--name <name>', 'history name to record the verdict under (default: the sweep spec name)')
    .option('--json', 'print the full comparison as JSON')
    .addHelpText('after', '\nExample:\n  $ floodsweep repro check <sweepId> --baseline baselines/pinned-small-wasm.json')
    .action(async (sweepId: string, options: StoreOptions & { baseline: string; name?: string; json?: boolean }) => {
      const stores = await openFor(options);
      const { compareAndRecord, loadSnapshot } = await import('../workflow/compare.js');
      const { readInputFile } = await import('../input-files.js');
      const { describeComparison, parseBaseline } = await import('../sweep/repro.js');
      const sweep = await stores.metrics.getSweep(sweepId);
      if (!sweep) throw new UsageError(`sweep ${JSON.stringify(sweepId)} not found in ${stores.artifacts.locate('')}`);
      const isFile = options.baseline.endsWith('.json');
      const baseline = isFile
        ? parseBaseline(readInputFile(options.baseline, '--baseline'), options.baseline)
        : await loadSnapshot(stores, options.baseline);
      const { comparison } = await compareAndRecord(stores, {
        sweepId,
        name: options.name ?? sweep.name,
        baseline,
        baselineName: isFile ? resolve(options.baseline) : `sweep ${options.baseline}`,
      });
      process.stdout.write(options.json ? `${JSON.stringify(comparison)}\n` : `${describeComparison(comparison).join('\n')}\n`);
      process.exitCode = exitCodeOf(comparison.verdict);
    });

  addStoreOptions(repro.command('baseline <sweepId>').description("write a sweep's results as a baseline file to commit"))
    .requiredOption('--out <file>', 'the baseline file to write')
    .addHelpText('after', '\nExample:\n  $ floodsweep repro baseline <sweepId> --out baselines/mine.json')
    .action(async (sweepId: string, options: StoreOptions & { out: string }) => {
      checkOutputFile('--out', options.out);
      const stores = await openFor(options);
      const { loadSnapshot } = await import('../workflow/compare.js');
      const { stringifyKeepingNonFinite } = await import('../flooding/json.js');
      const snapshot = await loadSnapshot(stores, sweepId);
      const unfinished = snapshot.tasks.filter((t) => !t.final).length;
      if (unfinished > 0)
        throw new UsageError(
          `sweep ${JSON.stringify(sweepId)} has ${unfinished} unfinished or failed tasks; a baseline needs a complete sweep`,
        );
      await writeFile(options.out, `${stringifyKeepingNonFinite(snapshot, 1)}\n`);
      process.stdout.write(
        `baseline of ${sweepId} (${snapshot.tasks.length} tasks, backend ${snapshot.backends.join(', ')}) written to ${resolve(options.out)}\n`,
      );
    });

  addStoreOptions(repro.command('history <name>').description('the verdicts of a reproducibility run, newest first'))
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExample:\n  $ floodsweep repro history pinned-small-wasm')
    .action(async (name: string, options: StoreOptions & { json?: boolean }) => {
      const stores = await openFor(options);
      const records = await stores.metrics.listRepro(name);
      if (options.json) {
        process.stdout.write(`${JSON.stringify(records)}\n`);
        return;
      }
      if (records.length === 0) process.stdout.write(`no reproducibility runs named ${JSON.stringify(name)} yet\n`);
      for (const r of records) process.stdout.write(`${r.createdAt}  ${r.verdict.padEnd(10)} ${r.sweepId}  vs ${r.baseline}\n`);
    });
}
