import { readFileSync } from 'node:fs';
import { StateMachine } from 'aws-local-stepfunctions';
import { openStores, type StoreConfig } from '../store/open.js';
import { compare, type CompareOutput, type ReproBlock } from '../sweep/repro.js';
import { aggregate, type AggregateOutput, type ManifestItem, plan, type PlanInput, type PlanOutput, recordFailure } from '../sweep/steps.js';
import type { BackendName, BackendRequest } from '../flooding/backend.js';
import { WorkerPool } from './pool.js';

// aws-local-stepfunctions 3 targets Node 22 and calls Promise.withResolvers, which Node 20 lacks.
if (!('withResolvers' in Promise)) {
  Object.defineProperty(Promise, 'withResolvers', {
    value<T>() {
      let resolve!: (value: T | PromiseLike<T>) => void;
      let reject!: (reason?: unknown) => void;
      const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
      return { promise, resolve, reject };
    },
  });
}

export const WORKFLOW_DEFINITION_FILE = new URL('../../infra/workflow.asl.json', import.meta.url);

/** The function ARNs the definition refers to, by substitution name: the same names CDK fills in. */
export const FUNCTION_SUBSTITUTIONS = ['PlanFunctionArn', 'TrainFunctionArn', 'RecordFailureFunctionArn', 'AggregateFunctionArn', 'CompareFunctionArn'] as const;

/** The shared definition with `${Name}` substitutions filled in, as CDK's definitionSubstitutions does. */
export function loadWorkflowDefinition(substitutions: Record<string, string>): Record<string, unknown> {
  const text = readFileSync(WORKFLOW_DEFINITION_FILE, 'utf8').replace(/\$\{(\w+)\}/g, (whole, name: string) => {
    if (!(name in substitutions)) throw new Error(`workflow definition: no value for substitution ${whole}`);
    return substitutions[name];
  });
  return JSON.parse(text);
}

/**
 * The one translation local execution needs: aws-local-stepfunctions cannot read a Map's items
 * from S3 (ItemReader), so the Map iterates `$.plan.items`, which the local Plan step fills with
 * the manifest it wrote to the artifact store.
 */
export function toLocalDefinition(definition: Record<string, unknown>): Record<string, unknown> {
  const states = definition.States as Record<string, Record<string, unknown>>;
  for (const state of Object.values(states)) {
    if (state.Type === 'Map' && state.ItemReader) {
      delete state.ItemReader;
      state.ItemsPath = '$.plan.items';
    }
  }
  return definition;
}

function trainStateTimeoutSeconds(definition: Record<string, unknown>): number {
  const states = definition.States as Record<string, { ItemProcessor?: { States: Record<string, { TimeoutSeconds?: number }> } }>;
  const train = Object.values(states).find((state) => state.ItemProcessor)?.ItemProcessor?.States.Train;
  if (!train?.TimeoutSeconds) throw new Error('workflow definition: the Train state needs a TimeoutSeconds');
  return train.TimeoutSeconds;
}

export interface LocalRunOptions {
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

export interface LocalRunResult {
  plan: PlanOutput;
  aggregate: AggregateOutput;
  /** Present for reproducibility runs (input with a `repro` block). */
  compare?: CompareOutput;
}

const LOCAL_ARN = (name: string) => `arn:aws:lambda:us-east-1:000000000000:function:floodsweep-${name}`;

/** Runs the sweep workflow in process: the shared definition, the same step functions, local stores. */
export function runWorkflowLocally(input: PlanInput & { repro?: ReproBlock }, options: LocalRunOptions): { result: Promise<LocalRunResult>; abort: () => void } {
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
  const machine = new StateMachine(definition as never, { validationOptions: { checkArn: true, checkPaths: true } });
  const execution = machine.run(input as never, {
    overrides: {
      taskResourceLocalHandlers: {
        Plan: async (event) => {
          // Never more Train calls than workers: a queued call's wait would count against its timeout.
          const planned = await plan(stores, event as unknown as PlanInput, { maxConcurrencyCap: pool.size });
          options.onPlanned?.(planned, await pool.backend());
          const manifest = await stores.artifacts.get(planned.manifestKey);
          const items = JSON.parse(manifest!.toString('utf8')) as ManifestItem[];
          return { ...planned, items } as never;
        },
        Train: async (event) => {
          const item = event as unknown as ManifestItem;
          // Like a Lambda, a call stops and checkpoints before the state's timeout.
          const deadline = Date.now() + trainTimeoutMs;
          const { jobId, result } = pool.trainStep(options.stores, item, { maxEpochs: options.epochsPerCall, deadline });
          taskOfJob.set(jobId, item.taskId);
          const output = await result.finally(() => taskOfJob.delete(jobId));
          if (output.done) options.onTaskEnd?.(item.taskId, 'succeeded');
          return output as never;
        },
        RecordFailure: async (event) => {
          const recorded = await recordFailure(stores, event as never);
          options.onTaskEnd?.(recorded.taskId, 'failed');
          return recorded as never;
        },
        Aggregate: async (event) => (await aggregate(stores, event as never)) as never,
        Compare: async (event) => (await compare(stores, event as never)) as never,
        NotifyDrift: async (event) => {
          const { Subject, Message } = event as { Subject: string; Message: string };
          options.onAlert?.(Subject, Message);
          return {};
        },
      },
    },
  });
  const result = execution.result
    .then((output) => {
      const { plan: planned, aggregate: aggregated, compare: compared } = output as unknown as {
        plan: PlanOutput & { items?: unknown };
        aggregate: AggregateOutput;
        compare?: CompareOutput;
      };
      const { items: _items, ...planOutput } = planned;
      return { plan: planOutput, aggregate: aggregated, compare: compared };
    })
    .finally(() => pool.close());
  const abort = () => {
    execution.abort();
    void pool.close();
  };
  return { result, abort };
}
