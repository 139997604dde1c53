import { type Command, InvalidArgumentError, Option } from 'commander';
import { addBackendOption, backendRequest, parseNumber, parsePositiveInteger } from '../cli/options.js';
import { DEFAULT_MAX_TASKS } from '../env.js';
import type { CostEstimateOptions } from './estimate.js';
import type { PriceTable } from './model.js';

/** Lambda's memory range, MB. */
const MIN_MEMORY_MB = 128;
const MAX_MEMORY_MB = 10240;

function parseMemory(value: string): number {
  const n = parseNumber(value);
  if (!Number.isInteger(n) || n < MIN_MEMORY_MB || n > MAX_MEMORY_MB) {
    throw new InvalidArgumentError(`expected a whole number of MB from ${MIN_MEMORY_MB} to ${MAX_MEMORY_MB}.`);
  }
  return n;
}

export function parsePositiveNumber(value: string): number {
  const n = parseNumber(value);
  if (n <= 0) throw new InvalidArgumentError('expected a number > 0.');
  return n;
}

export interface CostFlags {
  trainMemory?: number;
  region?: string;
  runtime?: 'container' | 'zip';
  secondsPerEpoch?: number;
  prices?: string;
  backend?: string;
}

/** The flags that shape an estimate, shared by `sweep cost` and `sweep run` (whose --region names the stack's region too). */
export function addCostOptions(command: Command, options: { region: boolean }): Command {
  command
    .option('--train-memory <MB>', "the train function's memory (default: the stack's, 3538 container / 1769 zip)", parseMemory)
    .addOption(new Option('--runtime <runtime>', "the train function's packaging (default container)").choices(['container', 'zip']))
    .option('--seconds-per-epoch <s>', 'seconds per epoch on the deployed function, instead of a local calibration', parsePositiveNumber)
    .option('--prices <file>', 'a JSON prices file that replaces or adds regions (docs/cloud.md)');
  if (options.region) command.option('--region <region>', 'AWS region whose prices apply (default us-east-1)');
  return command;
}

/** The built-in list prices, or those of the --prices file over them. */
export async function priceTableOf(flags: Pick<CostFlags, 'prices'>): Promise<PriceTable> {
  const { LIST_PRICES, parsePriceTable } = await import('./model.js');
  if (flags.prices === undefined) return LIST_PRICES;
  const { readInputFile } = await import('../input-files.js');
  return parsePriceTable(readInputFile(flags.prices, '--prices'), `--prices ${JSON.stringify(flags.prices)}`);
}

/** Validates the flags (region, prices file) before anything is trained or written. */
export async function costOptions(flags: CostFlags, region: string | undefined): Promise<CostEstimateOptions> {
  const { DEFAULT_REGION, regionPrices } = await import('./model.js');
  const prices = await priceTableOf(flags);
  regionPrices(prices, region ?? DEFAULT_REGION);
  return {
    region,
    runtime: flags.runtime,
    trainMemoryMb: flags.trainMemory,
    secondsPerEpoch: flags.secondsPerEpoch,
    prices,
    backend: backendRequest(flags.backend),
  };
}

export function registerSweepCost(sweep: Command): void {
  const command = sweep
    .command('cost <spec>')
    .description(
      'estimate what a sweep costs on AWS (list prices), per service, with its wall time: calibrates by training a few epochs locally',
    )
    .option('--max-tasks <n>', `refuse sweeps above n tasks (default ${DEFAULT_MAX_TASKS})`, parsePositiveInteger)
    .option('--json', 'print the estimate as JSON')
    .addHelpText(
      'after',
      '\nExamples:\n  $ floodsweep sweep cost examples/demo-sgd.json\n  $ floodsweep sweep cost examples/paper-synthetic.json --runtime zip --seconds-per-epoch 0.2 --json',
    );
  addCostOptions(command, { region: true });
  addBackendOption(command);
  command.action(async (specPath: string, flags: CostFlags & { maxTasks?: number; json?: boolean }) => {
    const options = await costOptions(flags, flags.region);
    const { loadSpecFile } = await import('../input-files.js');
    const { planTasks } = await import('../planned-tasks.js');
    const spec = loadSpecFile(specPath);
    planTasks(spec, { maxTasks: flags.maxTasks });
    const { estimateSweepCost } = await import('./estimate.js');
    const estimate = await estimateSweepCost(spec, { ...options, maxTasks: flags.maxTasks });
    const { formatEstimate } = await import('./format.js');
    if (flags.json) {
      const { stored: _stored, ...rest } = estimate;
      process.stdout.write(`${JSON.stringify({ ...rest, listPrices: true })}\n`);
    } else {
      process.stdout.write(formatEstimate(estimate));
    }
  });
}
