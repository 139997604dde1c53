import type { Command } from 'commander';
import { addCostOptions, type CostFlags, costOptions, parsePositiveNumber, priceTableOf } from '../../cost/command.js';
import type { StoredCostEstimate } from '../../cost/model.js';
import { DEFAULT_EPOCHS_PER_CALL, DEFAULT_MAX_TASKS, DEFAULT_RESULTS_DIR } from '../../env.js';
import { UsageError } from '../../errors.js';
import type { PlannedTask, SweepSpec } from '../../sweep/spec.js';
import {
  addBackendOption,
  addResourceOptions,
  backendRequest,
  parseId,
  parsePositiveInteger,
  type ResourceFlags,
  resourceSettings,
} from '../options.js';
import { checkCloudRunFlags, runTarget, runWithProgress } from '../run-progress.js';
import { addStoreOptions, type StoreOptions } from '../stores.js';
import { formatSummary } from '../summary-format.js';

/** `sweep run [spec]`: a new sweep, or `--resume` one, locally or on the deployed stack. */
export function registerRun(sweep: Command): void {
  const run = sweep
    .command('run [spec]')
    .description(
      'run a sweep through the workflow: locally in process (results in files, or DynamoDB + S3 with --store aws), or on the deployed stack with --cloud',
    )
    .option(
      '--resume <sweepId>',
      'finish an interrupted or failed sweep: only the missing work runs, from checkpoints (a spec given too must be its own)',
      parseId,
    )
    .option(
      '--restart-task <taskIds>',
      'with --resume: retrain these tasks from scratch, dropping their checkpoints and epoch rows (repeatable, or comma-separated)',
      (value: string, previous: string[] = []) => [...previous, ...value.split(',').map(parseId)],
    )
    .option('--restart-failed', 'with --resume: retrain every failed task from scratch')
    .option('--max-tasks <n>', `refuse sweeps above n tasks (default ${DEFAULT_MAX_TASKS})`, parsePositiveInteger)
    .option(
      '--epochs-per-call <n>',
      'epochs per Train call, i.e. how often tasks checkpoint',
      parsePositiveInteger,
      DEFAULT_EPOCHS_PER_CALL,
    )
    .option('--out <dir>', `with --cloud: where summary, plots and report are copied (default ${DEFAULT_RESULTS_DIR})`)
    .option(
      '--max-cost <usd>',
      "with --cloud: refuse the sweep if its estimate is above this (default: the spec's execution.maxCostUsd, else none)",
      parsePositiveNumber,
    )
    .option('--json', 'print the summary as JSON')
    .addHelpText(
      'after',
      '\nExamples:\n  $ floodsweep sweep run examples/tiny.json\n  $ floodsweep sweep run --resume <sweepId> --results ./floodsweep-results',
    );
  addResourceOptions(run);
  addStoreOptions(run);
  addBackendOption(run);
  addCostOptions(run, { region: false });
  run.action(async (specPath: string | undefined, options: SweepRunFlags) => {
    if (!specPath && !options.resume) throw new UsageError('spec: give a sweep spec file, or --resume <sweepId>');
    if ((options.restartTask || options.restartFailed) && !options.resume) {
      throw new UsageError(`${options.restartTask ? '--restart-task' : '--restart-failed'}: only with --resume <sweepId>`);
    }
    if (options.maxCost !== undefined && !options.cloud) throw new UsageError('--max-cost: only with --cloud; a local run costs nothing');
    const backend = backendRequest(options.backend);
    // Every flag, store name and path is checked before the calibration of the estimate trains anything;
    // a cloud run looks its stack up after its cost limit is checked.
    if (options.cloud) checkCloudRunFlags(options);
    const localTarget = options.cloud ? undefined : await runTarget(options);
    const { loadSpecFile } = await import('../../input-files.js');
    const spec = specPath ? loadSpecFile(specPath) : undefined;
    // Planned once (data files read and hashed once) for the estimate, the checks and Plan.
    const { planTasks } = await import('../../planned-tasks.js');
    const plannedTasks = spec ? planTasks(spec, { maxTasks: options.maxTasks }) : undefined;
    // A resumed sweep keeps the estimate it started with.
    const costEstimate = spec && !options.resume ? await estimateBeforeRun(spec, plannedTasks!, options) : undefined;
    const target = localTarget ?? (await runTarget(options));
    const { resumeSweep, runSweep } = await import('../../run.js');
    const result = await runWithProgress(
      options,
      target,
      {
        backend,
        ...resourceSettings(options),
        epochsPerCall: options.epochsPerCall,
        maxTasks: options.maxTasks,
        restartTasks: options.restartTask,
        restartFailed: options.restartFailed,
        costEstimate,
        plannedTasks,
      },
      async (runOptions) => {
        if (!spec) return resumeSweep(options.resume!, runOptions);
        if (options.resume) {
          // With both, the sweep must exist and the spec must be its own (runSweep names the first difference).
          const { openStores } = await import('../../store/open.js');
          const { readStoredSpec } = await import('../../run.js');
          await readStoredSpec(openStores(runOptions.cloud?.target.stores ?? runOptions.stores!), options.resume);
        }
        return runSweep(spec, { ...runOptions, sweepId: options.resume });
      },
    );
    if (options.json) process.stdout.write(`${JSON.stringify(result.summary)}\n`);
    else process.stdout.write(formatSummary(result.summary, result.reportLocation));
    process.exitCode = result.summary.status === 'SUCCEEDED' ? 0 : 1;
  });
}

/**
 * The estimate a new sweep starts with (stored in its sweep record), printed on stderr; a cloud
 * sweep above its cost limit is refused here, before anything is started or written.
 */
async function estimateBeforeRun(
  spec: SweepSpec,
  plannedTasks: readonly PlannedTask[],
  options: SweepRunFlags,
): Promise<StoredCostEstimate | undefined> {
  const { readEnvironment } = await import('../../env.js');
  const maxCostUsd = options.maxCost ?? (options.cloud ? spec.execution.maxCostUsd : undefined);
  const source = options.maxCost !== undefined ? '--max-cost' : 'execution.maxCostUsd';
  const region = options.cloud ? (options.region ?? readEnvironment().aws.region) : undefined;
  const { DEFAULT_REGION } = await import('../../cost/model.js');
  if (maxCostUsd === undefined && !Object.hasOwn((await priceTableOf(options)).regions, region ?? DEFAULT_REGION)) {
    // A region without list prices: no estimate, unless a limit needs one (then costOptions refuses it).
    process.stderr.write(`no list prices for region ${JSON.stringify(region)}; no cost estimate (add them with --prices FILE)\n`);
    return undefined;
  }
  const settings = await costOptions(options, region);
  const { estimateSweepCost } = await import('../../cost/estimate.js');
  const { checkMaxCost, estimateLine } = await import('../../cost/format.js');
  const estimate = await estimateSweepCost(spec, {
    plannedTasks,
    ...settings,
    ignoreMemoryLimit: options.ignoreMemoryLimit,
    maxTasks: options.maxTasks,
    epochsPerCall: options.cloud ? undefined : options.epochsPerCall,
  });
  if (maxCostUsd !== undefined) checkMaxCost(estimate, maxCostUsd, source);
  process.stderr.write(`${estimateLine(estimate.stored)}\n`);
  return estimate.stored;
}

interface SweepRunFlags extends StoreOptions, ResourceFlags, CostFlags {
  maxCost?: number;
  resume?: string;
  restartTask?: string[];
  restartFailed?: boolean;
  maxTasks?: number;
  epochsPerCall: number;
  out?: string;
  json?: boolean;
  backend?: string;
}
