import { ExecutionAbortedError, ExecutionError, StateMachine, type StateMachineDefinition } from 'aws-local-stepfunctions';
import { z } from 'zod';
import { FloodsweepError } from '../errors.js';
import type { BackendRequest } from '../flooding/names.js';
import { planTasks } from '../planned-tasks.js';
import { removeInterruptedWrites } from '../store/local.js';
import { openStores, type StoreConfig, type Stores } from '../store/open.js';
import { checkModelFilesTrainOn } from '../sweep/model-files.js';
import { checkMemory, estimateSweep, localMemoryBudget } from '../sweep/resources.js';
import { type PlannedTask, validateSpec } from '../sweep/spec.js';
import { functionArnSubstitution, STEP_IDS, STEPS, type StepId } from '../workflow-steps.js';
import { CloudLimitError, checkLambdaPayload, checkStatePayload, HistoryCounter } from './cloud-limits.js';
import { loadWorkflowDefinition, toLocalDefinition, trainStateTimeoutSeconds, type WorkflowDefinition } from './definition.js';
import { executionNameFor, sweepIdOf } from './execution-names.js';
import {
  type AggregateOutput,
  alertSchema,
  type CompareOutput,
  type ExecutionInput,
  executionOutputSchema,
  manifestSchema,
  type PlanOutput,
  parsePayload,
  planOutputSchema,
  trainInputSchema,
} from './payloads.js';
import { plan } from './plan.js';
import { WorkerPool } from './pool.js';
import { recordFailure } from './record-failure.js';
import { availableMemory, workerCount } from './workers.js';

// aws-local-stepfunctions 3 targets Node 22 and calls Promise.withResolvers, which Node 20 lacks.
if (!('withResolvers' in Promise)) {
  Object.defineProperty(Promise, 'withResolvers', {
    value<T>() {
      let resolve!: (value: T | PromiseLike<T>) => void;
      let reject!: (reason?: unknown) => void;
      const promise = new Promise<T>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      return { promise, resolve, reject };
    },
  });
}

export interface LocalExecutorOptions {
  stores: StoreConfig;
  backend: BackendRequest;
  /** Worker processes training tasks; defaults to the number of cores, at most the cores (see workerCount) and the tasks. */
  workers?: number;
  /** Allows more workers than cores. */
  oversubscribe?: boolean;
  /** Runs tasks estimated to need more than their share of the available memory. */
  ignoreMemoryLimit?: boolean;
  /** The memory the workers share (default: what the system reports available to this process). */
  availableMemory?: number;
  /** Epochs per Train call: how often a task checkpoints (as a Lambda does when its time runs low). */
  epochsPerCall?: number;
  /** The workers' stderr passes through unfiltered (TensorFlow's load-time lines included). */
  debug?: boolean;
  /** The tasks of the input's spec as the run planned them (data files read once per run). */
  plannedTasks?: readonly PlannedTask[];
  /** Runs before Plan writes anything, once the backend has started (the caller takes the sweep's lease here). */
  beforePlan?: (sweepId: string) => Promise<void>;
  /** After Plan: the plan, the backend the workers run on (as backendDescription() names it), and how many workers there are. */
  onPlanned?: (plan: PlanOutput, backend: string, workers: number) => void | Promise<void>;
  onEpoch?: (taskId: string, epoch: number, total: number) => void;
  onTaskEnd?: (taskId: string, outcome: 'succeeded' | 'failed') => void;
  /** Where the alert a drifted reproducibility run sends (an SNS topic in the cloud) goes. */
  onAlert?: (subject: string, message: string) => void;
  /** The definition to run, with its substitutions filled in (default: the shipped one). */
  definition?: WorkflowDefinition;
}

export interface WorkflowResult {
  plan: PlanOutput;
  aggregate: AggregateOutput;
  /** Present for reproducibility runs (input with a `repro` block). */
  compare?: CompareOutput;
}

type JsonValue = Parameters<StateMachine['run']>[0];
/** Payloads go through JSON both ways, as they do between Step Functions and a Lambda. */
const asJson = (value: unknown): JsonValue => JSON.parse(JSON.stringify(value));

const LOCAL_ARN = (name: string) => `arn:aws:lambda:us-east-1:000000000000:function:floodsweep-${name}`;

