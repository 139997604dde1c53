/** The local machine's share of a run: worker processes and the memory they split (light: `sweep validate` loads it). */
import { availableParallelism, freemem } from 'node:os';

/**
 * How many worker processes a run starts: the requested number (default: one per core), never more
 * than there are tasks (an idle thread still holds a tfjs runtime), and never more than the cores
 * unless `oversubscribe` (more single-threaded wasm workers than cores only share the cores).
 */
export function workerCount({
  requested,
  tasks,
  cores = availableParallelism(),
  oversubscribe = false,
}: {
  requested?: number;
  tasks: number;
  cores?: number;
  oversubscribe?: boolean;
}): number {
  const wanted = requested ?? cores;
  return Math.max(1, Math.min(oversubscribe ? wanted : Math.min(wanted, cores), tasks));
}

/** What the system can give this process now: free memory, or the container's limit when lower. */
export function availableMemory(): number {
  return process.availableMemory?.() ?? freemem();
}
