/**
 * The floodsweep stack: artifact bucket, metrics table, the Lambda handlers of the workflow's steps,
 * the sweep state machine (loaded from the workflow file the local runner also executes),
 * reproducibility schedules and alerts. Every grant is scoped to the bucket prefixes, the table and the functions the
 * workflow uses; the few wildcards that remain are acknowledged for cdk-nag next to their grant.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  Annotations,
  ArnFormat,
  Aws,
  type CfnElement,
  CfnOutput,
  Duration,
  RemovalPolicy,
  Stack,
  type StackProps,
  TimeZone,
  Token,
  Validations,
} from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { Platform } from 'aws-cdk-lib/aws-ecr-assets';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as schedulerTargets from 'aws-cdk-lib/aws-scheduler-targets';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import { ENV_NAMES } from '../src/env-names.js';
import { METRICS_TABLE } from '../src/store/metrics-table.js';
import {
  CLI_BASELINE_PREFIX,
  functionArnSubstitution,
  functionConstructId,
  type KeyPattern,
  NEW_ACCOUNT_MAX_MEMORY_MB,
  perStep,
  type SettingVariable,
  STEPS,
  type StepAccess,
} from '../src/workflow-steps.js';
import { FUNCTION_IDS, type FunctionId, HANDLER, LAMBDA_NODE_MAJOR, nodejsBundling, runtimeFileEnvironment } from './bundling.js';
import {
  BASELINE_PREFIX,
  CHECKPOINT_TAG,
  type FunctionSizing,
  MAP_RESULTS_PREFIX,
  type ResolvedSchedule,
  type StackSettings,
} from './config.js';

export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** The workflow definition shared with the local runner (owned by the workflow, not by the stack). */
export const WORKFLOW_FILE = path.join(PROJECT_ROOT, 'src', 'workflow', 'definition.asl.json');
/** The training image's Dockerfile, relative to the project root (the build context). */
export const TRAIN_DOCKERFILE = 'Dockerfile';

/**
 * Object keys by what they hold (the layout of src/store/ports.ts sweepKeys), as IAM resource
 * patterns under the bucket. Each function gets exactly the ones it reads or writes.
 */
export const KEY_PATTERNS: Record<KeyPattern, string> = {
  spec: 'sweeps/*/spec.json',
  manifest: 'sweeps/*/manifest.json',
  /** Checkpoints and task results. */
  tasks: 'sweeps/*/tasks/*',
  summary: 'sweeps/*/summary.json',
  report: 'sweeps/*/report.html',
  plots: 'sweeps/*/plots/*',
  /** A reproducibility run's comparison with its baseline. */
  repro: 'sweeps/*/repro.json',
  /**
   * The Distributed Map's ResultWriter exports the child executions' outputs here: a top-level
   * prefix, so that a lifecycle rule (which matches prefixes, not patterns) expires them.
   */
  mapResults: `${MAP_RESULTS_PREFIX}*`,
  anySweepKey: 'sweeps/*',
  /** Baseline files of reproducibility runs (config.ts BASELINE_PREFIX). */
  baselines: `${BASELINE_PREFIX}*`,
  /** Data and model files of tasks, by content hash (src/workflow/task-files.ts). */
  taskFiles: 'files/*',
  cliBaselines: `${CLI_BASELINE_PREFIX}*`,
};

/** What each function does with the stores (its step's entry in src/workflow-steps.ts); the stack turns this into its role's policy. */
export const ACCESS: Record<FunctionId, StepAccess> = perStep((fn) => STEPS[fn].access);

export interface FloodsweepStackProps extends StackProps {
  settings: StackSettings;
  schedules: ResolvedSchedule[];
  /** Apply the cdk-nag acknowledgements (default). Off only in the test that checks each matches a finding. */
  acknowledgeNagFindings?: boolean;
}

/** A cdk-nag finding the stack acknowledges: it cannot be fixed, and the reason says why. */
export interface NagAcknowledgement {
  path: string;
  id: string;
  reason: string;
}

