import type { PlannedTask } from '../sweep/spec.js';
import type { ResourceFlags } from './options.js';

/**
 * What `sweep validate` says about a sweep's resources: the memory its largest task needs and the
 * share it gets here, and the work in epochs x samples. Refuses (bad input) a task that does not
 * fit, unless --ignore-memory-limit.
 */
export async function checkSweepResources(tasks: readonly PlannedTask[], flags: ResourceFlags): Promise<string[]> {
  const { checkMemory, describeMemory, estimateSweep, formatBytes, localMemoryBudget } = await import('../sweep/resources.js');
  const { availableMemory, workerCount } = await import('../workflow/workers.js');
  const resources = estimateSweep(tasks);
  const workers = workerCount({ requested: flags.workers, tasks: tasks.length, oversubscribe: flags.oversubscribe });
  const budget = localMemoryBudget(availableMemory(), workers);
  if (!flags.ignoreMemoryLimit) checkMemory(resources, budget);
  const { taskId, resources: largest } = resources.largest;
  const fits = largest.memory.total <= budget.bytesPerTask ? '' : ' (does not fit; --ignore-memory-limit runs it anyway)';
  const unread = largest.dataKnown ? '' : '; the CSV data is not counted';
  // Thousands separated by commas, as en-US prints them; toLocaleString would load ICU's data (a tenth of start-up).
  const count = (n: number) => String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return [
    `memory per task: up to about ${formatBytes(largest.memory.total)} (task ${taskId}: ${count(largest.parameters)} parameters; ${describeMemory(largest)}${unread})`,
    `memory here: ${formatBytes(budget.bytesPerTask)} per task with ${workers} worker${workers === 1 ? '' : 's'} (${budget.source})${fits}`,
    `work: ${count(resources.epochs)} epochs, ${count(resources.epochSamples)} epochs x training samples, ${count(resources.evaluatedEpochs)} evaluated epochs stored`,
  ];
}