/** The shipped definition with local ARNs for its substitutions. */
export function localWorkflowDefinition(): WorkflowDefinition {
  return loadWorkflowDefinition({
    ...Object.fromEntries(STEP_IDS.map((id) => [functionArnSubstitution(id), LOCAL_ARN(STEPS[id].module)])),
    ArtifactBucket: 'local',
    AlertTopicArn: 'arn:aws:sns:us-east-1:000000000000:floodsweep-alerts',
    Partition: 'aws',
  });
}

type StepFunction = (stores: Stores, event: unknown) => Promise<unknown>;

/** A step's function, from the module its entry in src/workflow-steps.ts names (loaded when a run first calls it). */
async function loadStep(id: StepId): Promise<StepFunction> {
  const { module, run } = STEPS[id];
  const exported = ((await import(`./${module}.js`)) as Record<string, unknown>)[run];
  if (typeof exported !== 'function') throw new Error(`workflow step ${id}: ./${module}.js exports no function ${run}`);
  return exported as StepFunction;
}

/**
 * The worker processes of a local run, from its task count; refuses (before any worker starts or
 * anything is written) a sweep whose largest task cannot fit its share of the available memory.
 */
function localWorkers(input: ExecutionInput, options: LocalExecutorOptions): number {
  const tasks = options.plannedTasks ?? planTasks(validateSpec(input.spec), { maxTasks: input.maxTasks });
  const workers = workerCount({ requested: options.workers, tasks: tasks.length, oversubscribe: options.oversubscribe });
  if (!options.ignoreMemoryLimit) {
    checkMemory(estimateSweep(tasks), localMemoryBudget(options.availableMemory ?? availableMemory(), workers));
  }
  return workers;
}

/**
 * Runs the sweep workflow in process: the shared definition, the same step functions, any stores,
 * and the cloud's limits (payload sizes, history events, execution names) enforced as it runs.
 */
