/**
 * The workflow definition shared by the cloud (CDK's DefinitionBody.fromFile + definitionSubstitutions)
 * and the local runner (aws-local-stepfunctions): valid ASL, only substitutions somebody fills in,
 * the Train loop and its failure path, and the one translation local execution makes.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, test } from 'node:test';
import { StateMachine } from 'aws-local-stepfunctions';
import { FUNCTION_SUBSTITUTIONS, loadWorkflowDefinition, toLocalDefinition, WORKFLOW_DEFINITION_FILE } from '../src/workflow/definition.js';
import { EXECUTION_TIMEOUT_SECONDS } from '../src/workflow-steps.js';

interface AslValidation {
  isValid: boolean;
  errors: Array<{ 'Error code': string; Message: string }>;
}
// asl-validator is CommonJS without type declarations: its export is the validator function itself.
const validateAsl = createRequire(import.meta.url)('asl-validator') as (
  definition: unknown,
  options?: { checkArn?: boolean; checkPaths?: boolean },
) => AslValidation;

/**
 * Substitutions that are not function ARNs: the artifact bucket the Distributed Map reads the manifest
 * from, and the SNS topic a drifted reproducibility run alerts (where the definition has that state).
 */
const RESOURCE_SUBSTITUTIONS: Record<string, string> = {
  ArtifactBucket: 'floodsweep-artifacts-123456789012-eu-west-1',
  AlertTopicArn: 'arn:aws:sns:eu-west-1:123456789012:floodsweep-alerts',
  Partition: 'aws',
};

/** What CDK would fill in for a deployed stack. */
const REALISTIC: Record<string, string> = {
  ...Object.fromEntries(
    FUNCTION_SUBSTITUTIONS.map((name) => [
      name,
      `arn:aws:lambda:eu-west-1:123456789012:function:floodsweep-${name.replace(/FunctionArn$/, '')}`,
    ]),
  ),
  ...RESOURCE_SUBSTITUTIONS,
};

const fileText = readFileSync(WORKFLOW_DEFINITION_FILE, 'utf8');
const placeholders = [...fileText.matchAll(/\$\{([^}]*)\}/g)].map((match) => match[1]);

// biome-ignore lint/suspicious/noExplicitAny: ASL states are read field by field in the assertions
type State = Record<string, any>;
type Definition = { StartAt: string; TimeoutSeconds?: number; States: Record<string, State> };

const cloud = (): Definition => loadWorkflowDefinition(REALISTIC);

function checkValid(definition: unknown): AslValidation {
  // The validator annotates the states it checks (QueryLanguage): give it a copy.
  return validateAsl(structuredClone(definition), { checkArn: true, checkPaths: true });
}

function mapState(definition: Definition): [string, State] {
  const maps = Object.entries(definition.States).filter(([, state]) => state.Type === 'Map');
  assert.equal(maps.length, 1, 'one Map state fans out the tasks');
  return maps[0];
}

