import { ExecutionAbortedError, ExecutionError, StateMachine, type StateMachineDefinition } from 'aws-local-stepfunctions';
import { FloodsweepError } from '../errors.js';
import type { BackendName, BackendRequest } from '../flooding/names.js';
import { openStores, type StoreConfig } from '../store/open.js';
import { aggregate } from './aggregate.js';
import { compare } from './compare.js';
import { loadWorkflowDefinition, toLocalDefinition, trainStateTimeoutSeconds } from './definition.js';
import {
  type AggregateOutput,
  alertSchema,
  type CompareOutput,
  executionOutputSchema,
  manifestSchema,
  type PlanInput,
  type PlanOutput,
  parsePayload,
  trainInputSchema,
} from './payloads.js';
import { plan } from './plan.js';
import { WorkerPool } from './pool.js';
import { recordFailure } from './record-failure.js';

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
  /** Worker threads training tasks; defaults to the number of cores. */
  workers?: number;
  /** Epochs per Train call: how often a task checkpoints (as a Lambda does when its time runs low). */
  epochsPerCall?: number;
  onPlanned?: (plan: PlanOutput, backend: BackendName) => void;
  onEpoch?: (taskId: string, epoch: number, total: number) => void;
  onTaskEnd?: (taskId: string, outcome: 'succeeded' | 'failed') => void;
  /** Where the alert a drifted reproducibility run sends (an SNS topic in the cloud) goes. */
  onAlert?: (subject: string, message: string) => void;
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

/** Runs the sweep workflow in process: the shared definition, the same step functions, any stores. */
export function runWorkflowLocally(
  input: PlanInput,
  options: LocalExecutorOptions,
): { result: Promise<WorkflowResult>; abort: () => void } {
  const stores = openStores(options.stores);
  const taskOfJob = new Map<number, string>();
  const pool = new WorkerPool({
    backend: options.backend,
    backendOptions: {},
    size: options.workers,
    onEpoch: (jobId, epoch, total) => options.onEpoch?.(taskOfJob.get(jobId)!, epoch, total),
  });
  const definition = toLocalDefinition(
    loadWorkflowDefinition({
      PlanFunctionArn: LOCAL_ARN('plan'),
      TrainFunctionArn: LOCAL_ARN('train'),
      RecordFailureFunctionArn: LOCAL_ARN('record-failure'),
      AggregateFunctionArn: LOCAL_ARN('aggregate'),
      CompareFunctionArn: LOCAL_ARN('compare'),
      ArtifactBucket: 'local',
      AlertTopicArn: 'arn:aws:sns:us-east-1:000000000000:floodsweep-alerts',
    }),
  );
  const trainTimeoutMs = trainStateTimeoutSeconds(definition) * 1000;
  // The definition is our own file, checked against ASL by test/workflow.test.ts.
  const machine = new StateMachine(definition as StateMachineDefinition, { validationOptions: { checkArn: true, checkPaths: true } });
  // Errors thrown by our own steps, kept so that the caller gets them (with their kind), not the executor's wrapper.
  let stepError: unknown;
  const step = (run: (event: unknown) => Promise<unknown>) => async (event: JsonValue) => {
    try {
      return asJson(await run(event));
    } catch (error) {
      stepError = error;
      throw error;
    }
  };
  const execution = machine.run(asJson(input), {
    overrides: {
      taskResourceLocalHandlers: {
        Plan: step(async (event) => {
          // Never more Train calls than workers: a queued call's wait would count against its timeout.
          const planned = await plan(stores, event, { maxConcurrencyCap: pool.size });
          options.onPlanned?.(planned, await pool.backend());
          const manifest = await stores.artifacts.get(planned.manifestKey);
          const items = parsePayload(manifestSchema, JSON.parse(manifest!.toString('utf8')), 'manifest');
          return { ...planned, items };
        }),
        Train: async (event) => {
          const item = parsePayload(trainInputSchema, event, 'Train input');
          // Like a Lambda, a call stops and checkpoints before the state's timeout.
          const deadline = Date.now() + trainTimeoutMs;
          const { jobId, result } = pool.trainStep(options.stores, item, { maxEpochs: options.epochsPerCall, deadline });
          taskOfJob.set(jobId, item.taskId);
          const output = await result.finally(() => taskOfJob.delete(jobId));
          if (output.done) options.onTaskEnd?.(item.taskId, 'succeeded');
          return asJson(output);
        },
        RecordFailure: step(async (event) => {
          const recorded = await recordFailure(stores, event);
          options.onTaskEnd?.(recorded.taskId, 'failed');
          return recorded;
        }),
        Aggregate: step((event) => aggregate(stores, event)),
        Compare: step((event) => compare(stores, event)),
        NotifyDrift: step(async (event) => {
          const { Subject, Message } = parsePayload(alertSchema, event, 'NotifyDrift input');
          options.onAlert?.(Subject, Message);
          return {};
        }),
      },
    },
  });
  const result = execution.result
    .then((output) => {
      const { plan: planned, aggregate: aggregated, compare: compared } = parsePayload(executionOutputSchema, output, 'workflow output');
      const { items: _items, ...planOutput } = planned;
      return { plan: planOutput, aggregate: aggregated, compare: compared };
    })
    .catch((error: unknown) => {
      if (error instanceof ExecutionAbortedError) throw new WorkflowAbortedError();
      if (error instanceof ExecutionError && stepError instanceof FloodsweepError) throw stepError;
      throw new FloodsweepError('internal', `workflow: ${(error as Error).message}`, { cause: error });
    })
    .finally(() => pool.close());
  const abort = () => {
    execution.abort();
    void pool.close();
  };
  return { result, abort };
}

/** The execution was stopped (Ctrl-C): nothing failed, the sweep can be resumed. */
export class WorkflowAbortedError extends FloodsweepError {
  override name = 'WorkflowAbortedError';

  constructor() {
    super('internal', 'the workflow was stopped');
  }
}