export function runWorkflowLocally(
  executionInput: ExecutionInput,
  options: LocalExecutorOptions,
): { result: Promise<WorkflowResult>; abort: () => void } {
  // The sweep id travels in the input (as the cloud executor sends it), so a retried Plan reuses it.
  const input = { ...executionInput, sweepId: sweepIdOf(executionInput) };
  let workers: number;
  try {
    workers = localWorkers(input, options);
  } catch (error) {
    return { result: Promise.reject(error), abort: () => undefined };
  }
  const stores = openStores(options.stores);
  const taskOfJob = new Map<number, string>();
  const pool = new WorkerPool({
    backend: options.backend,
    backendOptions: {},
    size: workers,
    debug: options.debug,
    onEpoch: (jobId, epoch, total) => options.onEpoch?.(taskOfJob.get(jobId)!, epoch, total),
  });
  const shipped = options.definition ?? localWorkflowDefinition();
  const mapWritesResults = Object.values(shipped.States).some((state) => state.Type === 'Map' && state.ResultWriter);
  const definition = toLocalDefinition(structuredClone(shipped));
  const trainTimeoutMs = trainStateTimeoutSeconds(definition) * 1000;
  // The definition is our own file, checked against ASL by test/workflow.test.ts.
  const machine = new StateMachine(definition as StateMachineDefinition, { validationOptions: { checkArn: true, checkPaths: true } });
  // Errors thrown by our own steps, kept so that the caller gets them (with their kind), not the executor's wrapper.
  let stepError: { state: string; error: unknown } | undefined;
  /** Like a Lambda: the request and the response go through JSON, each at most 6 MiB. */
  const lambda = (state: string, run: (event: unknown) => Promise<unknown>) => async (event: JsonValue) => {
    try {
      checkLambdaPayload(state, 'request', event);
      const output = await run(event);
      checkLambdaPayload(state, 'response', output);
      return asJson(output);
    } catch (error) {
      stepError = { state, error };
      throw error;
    }
  };
  const startedAt = new Date();
  const planLambda = lambda('Plan', async (event) => {
    // A backend that cannot start (a forced tfjs-node that is not installed) fails before Plan writes anything.
    const { backend, description } = await pool.backend();
    await checkModelFilesTrainOn(planTasks(validateSpec(input.spec), { maxTasks: input.maxTasks }), backend);
    await options.beforePlan?.(input.sweepId);
    // Temp files of writes an earlier run of this sweep could not finish (killed): only the local store leaves them.
    if (options.stores.kind === 'local') await removeInterruptedWrites(options.stores.rootDir, input.sweepId, startedAt);
    // Never more Train calls than workers: a queued call's wait would count against its timeout.
    const planned = await plan(stores, event, {
      maxConcurrencyCap: pool.size,
      plannedTasks: options.plannedTasks,
      epochsPerCall: options.epochsPerCall,
    });
    await options.onPlanned?.(planned, description, pool.size);
    return planned;
  });
  // Every state of a step runs its function in process; Plan, Train and RecordFailure below also report progress.
  const stepHandlers = Object.fromEntries(
    STEP_IDS.flatMap((id) => STEPS[id].states.map((state) => [state, lambda(state, async (event) => (await loadStep(id))(stores, event))])),
  );
  const executionName = executionNameFor(input.sweepId);
  const execution = machine.run(asJson(input), {
    context: {
      Execution: { Id: `local:${executionName}`, Name: executionName, Input: asJson(input), StartTime: new Date().toISOString() },
    },
    overrides: {
      taskResourceLocalHandlers: {
        ...stepHandlers,
        Plan: async (event) => {
          const planned = parsePayload(planOutputSchema, await planLambda(event), 'Plan output');
          // The local translation's items (the cloud's ItemReader reads them from S3): not part of the Lambda's response.
          const manifest = await stores.artifacts.get(planned.manifestKey);
          const items = parsePayload(manifestSchema, JSON.parse(manifest!.toString('utf8')), 'manifest');
          return asJson({ ...planned, items });
        },
        Train: async (event) => {
          checkLambdaPayload('Train', 'request', event);
          const item = parsePayload(trainInputSchema, event, 'Train input');
          // Like a Lambda, a call stops and checkpoints before the state's timeout.
          const deadline = Date.now() + trainTimeoutMs;
          const { jobId, result } = pool.trainStep(options.stores, item, { maxEpochs: options.epochsPerCall, deadline });
          taskOfJob.set(jobId, item.taskId);
          const output = await result
            .catch((error: unknown) => {
              // A full or read-only disk fails every task alike: the run stops at the first, naming it.
              const cause = diskProblem(error);
              if (cause) {
                diskError ??= new FloodsweepError(
                  'service',
                  `${cause}; the sweep is INTERRUPTED: free space (or fix the permissions), then resume it`,
                );
                execution.abort();
              }
              throw error;
            })
            .finally(() => taskOfJob.delete(jobId));
          if (output.done) options.onTaskEnd?.(item.taskId, 'succeeded');
          checkLambdaPayload('Train', 'response', output);
          return asJson(output);
        },
        RecordFailure: lambda('RecordFailure', async (event) => {
          const recorded = await recordFailure(stores, event);
          if (recorded.taskId) options.onTaskEnd?.(recorded.taskId, 'failed');
          return recorded;
        }),
        NotifyDrift: lambda('NotifyDrift', async (event) => {
          const { Subject, Message } = parsePayload(alertSchema, event, 'NotifyDrift input');
          options.onAlert?.(Subject, Message);
          return {};
        }),
      },
    },
  });
  let limitError: CloudLimitError | undefined;
  let diskError: FloodsweepError | undefined;
  const watched = watchLimits(execution.eventLogs, {
    mapWritesResults,
    onMapResults: async (results) => {
      // What ResultWriter does in the cloud: the children's outputs go to S3, the Map's own output stays small.
      const prefix = `map-results/${input.sweepId}/local`;
      await stores.artifacts.put(`${prefix}/SUCCEEDED_0.json`, JSON.stringify(results), 'application/json');
      await stores.artifacts.put(
        `${prefix}/manifest.json`,
        JSON.stringify({ ResultFiles: { SUCCEEDED: [{ Key: `${prefix}/SUCCEEDED_0.json` }] } }),
        'application/json',
      );
    },
    onBreach: (error) => {
      limitError ??= error;
      execution.abort();
    },
  });
  const result = Promise.all([execution.result, watched])
    .then(([output]) => {
      if (limitError) throw limitError;
      const { plan: planned, aggregate: aggregated, compare: compared } = parsePayload(executionOutputSchema, output, 'workflow output');
      const { items: _items, ...planOutput } = planned;
      return { plan: planOutput, aggregate: aggregated, compare: compared };
    })
    .catch(async (error: unknown) => {
      if (limitError) {
        // In the cloud the failing state's Catch marks the sweep FAILED; here the execution was stopped.
        await recordFailure(stores, { sweepId: input.sweepId, error: { Error: limitError.stepFunctionsError, Cause: limitError.message } });
        throw limitError;
      }
      if (diskError) {
        // Best effort: on a full disk this write may fail too, and readers then see the run's process gone.
        await stores.metrics
          .updateSweep(input.sweepId, ['RUNNING'], { status: 'INTERRUPTED', error: diskError.message })
          .catch(() => undefined);
        throw diskError;
      }
      if (error instanceof ExecutionAbortedError) throw new WorkflowAbortedError();
      if (error instanceof ExecutionError && stepError) {
        if (stepError.error instanceof FloodsweepError) throw stepError.error;
        throw new FloodsweepError('internal', `${stepError.state} failed: ${String(stepError.error)}`, { cause: stepError.error });
      }
      throw new FloodsweepError('internal', `workflow: ${(error as Error).message}`, { cause: error });
    })
    .finally(() => pool.close());
  const abort = () => {
    execution.abort();
    void pool.close();
  };
  return { result, abort };
}

