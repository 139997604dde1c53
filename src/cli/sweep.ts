import type { Command } from 'commander';
import { registerSweepCost } from '../cost/command.js';
import { registerList } from './sweep/list.js';
import { registerPlots } from './sweep/plots.js';
import { registerResults } from './sweep/results.js';
import { registerRun } from './sweep/run.js';
import { registerStatus } from './sweep/status.js';
import { registerStop } from './sweep/stop.js';
import { registerValidate } from './sweep/validate.js';

/** `floodsweep sweep`: one module per subcommand (src/cli/sweep/, and src/cost/command.ts for `sweep cost`). */
export function registerSweep(program: Command): void {
  const sweep = program.command('sweep').description('plan, run and inspect sweeps over flood levels x seeds x settings');
  registerValidate(sweep);
  registerSweepCost(sweep);
  registerRun(sweep);
  registerList(sweep);
  registerStatus(sweep);
  registerStop(sweep);
  registerResults(sweep);
  registerPlots(sweep);
}