describe('src/workflow/definition.asl.json', () => {
  test('is valid ASL once the substitutions are filled in with realistic ARNs', () => {
    const result = checkValid(cloud());
    assert.deepEqual(
      result.errors.map((e) => `${e['Error code']}: ${e.Message}`),
      [],
    );
    assert.equal(result.isValid, true);
  });

  test('the validator is not vacuous: a broken Catch target is rejected', () => {
    const broken = cloud();
    const [, map] = mapState(broken);
    const train = map.ItemProcessor.States[map.ItemProcessor.StartAt];
    train.Catch[0].Next = 'NoSuchState';
    assert.equal(checkValid(broken).isValid, false);
  });

  test('every substitution placeholder is a function ARN of FUNCTION_SUBSTITUTIONS or a known resource substitution', () => {
    assert.ok(placeholders.length > 0, 'the definition uses substitutions');
    const allowed = new Set<string>([...FUNCTION_SUBSTITUTIONS, ...Object.keys(RESOURCE_SUBSTITUTIONS)]);
    assert.deepEqual(
      placeholders.filter((name) => !allowed.has(name)),
      [],
      'unknown substitutions',
    );
    assert.ok(placeholders.includes('ArtifactBucket'), 'the manifest bucket is substituted');
  });

  test('every name of FUNCTION_SUBSTITUTIONS is used by the definition (none stale)', () => {
    for (const name of FUNCTION_SUBSTITUTIONS) assert.ok(placeholders.includes(name), `${name} appears in the file`);
  });

  test('substitution leaves no placeholder behind, and a missing value is an error naming it', () => {
    assert.doesNotMatch(JSON.stringify(cloud()), /\$\{/);
    const { TrainFunctionArn: _missing, ...rest } = REALISTIC;
    assert.throws(() => loadWorkflowDefinition(rest), /\$\{TrainFunctionArn\}/);
  });

  test('Plan, then the Map over the manifest, then Aggregate, with small payloads between them', () => {
    const definition = cloud();
    const plan = definition.States[definition.StartAt];
    assert.equal(plan.Type, 'Task');
    assert.equal(plan.Resource, REALISTIC.PlanFunctionArn);
    assert.equal(plan.ResultPath, '$.plan');
    const [mapName, map] = mapState(definition);
    assert.equal(plan.Next, mapName);
    // The manifest the Plan step wrote, read from S3 (PlanOutput.manifestKey / maxConcurrency).
    assert.equal(map.ItemReader.Resource, 'arn:aws:states:::s3:getObject');
    assert.equal(map.ItemReader.Parameters.Bucket, RESOURCE_SUBSTITUTIONS.ArtifactBucket);
    assert.equal(map.ItemReader.Parameters['Key.$'], '$.plan.manifestKey');
    assert.equal(map.MaxConcurrencyPath, '$.plan.maxConcurrency');
    assert.equal(map.ItemProcessor.ProcessorConfig.Mode, 'DISTRIBUTED');
    assert.deepEqual(map.ItemSelector, { 'sweepId.$': '$$.Map.Item.Value.sweepId', 'taskId.$': '$$.Map.Item.Value.taskId' });
    // The per-task outputs are dropped, so a 10,000-task sweep stays under the 256 KiB state limit.
    assert.equal(map.ResultPath, null);
    const aggregate = definition.States[map.Next];
    assert.equal(aggregate.Type, 'Task');
    assert.equal(aggregate.Resource, REALISTIC.AggregateFunctionArn);
    // The execution's name: Aggregate releases the execution's lease on the sweep.
    assert.deepEqual(aggregate.Parameters, { 'sweepId.$': '$.plan.sweepId', 'executionName.$': '$$.Execution.Name' });
  });

  test('the execution times out; Plan refuses a sweep another execution holds, and any other failure of it marks the sweep FAILED; NotifyDrift never fails a run', () => {
    const definition = cloud();
    assert.equal(definition.TimeoutSeconds, EXECUTION_TIMEOUT_SECONDS, 'the lease an execution takes lasts as long');
    const plan = definition.States[definition.StartAt];
    assert.deepEqual(plan.Parameters['executionArn.$'], '$$.Execution.Id');
    assert.deepEqual(
      plan.Catch.map((rule: State) => [rule.ErrorEquals, rule.Next]),
      [
        [['SweepLeasedError'], 'SweepBusy'],
        [['States.ALL'], 'MarkPlanFailed'],
      ],
    );
    assert.equal(definition.States.SweepBusy.Type, 'Fail');
    const marked = definition.States.MarkPlanFailed;
    assert.equal(marked.Resource, REALISTIC.RecordFailureFunctionArn);
    assert.deepEqual(marked.Parameters, { 'input.$': '$', 'executionName.$': '$$.Execution.Name', 'error.$': '$.failure' });
    assert.equal(definition.States[marked.Next].Type, 'Fail');
    const notify = definition.States.NotifyDrift;
    assert.equal(notify.Parameters['Subject.$'], '$.compare.subject', 'Compare shortens it to the 100 characters SNS allows');
    assert.ok(notify.Retry.length > 0);
    assert.deepEqual(notify.Catch, [{ ErrorEquals: ['States.ALL'], ResultPath: '$.notifyError', Next: 'Done' }]);
    assert.equal(definition.States.Done.Type, 'Succeed');
  });

  test('the Train loop: Train -> Choice on $.done -> done, else Train again', () => {
    const [, map] = mapState(cloud());
    const states: Record<string, State> = map.ItemProcessor.States;
    const trainName: string = map.ItemProcessor.StartAt;
    const train = states[trainName];
    assert.equal(train.Type, 'Task');
    assert.equal(train.Resource, REALISTIC.TrainFunctionArn);
    const choice = states[train.Next];
    assert.equal(choice?.Type, 'Choice', 'Train is followed by a Choice');
    const onDone = choice.Choices.find((rule: State) => rule.Variable === '$.done' && rule.BooleanEquals === true);
    assert.ok(onDone, 'the Choice tests $.done == true');
    assert.equal(states[onDone.Next]?.Type, 'Succeed', 'a finished task ends the iteration');
    assert.equal(choice.Default, trainName, 'an unfinished task goes back to Train (resuming from its checkpoint)');
    // Lambda service hiccups are retried; a task's own error is not retried forever.
    const retried: string[] = train.Retry.flatMap((rule: State) => rule.ErrorEquals);
    assert.ok(retried.includes('Lambda.ServiceException') && retried.includes('Lambda.TooManyRequestsException'));
    assert.ok(!retried.includes('States.ALL'), 'States.ALL is caught, not retried');
  });

  test('Catch -> RecordFailure: any error of Train is recorded, and the iteration ends without failing the Map', () => {
    const [, map] = mapState(cloud());
    const states: Record<string, State> = map.ItemProcessor.States;
    const train = states[map.ItemProcessor.StartAt];
    const catchAll = train.Catch.find((rule: State) => rule.ErrorEquals.includes('States.ALL'));
    assert.ok(catchAll, 'Train catches States.ALL');
    // recordFailure reads the error at input.error ({Error, Cause}) next to sweepId and taskId.
    assert.equal(catchAll.ResultPath, '$.error');
    const record = states[catchAll.Next];
    assert.equal(record.Type, 'Task');
    assert.equal(record.Resource, REALISTIC.RecordFailureFunctionArn);
    assert.equal(record.End, true);
    assert.equal(record.Catch, undefined);
  });

  test('toLocalDefinition replaces ItemReader with ItemsPath over the planned items and changes nothing else', () => {
    const original = cloud();
    const local = toLocalDefinition(structuredClone(original) as never) as unknown as Definition;
    const [mapName, localMap] = mapState(local);
    assert.equal(localMap.ItemReader, undefined);
    assert.equal(localMap.ItemsPath, '$.plan.items');
    const expected = structuredClone(original);
    delete expected.States[mapName].ItemReader;
    expected.States[mapName].ItemsPath = '$.plan.items';
    assert.deepEqual(local, expected);
  });

  test('the local definition is accepted by aws-local-stepfunctions and by asl-validator', () => {
    const local = toLocalDefinition(loadWorkflowDefinition(REALISTIC));
    assert.doesNotThrow(() => new StateMachine(local as never, { validationOptions: { checkArn: true, checkPaths: true } }));
    assert.deepEqual(
      checkValid(local).errors.map((e) => e.Message),
      [],
    );
  });
});