/**
 * A state's data as it is in the cloud: without the manifest items that the local translation
 * (ItemReader -> ItemsPath) keeps at `$.plan.items`; in the cloud the Map reads them from S3.
 */
function asInTheCloud(data: unknown): unknown {
  const parsed = z
    .object({ plan: z.object({ items: z.unknown() }).loose() })
    .loose()
    .safeParse(data);
  if (!parsed.success) return data;
  const { items: _items, ...plan } = parsed.data.plan;
  return { ...parsed.data, plan };
}

type EventLog = Awaited<ReturnType<ReturnType<StateMachine['run']>['eventLogs']['next']>>['value'];

/**
 * Follows the execution's events and checks what Step Functions would: every state's input and
 * output size (a Distributed Map's collected result included, unless ResultWriter exports it) and
 * the history events of the execution and of each Map child.
 */
async function watchLimits(
  events: AsyncGenerator<EventLog>,
  hooks: { mapWritesResults: boolean; onMapResults: (results: unknown) => Promise<void>; onBreach: (error: CloudLimitError) => void },
): Promise<void> {
  const history = new HistoryCounter();
  // Each Map child's output is the output of the last state it exits.
  const childOutputs = new Map<number, unknown>();
  try {
    for await (const event of events) {
      if (!event || !('state' in event)) continue;
      const { state, index } = event;
      if (event.type === 'StateEntered') {
        history.state(state.type, index);
        checkStatePayload(state.name, 'input', asInTheCloud(state.input));
      } else if (event.type === 'StateRetried') {
        history.retry(index);
      } else if (event.type === 'StateExited') {
        checkStatePayload(state.name, 'output', asInTheCloud(state.output));
        if (index !== undefined) childOutputs.set(index, state.output);
        else if (state.type === 'Map') {
          const results = [...childOutputs].sort(([a], [b]) => a - b).map(([, output]) => output);
          childOutputs.clear();
          // Without ResultWriter, Step Functions collects the results into the Map's output, whatever its ResultPath.
          if (hooks.mapWritesResults) await hooks.onMapResults(results);
          else checkStatePayload(state.name, 'output', results);
        }
      }
    }
  } catch (error) {
    if (!(error instanceof CloudLimitError)) throw error;
    hooks.onBreach(error);
  }
}

/** The execution was stopped (Ctrl-C): nothing failed, the sweep can be resumed. */
export class WorkflowAbortedError extends FloodsweepError {
  override name = 'WorkflowAbortedError';

  constructor() {
    super('internal', 'the workflow was stopped');
  }
}

/** Disk errors name their cause in the message that crosses from the worker: no space, no quota, read-only, no permission. */
const DISK_ERRORS: Record<string, string> = {
  ENOSPC: 'the disk is full',
  EDQUOT: 'the disk quota is exhausted',
  EROFS: 'the file system is read-only',
  EACCES: 'permission denied',
};

/** "the disk is full (ENOSPC): cannot write <file>", if the error is one of those. */
function diskProblem(error: unknown): string | undefined {
  const message = error instanceof Error ? error.message : String(error);
  const code = /\b(ENOSPC|EDQUOT|EROFS|EACCES)\b/.exec(message)?.[1];
  if (!code) return undefined;
  const where = /cannot (?:write|read|remove) \S+?(?=:)/.exec(message)?.[0];
  return `${DISK_ERRORS[code]} (${code})${where ? `: ${where}` : ''}`;
}
