import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import { z } from 'zod';
import { describeIssues } from '../flooding/config.js';
import { stringifyKeepingNonFinite } from '../flooding/json.js';
import { openStores } from '../store/open.js';
import { BaselineError, compareAndRecord, describeComparison, parseBaseline, snapshotSweep, type SweepSnapshot, toleranceSchema } from '../sweep/repro.js';
import { validateSpec } from '../sweep/spec.js';
import { UsageError } from './errors.js';
import { addBackendOption, backendRequest, parsePositiveInteger } from './options.js';
import { addStoreOptions, executeSweep, readSpecFile, storeConfig, type StoreOptions } from './sweep.js';

/** A pinned sweep, the baseline it must reproduce, and how close "reproduced" is. */
const reproSpecSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'letters, digits, ".", "_" and "-", at most 64'),
  /** A sweep spec file (relative to this file) or the spec itself. */
  spec: z.union([z.string(), z.record(z.string(), z.unknown())]),
  baseline: z.union([z.strictObject({ file: z.string() }), z.strictObject({ sweepId: z.string() })]),
  tolerances: toleranceSchema.optional(),
});

function readJson(path: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new UsageError(`${what}: cannot read "${path}": ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new UsageError(`${what}: "${path}" is not valid JSON: ${(error as Error).message}`);
  }
}

function readBaselineFile(path: string): SweepSnapshot {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new BaselineError([`baseline: cannot read "${path}": ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`]);
  }
  return parseBaseline(text, path);
}

const exitCodeOf = (verdict: string) => (verdict === 'REPRODUCED' ? 0 : 1);

export function registerRepro(program: Command): void {
  const repro = program.command('repro').description('reproducibility runs: re-run pinned sweeps and compare them with a baseline');

  const run = repro
    .command('run <repro-spec>')
    .description('run the pinned sweep and compare it with its baseline; exit 0 when reproduced, 1 when drifted or incomplete')
    .option('--workers <n>', 'worker threads (default: number of cores)', parsePositiveInteger)
    .option('--json', 'print the verdict as JSON');
  addStoreOptions(run, '--out <dir>');
  addBackendOption(run);
  run.action(async (reproSpecPath: string, options: StoreOptions & { out?: string; workers?: number; backend?: string; json?: boolean }) => {
    const parsed = reproSpecSchema.safeParse(readJson(reproSpecPath, 'repro spec'));
    if (!parsed.success) throw new BaselineError(describeIssues(parsed.error).map((p) => `${reproSpecPath}: ${p}`));
    const reproSpec = parsed.data;
    const near = (path: string) => resolve(dirname(reproSpecPath), path);
    const spec = typeof reproSpec.spec === 'string' ? readSpecFile(near(reproSpec.spec)) : validateSpec(reproSpec.spec);
    const stores = openStores(await storeConfig(options, options.out));
    let baseline: { sweepId: string } | { key: string };
    if ('file' in reproSpec.baseline) {
      const snapshot = readBaselineFile(near(reproSpec.baseline.file));
      const key = `repro/${reproSpec.name}/baseline.json`;
      await stores.artifacts.put(key, stringifyKeepingNonFinite(snapshot), 'application/json');
      baseline = { key };
    } else {
      if (!(await stores.metrics.getSweep(reproSpec.baseline.sweepId))) throw new UsageError(`baseline.sweepId: sweep "${reproSpec.baseline.sweepId}" not found`);
      baseline = { sweepId: reproSpec.baseline.sweepId };
    }
    const result = await executeSweep({ spec, repro: { name: reproSpec.name, baseline, tolerances: reproSpec.tolerances } }, options, {
      backend: backendRequest(options.backend),
      workers: options.workers,
    });
    const compared = result.compare!;
    process.stdout.write(options.json ? `${JSON.stringify(compared)}\n` : `${compared.message}\nreport: ${result.reportLocation}\n`);
    process.exitCode = exitCodeOf(compared.verdict);
  });

  addStoreOptions(
    repro.command('check <sweepId>').description('compare an existing sweep with a baseline (a sweep id or a baseline file)'),
    '--results <dir>',
  )
    .requiredOption('--baseline <sweepId|file>', 'the baseline: an earlier sweep id, or a file written by `repro baseline`')
    .option('--name <name>', 'history name to record the verdict under (default: the sweep spec name)')
    .option('--json', 'print the full comparison as JSON')
    .action(async (sweepId: string, options: StoreOptions & { results?: string; baseline: string; name?: string; json?: boolean }) => {
      const stores = openStores(await storeConfig(options, options.results));
      const sweep = await stores.metrics.getSweep(sweepId);
      if (!sweep) throw new UsageError(`sweep "${sweepId}" not found`);
      const isFile = options.baseline.endsWith('.json');
      const baseline = isFile ? readBaselineFile(options.baseline) : await snapshotSweep(stores, options.baseline);
      const { comparison } = await compareAndRecord(stores, {
        sweepId,
        name: options.name ?? sweep.name,
        baseline,
        baselineName: isFile ? resolve(options.baseline) : `sweep ${options.baseline}`,
      });
      process.stdout.write(options.json ? `${JSON.stringify(comparison)}\n` : `${describeComparison(comparison).join('\n')}\n`);
      process.exitCode = exitCodeOf(comparison.verdict);
    });

  addStoreOptions(repro.command('baseline <sweepId>').description("write a sweep's results as a baseline file to commit"), '--results <dir>')
    .requiredOption('--out <file>', 'the baseline file to write')
    .action(async (sweepId: string, options: StoreOptions & { results?: string; out: string }) => {
      const stores = openStores(await storeConfig(options, options.results));
      const snapshot = await snapshotSweep(stores, sweepId);
      const unfinished = snapshot.tasks.filter((t) => !t.final).length;
      if (unfinished > 0) throw new UsageError(`sweep "${sweepId}" has ${unfinished} unfinished or failed tasks; a baseline needs a complete sweep`);
      await writeFile(options.out, `${stringifyKeepingNonFinite(snapshot, 1)}\n`);
      process.stdout.write(`baseline of ${sweepId} (${snapshot.tasks.length} tasks, backend ${snapshot.backends.join(', ')}) written to ${resolve(options.out)}\n`);
    });

  addStoreOptions(repro.command('history <name>').description('the verdicts of a reproducibility run, newest first'), '--results <dir>')
    .option('--json', 'print JSON')
    .action(async (name: string, options: StoreOptions & { results?: string; json?: boolean }) => {
      const stores = openStores(await storeConfig(options, options.results));
      const records = await stores.metrics.listRepro(name);
      if (options.json) {
        process.stdout.write(`${JSON.stringify(records)}\n`);
        return;
      }
      if (records.length === 0) process.stdout.write(`no reproducibility runs named "${name}" yet\n`);
      for (const r of records) process.stdout.write(`${r.createdAt}  ${r.verdict.padEnd(10)} ${r.sweepId}  vs ${r.baseline}\n`);
    });
}
