import { readFileSync } from 'node:fs';
import { functionArnSubstitution, STEP_IDS } from '../workflow-steps.js';

/**
 * The sweep workflow's one definition, shared by both executors: CDK deploys it with
 * `DefinitionBody.fromFile` (infra/stack.ts reads it by path), the local executor runs it in
 * process. Resolved from the project root so the same path holds for src/ and the built dist/.
 */
export const WORKFLOW_DEFINITION_FILE = new URL('../../src/workflow/definition.asl.json', import.meta.url);

/** The function ARNs the definition refers to, by substitution name (one per step): the same names CDK fills in. */
export const FUNCTION_SUBSTITUTIONS = STEP_IDS.map(functionArnSubstitution);

export interface WorkflowDefinition {
  StartAt: string;
  States: Record<string, WorkflowState>;
  [field: string]: unknown;
}

export interface WorkflowState {
  Type: string;
  TimeoutSeconds?: number;
  ItemReader?: unknown;
  ItemsPath?: string;
  ItemProcessor?: { States: Record<string, WorkflowState> };
  [field: string]: unknown;
}

/** The shared definition with `${Name}` substitutions filled in, as CDK's definitionSubstitutions does. */
export function loadWorkflowDefinition(substitutions: Record<string, string>): WorkflowDefinition {
  const text = readFileSync(WORKFLOW_DEFINITION_FILE, 'utf8').replace(/\$\{(\w+)\}/g, (whole, name: string) => {
    if (!(name in substitutions)) throw new Error(`workflow definition: no value for substitution ${whole}`);
    return substitutions[name];
  });
  return JSON.parse(text) as WorkflowDefinition;
}

/**
 * The one translation local execution needs: aws-local-stepfunctions cannot read a Map's items
 * from S3 (ItemReader), so the Map iterates `$.plan.items`, which the local Plan step fills with
 * the manifest it wrote to the artifact store.
 */
export function toLocalDefinition(definition: WorkflowDefinition): WorkflowDefinition {
  for (const state of Object.values(definition.States)) {
    if (state.Type === 'Map' && state.ItemReader) {
      delete state.ItemReader;
      state.ItemsPath = '$.plan.items';
    }
  }
  return definition;
}

/** The Train state's timeout: a local Train call stops and checkpoints before it, like a Lambda. */
export function trainStateTimeoutSeconds(definition: WorkflowDefinition): number {
  const train = Object.values(definition.States).find((state) => state.ItemProcessor)?.ItemProcessor?.States.Train;
  if (!train?.TimeoutSeconds) throw new Error('workflow definition: the Train state needs a TimeoutSeconds');
  return train.TimeoutSeconds;
}