export class FloodsweepStack extends Stack {
  readonly bucket: s3.Bucket;
  readonly table: dynamodb.Table;
  readonly functions: Record<FunctionId, lambda.Function>;
  readonly stateMachine: sfn.StateMachine;
  readonly alertTopic: sns.Topic;
  readonly alertKey: kms.Key;
  /** What the CLI's --cloud commands need (output CliUserPolicyArn). */
  readonly cliUserPolicy: iam.ManagedPolicy;
  /** Every acknowledgement, whether applied or not. */
  readonly nagAcknowledgements: NagAcknowledgement[] = [];
  private readonly applyAcknowledgements: boolean;

  constructor(scope: Construct, id: string, props: FloodsweepStackProps) {
    super(scope, id, props);
    this.applyAcknowledgements = props.acknowledgeNagFindings ?? true;
    // Access-log delivery through a bucket policy (not the LogDeliveryWrite ACL, which needs
    // ObjectWriter ownership). Set here so tests and `cdk synth` build the same stack.
    this.node.setContext('@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy', true);
    const { settings } = props;

    /* ---------------------------------------------------------------- storage */
    const accessLogs = new s3.Bucket(this, 'AccessLogsBucket', {
      // Server access log delivery supports SSE-S3 only.
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [{ id: 'ExpireAccessLogs', expiration: Duration.days(settings.accessLogExpirationDays) }],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    // No access logs of its own (cdk-nag's S1 accepts a bucket that receives access logs).

    this.bucket = new s3.Bucket(this, 'ArtifactBucket', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      serverAccessLogsBucket: accessLogs,
      serverAccessLogsPrefix: 'artifact-bucket/',
      lifecycleRules: [
        {
          // Checkpoints only matter while a task trains; results, plots and reports stay.
          id: 'ExpireCheckpoints',
          prefix: 'sweeps/',
          tagFilters: { [CHECKPOINT_TAG.key]: CHECKPOINT_TAG.value },
          expiration: Duration.days(settings.checkpointExpirationDays),
        },
        {
          // The Distributed Map's exported child outputs: what Aggregate reads is in the table.
          id: 'ExpireMapResults',
          prefix: MAP_RESULTS_PREFIX,
          expiration: Duration.days(settings.checkpointExpirationDays),
        },
        { id: 'AbortIncompleteUploads', abortIncompleteMultipartUploadAfter: Duration.days(1) },
      ],
      // Sweep results outlive the stack, like the table.
      removalPolicy: RemovalPolicy.RETAIN,
    });

    this.table = new dynamodb.Table(this, 'MetricsTable', {
      partitionKey: { name: METRICS_TABLE.partitionKey.name, type: dynamodb.AttributeType.STRING },
      sortKey: { name: METRICS_TABLE.sortKey.name, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.table.addGlobalSecondaryIndex({
      indexName: METRICS_TABLE.byCreatedIndex.indexName,
      partitionKey: { name: METRICS_TABLE.byCreatedIndex.partitionKey.name, type: dynamodb.AttributeType.STRING },
      sortKey: { name: METRICS_TABLE.byCreatedIndex.sortKey.name, type: dynamodb.AttributeType.STRING },
      projectionType: dynamodb.ProjectionType.ALL,
    });

    /* -------------------------------------------------------------- functions */
    const storeEnvironment = { [ENV_NAMES.table]: this.table.tableName, [ENV_NAMES.bucket]: this.bucket.bucketName };
    // Train cannot run more at once than its reserved concurrency: more Map children would only be throttled.
    const mapConcurrency = Math.min(settings.maxConcurrency, settings.trainReservedConcurrency ?? Number.POSITIVE_INFINITY);
    const settingEnvironment: Record<SettingVariable, Record<string, string>> = {
      maxConcurrency: { [ENV_NAMES.maxConcurrency]: String(mapConcurrency) },
      epochsPerCall: settings.epochsPerCall === undefined ? {} : { [ENV_NAMES.epochsPerCall]: String(settings.epochsPerCall) },
    };
    const environmentOf = (fn: FunctionId): Record<string, string> =>
      Object.assign({ ...storeEnvironment }, ...STEPS[fn].settings.map((name: SettingVariable) => settingEnvironment[name]));
    this.functions = Object.fromEntries(
      FUNCTION_IDS.map((fn) => {
        if (fn === 'train' && settings.trainRuntime === 'container') {
          return [fn, this.containerTrainFunction(settings, { ...environmentOf(fn), [ENV_NAMES.backend]: 'tfjs-node' })];
        }
        const backend: Record<string, string> = fn === 'train' ? { [ENV_NAMES.backend]: 'wasm' } : {};
        return [fn, this.zipFunction(fn, settings[fn], settings, { ...environmentOf(fn), ...backend, ...runtimeFileEnvironment(fn) })];
      }),
    ) as Record<FunctionId, lambda.Function>;
    if (settings.train.memoryMb > NEW_ACCOUNT_MAX_MEMORY_MB) {
      Annotations.of(this.functions.train).addWarningV2(
        'floodsweep:trainMemory',
        `train memory ${settings.train.memoryMb} MB: a new AWS account may allow at most ${NEW_ACCOUNT_MAX_MEMORY_MB} MB per function ` +
          `(reduced quotas that AWS raises with use). If the deploy fails on MemorySize, deploy with -c trainMemory=${NEW_ACCOUNT_MAX_MEMORY_MB} ` +
          'or ask AWS Support to raise the Lambda function memory quota of the account.',
      );
    }

    /* --------------------------------------------------------------- alerts */
    // Failed executions (EventBridge rule below) and reproducibility drift (the workflow's NotifyDrift).
    this.alertKey = new kms.Key(this, 'AlertKey', {
      description: 'Encrypts the floodsweep alert topic',
      enableKeyRotation: true,
      pendingWindow: Duration.days(7),
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.alertTopic = new sns.Topic(this, 'AlertTopic', {
      displayName: 'floodsweep alerts',
      masterKey: this.alertKey,
      enforceSSL: true,
    });
    if (settings.alertEmail) this.alertTopic.addSubscription(new subscriptions.EmailSubscription(settings.alertEmail));

    /* ---------------------------------------------------------- state machine */
    const stateMachineLogs = new logs.LogGroup(this, 'StateMachineLogs', {
      // The /aws/vendedlogs/ prefix keeps CloudWatch Logs' resource policy small.
      logGroupName: `/aws/vendedlogs/states/${this.stackName}-sweeps`,
      retention: settings.logRetentionDays as logs.RetentionDays,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const definitionSubstitutions: Record<string, string> = {
      ArtifactBucket: this.bucket.bucketName,
      AlertTopicArn: this.alertTopic.topicArn,
      // Service integration ARNs (arn:<partition>:states:::s3:getObject) follow the stack's partition.
      Partition: Aws.PARTITION,
    };
    for (const fn of FUNCTION_IDS) definitionSubstitutions[functionArnSubstitution(fn)] = this.functions[fn].functionArn;
    this.stateMachine = new sfn.StateMachine(this, 'SweepStateMachine', {
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromFile(WORKFLOW_FILE),
      definitionSubstitutions,
      logs: { destination: stateMachineLogs, level: sfn.LogLevel.ALL, includeExecutionData: true },
      tracingEnabled: true,
    });
    this.grantWorkflow(this.stateMachine);
    this.cliUserPolicy = this.createCliUserPolicy(this.stateMachine);

    /* ------------------------------------------------------- failure alerts */
    const detail = (field: string) => events.EventField.fromPath(`$.detail.${field}`);
    const failedRule = new events.Rule(this, 'ExecutionFailedRule', {
      description: 'A floodsweep execution failed, timed out or was aborted',
      eventPattern: {
        source: ['aws.states'],
        detailType: ['Step Functions Execution Status Change'],
        detail: { stateMachineArn: [this.stateMachine.stateMachineArn], status: ['FAILED', 'TIMED_OUT', 'ABORTED'] },
      },
    });
    // Not CDK's SnsTopic target: it grants events.amazonaws.com the topic and the key without any
    // condition, which would make the conditions below moot. Publishing is allowed to this rule only.
    failedRule.addTarget({
      bind: () => ({
        arn: this.alertTopic.topicArn,
        input: events.RuleTargetInput.fromText(
          `floodsweep execution ${detail('name')} ended ${detail('status')} (${detail('executionArn')}). ` +
            `Error: ${detail('error')} ${detail('cause')}`,
        ),
      }),
    });
    const eventBridge = new iam.ServicePrincipal('events.amazonaws.com');
    this.alertTopic.addToResourcePolicy(
      new iam.PolicyStatement({
        principals: [eventBridge],
        actions: ['sns:Publish'],
        resources: [this.alertTopic.topicArn],
        conditions: { ArnEquals: { 'aws:SourceArn': failedRule.ruleArn } },
      }),
    );
    // SNS encrypts what EventBridge publishes with the key, on EventBridge's behalf.
    this.alertKey.addToResourcePolicy(
      new iam.PolicyStatement({
        principals: [eventBridge],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
        resources: ['*'],
        conditions: { StringEquals: { 'aws:SourceAccount': this.account } },
      }),
    );

    /* ------------------------------------------------------------ schedules */
    if (props.schedules.length > 0) this.addSchedules(props.schedules);

    /* -------------------------------------------------------------- outputs */
    new CfnOutput(this, 'BucketName', {
      value: this.bucket.bucketName,
      description: 'Artifact bucket (specs, manifests, checkpoints, plots, reports)',
    });
    new CfnOutput(this, 'TableName', { value: this.table.tableName, description: 'Metrics table (sweeps, tasks, epoch rows)' });
    new CfnOutput(this, 'StateMachineArn', { value: this.stateMachine.stateMachineArn, description: 'Start a sweep: {"spec": {...}}' });
    new CfnOutput(this, 'AlertTopicArn', { value: this.alertTopic.topicArn, description: 'Failed executions and reproducibility drift' });
    new CfnOutput(this, 'TrainRuntime', { value: settings.trainRuntime, description: 'container (tfjs-node) or zip (wasm)' });
    new CfnOutput(this, 'TrainMemoryMb', {
      value: String(settings.train.memoryMb),
      description: 'Memory of the train function: the CLI refuses tasks estimated to need more',
    });
    new CfnOutput(this, 'MaxConcurrency', {
      value: String(mapConcurrency),
      description: "Most training tasks at once: the CLI checks it against the account's unreserved Lambda concurrency",
    });
    new CfnOutput(this, 'CliUserPolicyArn', {
      value: this.cliUserPolicy.managedPolicyArn,
      description: 'Attach to the users or roles that run the floodsweep CLI with --cloud: all it needs',
    });
    if (settings.trainReservedConcurrency !== undefined) {
      new CfnOutput(this, 'TrainReservedConcurrency', {
        value: String(settings.trainReservedConcurrency),
        description: 'Reserved concurrency of the train function (its own pool)',
      });
    }
  }

  /** A role for one function: its own log group, and the store access ACCESS lists for it. */
  private functionRole(fn: FunctionId, id: string, logGroup: logs.LogGroup): iam.Role {
    const role = new iam.Role(this, `${id}Role`, {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `floodsweep ${fn} handler`,
    });
    logGroup.grantWrite(role);
    const access = ACCESS[fn];
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: [...access.dynamodb], resources: [this.table.tableArn] }));
    const objectArns = (patterns: readonly KeyPattern[]) => patterns.map((pattern) => this.bucket.arnForObjects(KEY_PATTERNS[pattern]));
    if (access.s3Read.length > 0) {
      role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: objectArns(access.s3Read) }));
    }
    if (access.s3Write.length > 0) {
      // PutObjectTagging: checkpoints carry CHECKPOINT_TAG for the expiration rule.
      const actions = fn === 'train' ? ['s3:PutObject', 's3:PutObjectTagging'] : ['s3:PutObject'];
      role.addToPrincipalPolicy(new iam.PolicyStatement({ actions, resources: objectArns(access.s3Write) }));
    }
    if (access.s3Delete) {
      role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:DeleteObject'], resources: objectArns(access.s3Delete) }));
    }
    if (access.listBucket) {
      role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [this.bucket.bucketArn] }));
    }
    const patterns = [...new Set([...access.s3Read, ...access.s3Write, ...(access.s3Delete ?? [])])];
    for (const pattern of patterns) {
      this.acknowledge(
        role,
        `AwsSolutions-IAM5[Resource::<${this.logicalIdOf(this.bucket)}.Arn>/${KEY_PATTERNS[pattern]}]`,
        `Object keys hold sweep and task ids known only at run time; the grant is limited to the ${pattern} keys, ${KEY_PATTERNS[pattern]}.`,
      );
    }
    return role;
  }

  private functionLogGroup(id: string, retentionDays: number): logs.LogGroup {
    return new logs.LogGroup(this, `${id}Logs`, {
      retention: retentionDays as logs.RetentionDays,
      removalPolicy: RemovalPolicy.DESTROY,
    });
  }

  /** A handler bundled by the local esbuild (infra/bundling.ts). */
  private zipFunction(
    fn: FunctionId,
    sizing: FunctionSizing,
    settings: StackSettings,
    environment: Record<string, string>,
  ): NodejsFunction {
    const id = functionConstructId(fn);
    const logGroup = this.functionLogGroup(id, settings.logRetentionDays);
    const zip = new NodejsFunction(this, id, {
      description: `floodsweep ${fn} (${STEPS[fn].handler})`,
      entry: path.join(PROJECT_ROOT, STEPS[fn].handler),
      handler: HANDLER,
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: path.join(PROJECT_ROOT, 'package-lock.json'),
      runtime: new lambda.Runtime(`nodejs${LAMBDA_NODE_MAJOR}.x`, lambda.RuntimeFamily.NODEJS),
      architecture: lambda.Architecture.X86_64,
      memorySize: sizing.memoryMb,
      timeout: Duration.seconds(sizing.timeoutSeconds),
      reservedConcurrentExecutions: fn === 'train' ? settings.trainReservedConcurrency : undefined,
      environment,
      bundling: nodejsBundling(fn),
      role: this.functionRole(fn, id, logGroup),
      logGroup,
    });
    this.acknowledge(
      zip,
      'AwsSolutions-L1',
      'Every function runs on Node 22, the newest major that @tensorflow/tfjs-node 4.22 (the training image) supports, so the bundles are tested on one runtime.',
    );
    return zip;
  }

  /** The train handler on tfjs-node (multi-threaded native TensorFlow), built from the project's Dockerfile at deploy time. */
  private containerTrainFunction(settings: StackSettings, environment: Record<string, string>): lambda.DockerImageFunction {
    const id = functionConstructId('train');
    const logGroup = this.functionLogGroup(id, settings.logRetentionDays);
    return new lambda.DockerImageFunction(this, id, {
      description: 'floodsweep train (functions/train.ts on tfjs-node, container image)',
      code: lambda.DockerImageCode.fromImageAsset(PROJECT_ROOT, {
        file: TRAIN_DOCKERFILE,
        platform: Platform.LINUX_AMD64,
        buildArgs: { NODE_MAJOR: String(LAMBDA_NODE_MAJOR) },
      }),
      architecture: lambda.Architecture.X86_64,
      memorySize: settings.train.memoryMb,
      timeout: Duration.seconds(settings.train.timeoutSeconds),
      reservedConcurrentExecutions: settings.trainReservedConcurrency,
      environment,
      role: this.functionRole('train', id, logGroup),
      logGroup,
    });
  }

  /** The state machine role: invoke the step functions, read manifests, publish alerts, run the Distributed Map's child executions. */
  private grantWorkflow(stateMachine: sfn.StateMachine): void {
    // The ASL names the unqualified function ARNs, so no `:*` (version/alias) grant is needed.
    stateMachine.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['lambda:InvokeFunction'],
        resources: Object.values(this.functions).map((fn) => fn.functionArn),
      }),
    );
    // The Distributed Map's ItemReader reads the manifest the plan step wrote.
    stateMachine.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [this.bucket.arnForObjects(KEY_PATTERNS.manifest)] }),
    );
    // The Map's ResultWriter writes the children's outputs to S3 (multipart for large results), so
    // that they are not collected into the Map's 256 KiB result.
    stateMachine.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['s3:PutObject', 's3:GetObject', 's3:ListMultipartUploadParts', 's3:AbortMultipartUpload'],
        resources: [this.bucket.arnForObjects(KEY_PATTERNS.mapResults)],
      }),
    );
    // NotifyDrift publishes to the (KMS-encrypted) alert topic.
    stateMachine.addToRolePolicy(new iam.PolicyStatement({ actions: ['sns:Publish'], resources: [this.alertTopic.topicArn] }));
    stateMachine.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['kms:GenerateDataKey', 'kms:Decrypt'], resources: [this.alertKey.keyArn] }),
    );
    // A Distributed Map starts its child executions through the state machine's own role. In a
    // policy of its own: the state machine's role cannot reference the state machine (a cycle).
    const executions = (suffix: string) =>
      this.formatArn({
        service: 'states',
        resource: 'execution',
        resourceName: `${stateMachine.stateMachineName}${suffix}`,
        arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      });
    const distributedMap = new iam.Policy(this, 'DistributedMapPolicy', {
      statements: [
        new iam.PolicyStatement({ actions: ['states:StartExecution'], resources: [stateMachine.stateMachineArn] }),
        // Child executions are named <state machine>/<map run>:<id>; the parent <state machine>:<id>.
        new iam.PolicyStatement({
          actions: ['states:DescribeExecution', 'states:StopExecution'],
          resources: [executions('/*'), executions(':*')],
        }),
        new iam.PolicyStatement({ actions: ['states:RedriveExecution'], resources: [executions('/*')] }),
      ],
    });
    stateMachine.role.attachInlinePolicy(distributedMap);

    const stateMachineId = this.logicalIdOf(stateMachine);
    const partitionRegionAccount = `arn:<AWS::Partition>:states:${this.nagName(this.region, 'AWS::Region')}:${this.nagName(this.account, 'AWS::AccountId')}`;
    this.acknowledge(
      distributedMap,
      `AwsSolutions-IAM5[Resource::${partitionRegionAccount}:execution:<${stateMachineId}.Name>/*]`,
      'The Distributed Map child executions of this state machine get run-time ids; AWS documents this scope for a Distributed Map.',
    );
    this.acknowledge(
      distributedMap,
      `AwsSolutions-IAM5[Resource::${partitionRegionAccount}:execution:<${stateMachineId}.Name>:*]`,
      'Executions of this state machine only; their names are generated at run time.',
    );
    const role = stateMachine.role;
    this.acknowledge(
      role,
      `AwsSolutions-IAM5[Resource::<${this.logicalIdOf(this.bucket)}.Arn>/${KEY_PATTERNS.manifest}]`,
      'The ItemReader reads the manifest of the sweep being run; the sweep id is known only at run time.',
    );
    this.acknowledge(
      role,
      `AwsSolutions-IAM5[Resource::<${this.logicalIdOf(this.bucket)}.Arn>/${KEY_PATTERNS.mapResults}]`,
      'The ResultWriter writes under the prefix of the sweep being run; the sweep id is known only at run time.',
    );
    this.acknowledge(
      role,
      'AwsSolutions-IAM5[Resource::*]',
      'CloudWatch Logs delivery (logs:CreateLogDelivery and related) and X-Ray (xray:PutTraceSegments and related) support no resource-level permissions; CDK adds these for logging level ALL and tracing.',
    );
  }

  /**
   * What the CLI's --cloud commands need, and nothing more (docs/cloud.md): read the stack's
   * outputs, start, follow and stop executions, check the account's Lambda concurrency, read every
   * sweep, hold a sweep's lease, store a reproducibility run's baseline file, and write what
   * `repro check` records.
   */
  private createCliUserPolicy(stateMachine: sfn.StateMachine): iam.ManagedPolicy {
    const states = (resource: string, name: string) =>
      this.formatArn({ service: 'states', resource, resourceName: name, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
    const objects = (patterns: KeyPattern[]) => patterns.map((pattern) => this.bucket.arnForObjects(KEY_PATTERNS[pattern]));
    const stack = this.formatArn({ service: 'cloudformation', resource: 'stack', resourceName: `${this.stackName}/*` });
    const executions = states('execution', `${stateMachine.stateMachineName}:*`);
    const mapRuns = states('mapRun', `${stateMachine.stateMachineName}/*`);
    const index = `${this.table.tableArn}/index/${METRICS_TABLE.byCreatedIndex.indexName}`;
    const policy = new iam.ManagedPolicy(this, 'CliUserPolicy', {
      description: 'floodsweep CLI: run, follow, stop and read sweeps of this stack (--cloud)',
      statements: [
        new iam.PolicyStatement({ actions: ['cloudformation:DescribeStacks'], resources: [stack] }),
        new iam.PolicyStatement({ actions: ['states:StartExecution'], resources: [stateMachine.stateMachineArn] }),
        new iam.PolicyStatement({
          actions: ['states:DescribeExecution', 'states:StopExecution', 'states:ListMapRuns'],
          resources: [executions],
        }),
        new iam.PolicyStatement({ actions: ['states:DescribeMapRun'], resources: [mapRuns] }),
        // The quota check before a sweep starts; GetAccountSettings has no resource-level permissions.
        new iam.PolicyStatement({ actions: ['lambda:GetAccountSettings'], resources: ['*'] }),
        new iam.PolicyStatement({
          actions: ['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
          resources: [this.table.tableArn, index],
        }),
        // taskFiles: a sweep's data and model files, uploaded once by content hash (looked up first).
        new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: objects(['anySweepKey', 'baselines', 'taskFiles']) }),
        // A missing summary or plot reads as absent (404) only for a caller that may list the bucket.
        new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [this.bucket.bucketArn] }),
        new iam.PolicyStatement({
          actions: ['s3:PutObject'],
          resources: objects(['cliBaselines', 'taskFiles', 'repro', 'report', 'plots']),
        }),
      ],
    });
    const partitionRegionAccount = (service: string) =>
      `arn:<AWS::Partition>:${service}:${this.nagName(this.region, 'AWS::Region')}:${this.nagName(this.account, 'AWS::AccountId')}`;
    const stateMachineId = this.logicalIdOf(stateMachine);
    const acknowledged: Array<[string, string]> = [
      [`${partitionRegionAccount('cloudformation')}:stack/${this.stackName}/*`, 'The stack id ends in a UUID CloudFormation assigns.'],
      [
        `${partitionRegionAccount('states')}:execution:<${stateMachineId}.Name>:*`,
        'Executions of this state machine; their names are made at run time.',
      ],
      [
        `${partitionRegionAccount('states')}:mapRun:<${stateMachineId}.Name>/*`,
        'The Distributed Map runs of this state machine; their ids are made at run time.',
      ],
      ['*', 'lambda:GetAccountSettings supports no resource-level permissions.'],
      ...(['anySweepKey', 'baselines', 'cliBaselines', 'taskFiles', 'repro', 'report', 'plots'] as const).map(
        (pattern): [string, string] => [
          `<${this.logicalIdOf(this.bucket)}.Arn>/${KEY_PATTERNS[pattern]}`,
          `Object keys hold sweep ids known only at run time; the grant is limited to the ${pattern} keys, ${KEY_PATTERNS[pattern]}.`,
        ],
      ),
    ];
    for (const [resource, reason] of acknowledged) this.acknowledge(policy, `AwsSolutions-IAM5[Resource::${resource}]`, reason);
    return policy;
  }

  private addSchedules(schedules: ResolvedSchedule[]): void {
    const role = new iam.Role(this, 'ReproScheduleRole', {
      assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': this.account } },
      }),
      description: 'EventBridge Scheduler: starts reproducibility runs of the floodsweep state machine',
    });
    for (const schedule of schedules) {
      new scheduler.Schedule(this, `ReproSchedule-${schedule.name}`, {
        scheduleName: `${this.stackName}-${schedule.name}`.slice(0, 64),
        description: schedule.description ?? `floodsweep reproducibility run ${schedule.name}`,
        schedule: scheduler.ScheduleExpression.expression(schedule.expression, TimeZone.of(schedule.timeZone)),
        enabled: schedule.enabled,
        target: new schedulerTargets.StepFunctionsStartExecution(this.stateMachine, {
          role,
          input: scheduler.ScheduleTargetInput.fromObject(schedule.input),
          retryAttempts: 3,
          maxEventAge: Duration.hours(1),
        }),
      });
    }
  }

  private logicalIdOf(construct: Construct): string {
    const element = (construct.node.defaultChild ?? construct) as CfnElement;
    return this.resolve(element.logicalId) as string;
  }

  /** A value as cdk-nag prints it in a finding: concrete, or `<AWS::Region>` for a pseudo parameter. */
  private nagName(value: string, pseudo: string): string {
    return Token.isUnresolved(value) ? `<${pseudo}>` : value;
  }

  private acknowledge(construct: Construct, id: string, reason: string): void {
    this.nagAcknowledgements.push({ path: construct.node.path, id, reason });
    if (this.applyAcknowledgements) Validations.of(construct).acknowledge({ id, reason });
  }
}
