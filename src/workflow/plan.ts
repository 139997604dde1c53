import type { Stores } from '../store/open.js';
import { sweepKeys } from '../store/ports.js';
import { referencesOf } from '../sweep/pruning.js';
import { expandSpec, type SweepSpec, validateSpec } from '../sweep/spec.js';
import { sweepIdOfExecution } from './names.js';
import { type ManifestItem, type PlanOutput, parsePayload, planInputSchema } from './payloads.js';

export interface PlanOptions {
  /** The deployment's ceiling on parallel tasks, whatever a spec asks for. */
  maxConcurrencyCap?: number;
  now?: () => Date;
}

/**
 * The Plan state: validates the spec, expands it into tasks, writes the spec, the manifest (ids
 * only), a PENDING record per task (kept as they are when a sweep is resumed) and the sweep record.
 */
export async function plan(stores: Stores, event: unknown, options: PlanOptions = {}): Promise<PlanOutput> {
  const { input, executionName } = parsePayload(planInputSchema, event, 'Plan input');
  const now = options.now ?? (() => new Date());
  const spec: SweepSpec = validateSpec(input.spec);
  const tasks = expandSpec(spec, { maxTasks: input.maxTasks });
  const sweepId = input.sweepId ?? sweepIdOfExecution(spec.name, executionName);
  const keys = sweepKeys(sweepId);
  const references = spec.pruning ? referencesOf(tasks) : undefined;
  // Reference tasks first: the Map starts items in order, so the values other tasks are judged
  // on are there early (the verdicts do not depend on the order; how early they come does).
  const ordered = references
    ? [...tasks].sort((a, b) => Number(references.get(a.taskId)!.length > 0) - Number(references.get(b.taskId)!.length > 0))
    : tasks;
  const manifest: ManifestItem[] = ordered.map((t) => ({ sweepId, taskId: t.taskId }));
  await stores.artifacts.put(keys.spec, `${JSON.stringify(spec, null, 2)}\n`, 'application/json');
  await stores.artifacts.put(keys.manifest, JSON.stringify(manifest), 'application/json');
  // A resumed sweep keeps what its tasks already achieved: one listing, not a read per task.
  const existing = new Set((await stores.metrics.listTasks(sweepId)).map((task) => task.taskId));
  const updatedAt = now().toISOString();
  await stores.metrics.putTasks(
    tasks
      .filter((task) => !existing.has(task.taskId))
      .map((task) => ({
        sweepId,
        taskId: task.taskId,
        status: 'PENDING',
        config: task.config,
        group: task.group,
        epochsDone: 0,
        epochsTotal: task.config.training.epochs,
        attempts: 0,
        updatedAt,
        ...(spec.pruning && references
          ? { pruning: { rule: spec.pruning, references: references.get(task.taskId)!, passedThrough: 0 } }
          : {}),
      })),
  );
  const created = await stores.metrics.createSweep({
    sweepId,
    name: spec.name,
    createdAt: now().toISOString(),
    status: 'RUNNING',
    taskCount: tasks.length,
    specKey: keys.spec,
    updatedAt: now().toISOString(),
  });
  if (!created) {
    await stores.metrics.updateSweep(sweepId, ['RUNNING', 'SUCCEEDED', 'PARTIAL', 'FAILED'], { status: 'RUNNING', error: undefined });
  }
  const maxConcurrency = Math.min(spec.execution.maxConcurrency, options.maxConcurrencyCap ?? Infinity);
  const epochCount = tasks.reduce((sum, task) => sum + task.config.training.epochs, 0);
  return { sweepId, manifestKey: keys.manifest, taskCount: tasks.length, epochCount, maxConcurrency };
}
