/**
 * The CDK app, synthesized offline in both training runtimes (asset bundling off: the bundle test
 * builds the handlers itself). Asserts the resources the cloud mode relies on, that the state
 * machine runs exactly the shared workflow file, that grants match the store's key layout, and that
 * cdk-nag's AwsSolutions checks pass (and do run).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { App, type CfnElement, type Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type { CloudAssembly } from 'aws-cdk-lib/cx-api';
import { buildApp } from '../infra/app.js';
import {
  BANNER,
  checkNativePackageCommands,
  copyRuntimeFileCommands,
  EXTERNAL_MODULES,
  esbuildOptions,
  FUNCTION_IDS,
  type FunctionId,
  IMAGE_EXTERNAL_MODULES,
  LAMBDA_NATIVE_PACKAGES,
  nodejsBundling,
  RUNTIME_FILES,
} from '../infra/bundling.js';
import { CHECKPOINT_TAG, ConfigError, DEFAULTS, loadSchedules, settingsFromContext } from '../infra/config.js';
import { ACCESS, type FloodsweepStack, KEY_PATTERNS, PROJECT_ROOT, WORKFLOW_FILE } from '../infra/stack.js';
import { ENV_NAMES } from '../src/env-names.js';
import { createTableInput } from '../src/store/aws.js';
import { sweepKeys } from '../src/store/ports.js';
import { defaultMemoryMb, functionArnSubstitution, perStep, STEPS } from '../src/workflow-steps.js';

process.env.CDK_DISABLE_CLI_TELEMETRY = 'true';

// biome-ignore lint/suspicious/noExplicitAny: synthesized CloudFormation JSON is read by path in the assertions
type Json = Record<string, any>;

const outdirs: string[] = [];
after(() => {
  for (const dir of outdirs) rmSync(dir, { recursive: true, force: true });
});

interface Synthesized {
  app: App;
  stack: FloodsweepStack;
  assembly: CloudAssembly;
  template: Template;
  json: Json;
  logicalId: (element: { node: { defaultChild?: unknown } } | CfnElement) => string;
}

function synth(context: Record<string, unknown> = {}, beforeSynth?: (stack: FloodsweepStack) => void): Synthesized {
  const outdir = mkdtempSync(path.join(tmpdir(), 'floodsweep-cdk-'));
  outdirs.push(outdir);
  // No asset bundling in tests: the bundle test builds the handlers with the same options.
  const app = new App({ outdir, context: { 'aws:cdk:bundling-stacks': [], ...context } });
  const stack = buildApp(app);
  beforeSynth?.(stack);
  const assembly = app.synth();
  const json = assembly.getStackByName(stack.stackName).template as Json;
  const logicalId = (construct: { node: { defaultChild?: unknown } } | CfnElement) => {
    const element = ((construct as { node: { defaultChild?: unknown } }).node.defaultChild ?? construct) as CfnElement;
    return (stack as Stack).resolve(element.logicalId) as string;
  };
  return { app, stack, assembly, template: Template.fromJSON(json), json, logicalId };
}

const variants = { container: synth(), zip: synth({ trainRuntime: 'zip' }) };

function resourcesOf(json: Json, type: string): Array<[string, Json]> {
  return Object.entries(json.Resources as Json).filter(([, resource]) => resource.Type === type) as Array<[string, Json]>;
}

function resource(json: Json, logicalId: string): Json {
  const found = (json.Resources as Json)[logicalId] as Json | undefined;
  assert.ok(found, `no resource ${logicalId}`);
  return found;
}

/** All policy statements attached (inline policies) to the role with this logical id. */
function statementsOfRole(json: Json, roleId: string): Json[] {
  return resourcesOf(json, 'AWS::IAM::Policy')
    .filter(([, policy]) => (policy.Properties.Roles as Json[]).some((role) => role.Ref === roleId))
    .flatMap(([, policy]) => policy.Properties.PolicyDocument.Statement as Json[]);
}

const asArray = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);

/** `{"Fn::Join": ["", [{"Fn::GetAtt": [bucket, "Arn"]}, "/sweeps/*"]]}` -> "sweeps/*" (or undefined if not an object ARN of the bucket). */
function objectPattern(arn: unknown, bucketId: string): string | undefined {
  const join = (arn as Json)?.['Fn::Join'] as [string, unknown[]] | undefined;
  if (!join) return undefined;
  const [first, suffix] = join[1] as [Json, string];
  if (first?.['Fn::GetAtt']?.[0] !== bucketId || typeof suffix !== 'string') return undefined;
  return suffix.replace(/^\//, '');
}

function wildcardMatches(pattern: string, key: string): boolean {
  const regex = new RegExp(
    `^${pattern
      .split('*')
      .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
  );
  return regex.test(key);
}

/** The object-key patterns a role may use `action` on, in the artifact bucket. */
function objectGrants(json: Json, roleId: string, bucketId: string, action: string): string[] {
  return statementsOfRole(json, roleId)
    .filter((statement) => statement.Effect === 'Allow' && asArray(statement.Action).includes(action))
    .flatMap((statement) => asArray(statement.Resource).map((arn) => objectPattern(arn, bucketId)))
    .filter((pattern): pattern is string => pattern !== undefined);
}

function functionIds(s: Synthesized): Record<FunctionId, string> {
  return Object.fromEntries(FUNCTION_IDS.map((fn) => [fn, s.logicalId(s.stack.functions[fn])])) as Record<FunctionId, string>;
}

function roleIdOf(json: Json, functionId: string): string {
  return resource(json, functionId).Properties.Role['Fn::GetAtt'][0] as string;
}

describe('CDK app: configuration', () => {
  it('runs with tsx, telemetry off', () => {
    const cdkJson = JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'cdk.json'), 'utf8')) as Json;
    assert.match(cdkJson.app, /\btsx infra\/app\.ts$/);
    assert.equal(cdkJson.context['cli-telemetry'], false);
    assert.equal(cdkJson.versionReporting, false);
  });

  it('rejects bad context values with the key and what is allowed', () => {
    const read = (values: Json) => (key: string) => values[key];
    assert.throws(
      () => settingsFromContext(read({ trainRuntime: 'gpu' })),
      (e: Error) => e instanceof ConfigError && /trainRuntime.*container, zip.*"gpu"/.test(e.message),
    );
    assert.throws(
      () => settingsFromContext(read({ trainMemory: 'lots' })),
      /context trainMemory: expected an integer from 128 to 10240 \(MB\)/,
    );
    assert.throws(() => settingsFromContext(read({ trainTimeout: '901' })), /context trainTimeout: expected an integer from 60 to 900/);
    assert.throws(() => settingsFromContext(read({ logRetentionDays: 10 })), /logRetentionDays: expected one of 1, 3, 5, 7, 14/);
    assert.throws(() => settingsFromContext(read({ alertEmail: 'nobody' })), /alertEmail: expected an e-mail address/);
    const settings = settingsFromContext(read({ trainMemory: '4096', planTimeout: 30, epochsPerCall: '5' }));
    assert.equal(settings.train.memoryMb, 4096);
    assert.equal(settings.plan.timeoutSeconds, 30);
    assert.equal(settings.epochsPerCall, 5);
  });

  it('reads the schedules file, resolves spec files, and names the field of each error', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'floodsweep-schedules-'));
    outdirs.push(dir);
    writeFileSync(path.join(dir, 'spec.yaml'), 'name: from-file\nfloodLevels: [0, 0.1]\nseeds: [0]\n');
    const write = (schedules: unknown[]) => {
      const file = path.join(dir, 'schedules.json');
      writeFileSync(file, JSON.stringify({ schedules }));
      return file;
    };
    const good = {
      name: 'nightly',
      cron: '30 2 * * ? *',
      timeZone: 'Europe/Berlin',
      spec: 'spec.yaml',
      baseline: { sweepId: 'from-file-1' },
    };
    const [schedule] = loadSchedules(write([good]));
    assert.equal(schedule.expression, 'cron(30 2 * * ? *)');
    assert.equal(schedule.enabled, true);
    assert.deepEqual(schedule.input, {
      spec: { name: 'from-file', floodLevels: [0, 0.1], seeds: [0] },
      repro: { name: 'nightly', baseline: { sweepId: 'from-file-1' } },
    });
    const [withFile] = loadSchedules(
      write([{ ...good, baseline: { key: 'baselines/nightly.json' }, tolerances: { metrics: { 'test.acc': 0.01 } } }]),
    );
    assert.deepEqual(withFile.input.repro, {
      name: 'nightly',
      baseline: { key: 'baselines/nightly.json' },
      tolerances: { metrics: { 'test.acc': 0.01 } },
    });
    assert.throws(() => loadSchedules(write([{ ...good, baseline: undefined }])), /schedules\[0\]\.baseline: expected an earlier sweep/);
    assert.throws(
      () => loadSchedules(write([{ ...good, baseline: { key: 'sweeps/x/summary.json' } }])),
      /schedules\[0\]\.baseline\.key: expected a key under baselines\//,
    );
    assert.throws(() => loadSchedules(write([{ ...good, cron: '0 3 * * *' }])), /schedules\[0\]\.cron: .*expected 6 fields/);
    assert.throws(
      () => loadSchedules(write([{ ...good, cron: '0 3 * * MON *' }])),
      /schedules\[0\]\.cron: .*exactly one of day-of-month and day-of-week must be \?/,
    );
    assert.throws(
      () => loadSchedules(write([{ ...good, timeZone: 'Mars/Olympus' }])),
      /schedules\[0\]\.timeZone: expected an IANA time zone/,
    );
    assert.throws(
      () => loadSchedules(write([good, { ...good, cron: '0 1 * * ? *' }])),
      /schedules\[1\]\.name: "nightly" is used by an earlier schedule/,
    );
    assert.throws(() => loadSchedules(write([{ ...good, when: 'always' }])), /schedules\[0\]\.when: unknown field/);
    assert.throws(
      () => loadSchedules(write([{ ...good, spec: 'missing.json' }])),
      /schedules\[0\]\.spec: spec file .*missing\.json does not exist/,
    );
    assert.deepEqual(loadSchedules(path.join(dir, 'none.json')), []);
  });

  it('ships schedule specs the sweep validator accepts', async () => {
    const specModule = path.join(PROJECT_ROOT, 'src', 'sweep', 'spec.ts');
    const schedules = loadSchedules(path.join(PROJECT_ROOT, DEFAULTS.schedulesFile));
    assert.ok(schedules.length > 0);
    if (!existsSync(specModule)) return;
    const { validateSpec } = (await import('../src/sweep/spec.js')) as { validateSpec: (spec: unknown) => unknown };
    for (const schedule of schedules) assert.doesNotThrow(() => validateSpec(schedule.input.spec), schedule.name);
  });
});

describe('CDK app: bundling options', () => {
  it('gives NodejsFunction and the esbuild JS API the same options', () => {
    for (const fn of FUNCTION_IDS) {
      const cdk = nodejsBundling(fn);
      const api = esbuildOptions(fn, { projectRoot: PROJECT_ROOT, outdir: '/out' });
      assert.equal(cdk.format, api.format);
      assert.equal(cdk.target, api.target);
      assert.equal(cdk.banner, api.banner?.js);
      assert.deepEqual(cdk.externalModules, api.external);
      assert.deepEqual(cdk.mainFields, api.mainFields);
      assert.deepEqual(cdk.loader, api.loader);
      assert.equal(cdk.minify, api.minify);
      assert.equal(cdk.keepNames, api.keepNames);
      assert.equal(cdk.logLevel, api.logLevel);
      assert.equal(cdk.forceDockerBundling, false);
      assert.equal(api.platform, 'node');
      assert.equal(api.bundle, true);
      assert.deepEqual(api.entryPoints, [path.join(PROJECT_ROOT, STEPS[fn].handler)]);
      assert.equal(api.outfile, '/out/index.mjs');
      // NodejsFunction passes the banner as one CLI argument.
      assert.doesNotMatch(BANNER, /["$\n]/);
      assert.deepEqual(cdk.commandHooks!.beforeBundling('/in', '/out'), checkNativePackageCommands('/in'));
      // The command hooks copy the same runtime files as copyRuntimeFiles.
      const commands = cdk.commandHooks!.afterBundling('/in', '/out');
      assert.deepEqual(commands, copyRuntimeFileCommands(fn, '/in', '/out'));
      assert.equal(commands.length, RUNTIME_FILES[fn].length);
      for (const file of RUNTIME_FILES[fn]) assert.ok(existsSync(path.join(PROJECT_ROOT, file.from)), file.from);
    }
    for (const name of LAMBDA_NATIVE_PACKAGES) assert.ok(existsSync(path.join(PROJECT_ROOT, 'node_modules', name, 'package.json')), name);
    assert.ok(EXTERNAL_MODULES.includes('@tensorflow/tfjs-node'));
    assert.ok(!EXTERNAL_MODULES.some((name) => name.startsWith('@aws-sdk')), 'the AWS SDK is bundled');
    assert.equal(esbuildOptions('train', { projectRoot: PROJECT_ROOT, outdir: '/out', variant: 'image' }).external, IMAGE_EXTERNAL_MODULES);
  });

  it('builds the training image on Node 22 with tfjs-node from its own lock, which agrees with the project lock', () => {
    const dockerfile = readFileSync(path.join(PROJECT_ROOT, 'Dockerfile'), 'utf8');
    assert.match(dockerfile, /^ARG NODE_MAJOR=22$/m);
    assert.match(dockerfile, /^ARG BASE_DIGEST=(@sha256:[0-9a-f]{64})?$/m);
    assert.equal(dockerfile.match(/^FROM public\.ecr\.aws\/lambda\/nodejs:\$\{NODE_MAJOR\}\$\{BASE_DIGEST\}/gm)?.length, 2);
    assert.match(dockerfile, /infra\/build-image\.ts/);
    assert.match(dockerfile, /COPY infra\/image\/package\.json infra\/image\/package-lock\.json/);
    assert.match(dockerfile, /RUN npm ci --omit=dev/);
    assert.match(dockerfile, /check-training\.mjs tfjs-node/);
    assert.match(dockerfile, /CMD \["index\.handler"\]/);
    const dockerignore = readFileSync(path.join(PROJECT_ROOT, '.dockerignore'), 'utf8');
    for (const file of ['infra/image/package.json', 'infra/image/package-lock.json']) {
      assert.ok(dockerignore.split('\n').includes(`!${file}`), `.dockerignore lets ${file} in`);
    }

    type Lock = { packages: Record<string, { version?: string; dependencies?: Record<string, string> }> };
    const readJson = (file: string) => JSON.parse(readFileSync(path.join(PROJECT_ROOT, file), 'utf8'));
    const image = readJson('infra/image/package.json') as { dependencies: Record<string, string>; allowScripts: Record<string, boolean> };
    const imageLock = readJson('infra/image/package-lock.json') as Lock;
    const project = readJson('package.json') as Record<'dependencies' | 'optionalDependencies', Record<string, string>>;
    const projectLock = readJson('package-lock.json') as Lock;
    // Every @tensorflow package the project uses, exactly at the version the project lock pins.
    const tensorflow = Object.keys({ ...project.dependencies, ...project.optionalDependencies }).filter((name) =>
      name.startsWith('@tensorflow/'),
    );
    assert.deepEqual(Object.keys(image.dependencies).sort(), tensorflow.sort());
    for (const name of tensorflow) assert.equal(image.dependencies[name], projectLock.packages[`node_modules/${name}`].version, name);
    assert.deepEqual(imageLock.packages[''].dependencies, image.dependencies, 'the image lock was generated from its package.json');
    // By package name, wherever npm hoisted it.
    const lockedVersions = (lock: Lock) =>
      Object.entries(lock.packages)
        .map(([key, entry]) => `${key.slice(key.lastIndexOf('node_modules/') + 'node_modules/'.length)}@${entry.version}`)
        .filter((locked) => locked.startsWith('@tensorflow/'));
    const projectTensorflow = new Set(lockedVersions(projectLock));
    for (const locked of lockedVersions(imageLock)) assert.ok(projectTensorflow.has(locked), `${locked} is not in package-lock.json`);
    // tfjs-node's install script downloads libtensorflow; core-js's only prints a banner.
    assert.deepEqual(image.allowScripts, { '@tensorflow/tfjs-node': true, 'core-js': false });
  });
});

for (const [variant, s] of Object.entries(variants)) {
  describe(`CDK stack (trainRuntime=${variant})`, () => {
    const { json, template } = s;
    const bucketId = s.logicalId(s.stack.bucket);
    const tableId = s.logicalId(s.stack.table);
    const stateMachineId = s.logicalId(s.stack.stateMachine);
    const ids = functionIds(s);

    it('has an encrypted, private, TLS-only, logged artifact bucket with a checkpoint lifecycle rule, retained', () => {
      const bucket = resource(json, bucketId);
      assert.equal(bucket.DeletionPolicy, 'Retain');
      assert.deepEqual(bucket.Properties.BucketEncryption, {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      });
      assert.deepEqual(bucket.Properties.PublicAccessBlockConfiguration, {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      });
      const logsBucketId = bucket.Properties.LoggingConfiguration.DestinationBucketName.Ref as string;
      assert.ok(resource(json, logsBucketId).Type === 'AWS::S3::Bucket');
      const rules = bucket.Properties.LifecycleConfiguration.Rules as Json[];
      assert.deepEqual(
        rules.find((rule) => rule.Id === 'ExpireMapResults'),
        { Id: 'ExpireMapResults', Prefix: 'map-results/', ExpirationInDays: DEFAULTS.checkpointExpirationDays, Status: 'Enabled' },
        "the Distributed Map's exported results expire",
      );
      const checkpoints = rules.find((rule) => rule.Id === 'ExpireCheckpoints');
      assert.deepEqual(checkpoints, {
        Id: 'ExpireCheckpoints',
        Prefix: 'sweeps/',
        TagFilters: [{ Key: CHECKPOINT_TAG.key, Value: CHECKPOINT_TAG.value }],
        ExpirationInDays: DEFAULTS.checkpointExpirationDays,
        Status: 'Enabled',
      });
      // TLS enforced on both buckets.
      for (const id of [bucketId, logsBucketId]) {
        const policy = resourcesOf(json, 'AWS::S3::BucketPolicy').find(([, p]) => p.Properties.Bucket.Ref === id);
        assert.ok(policy, `no bucket policy on ${id}`);
        const denies = (policy[1].Properties.PolicyDocument.Statement as Json[]).filter((st) => st.Effect === 'Deny');
        assert.ok(
          denies.some((st) => st.Condition?.Bool?.['aws:SecureTransport'] === 'false'),
          `${id}: no TLS-only statement`,
        );
      }
    });

    it('has an on-demand metrics table with point-in-time recovery and the newest-first index, retained', () => {
      const table = resource(json, tableId);
      assert.equal(table.DeletionPolicy, 'Retain');
      assert.equal(table.UpdateReplacePolicy, 'Retain');
      const expected = createTableInput('x');
      assert.equal(table.Properties.BillingMode, expected.BillingMode);
      assert.deepEqual(table.Properties.PointInTimeRecoverySpecification, { PointInTimeRecoveryEnabled: true });
      assert.deepEqual(table.Properties.KeySchema, expected.KeySchema);
      const byName = (list: Json[]) => [...list].sort((a, b) => String(a.AttributeName).localeCompare(String(b.AttributeName)));
      assert.deepEqual(byName(table.Properties.AttributeDefinitions), byName(expected.AttributeDefinitions as Json[]));
      assert.deepEqual(table.Properties.GlobalSecondaryIndexes, expected.GlobalSecondaryIndexes);
    });

    it('runs plan, record-failure, aggregate and compare as Node 22 zip functions with their sizing and environment', () => {
      const sizing = perStep((fn) => [defaultMemoryMb(fn, variant as 'zip' | 'container'), STEPS[fn].timeoutSeconds]);
      for (const fn of FUNCTION_IDS) {
        const props = resource(json, ids[fn]).Properties;
        assert.deepEqual([props.MemorySize, props.Timeout], sizing[fn], fn);
        assert.deepEqual(props.Architectures, ['x86_64']);
        assert.deepEqual(props.Environment.Variables[ENV_NAMES.table], { Ref: tableId });
        assert.deepEqual(props.Environment.Variables[ENV_NAMES.bucket], { Ref: bucketId });
        assert.ok(props.LoggingConfig.LogGroup.Ref, `${fn} logs to its own log group`);
        if (fn === 'train' && variant === 'container') continue;
        assert.equal(props.Runtime, 'nodejs22.x', fn);
        assert.equal(props.Handler, 'index.handler', fn);
      }
      assert.equal(resource(json, ids.plan).Properties.Environment.Variables[ENV_NAMES.maxConcurrency], String(DEFAULTS.maxConcurrency));
      // Aggregate and Compare draw the report's figures with the fonts copied beside their bundles.
      assert.equal(resource(json, ids.aggregate).Properties.Environment.Variables.FLOODSWEEP_FONT_DIR, '/var/task/fonts');
      assert.equal(resource(json, ids.compare).Properties.Environment.Variables.FLOODSWEEP_FONT_DIR, '/var/task/fonts');
      assert.equal(STEPS.train.timeoutSeconds, 900, 'a training call may use the whole 15 minutes');
    });

    it(`runs train ${variant === 'container' ? 'as a tfjs-node container image' : 'as a wasm zip function'}`, () => {
      const train = resource(json, ids.train);
      const env = train.Properties.Environment.Variables as Json;
      if (variant === 'container') {
        assert.equal(train.Properties.PackageType, 'Image');
        assert.equal(train.Properties.Runtime, undefined);
        assert.match(JSON.stringify(train.Properties.Code.ImageUri), /container-assets/);
        assert.equal(env[ENV_NAMES.backend], 'tfjs-node');
        const assets = JSON.parse(readFileSync(path.join(s.assembly.directory, `${s.stack.stackName}.assets.json`), 'utf8')) as Json;
        const images = Object.values(assets.dockerImages as Json) as Json[];
        assert.equal(images.length, 1);
        assert.equal(images[0].source.platform, 'linux/amd64');
        assert.equal(images[0].source.dockerFile, 'Dockerfile');
      } else {
        assert.equal(train.Properties.PackageType, undefined);
        assert.equal(env[ENV_NAMES.backend], 'wasm');
        assert.equal(env.FLOODSWEEP_WASM_DIR, '/var/task');
      }
    });

    it('loads the shared workflow file unchanged, with every substitution bound to its resource', () => {
      const machine = resource(json, stateMachineId).Properties;
      const key = machine.DefinitionS3Location.Key as string;
      const asset = path.join(s.assembly.directory, `asset.${key}`);
      const workflowText = readFileSync(WORKFLOW_FILE, 'utf8');
      assert.equal(readFileSync(asset, 'utf8'), workflowText);

      const substitutions = machine.DefinitionSubstitutions as Json;
      const expected: Json = {
        ArtifactBucket: { Ref: bucketId },
        AlertTopicArn: { Ref: s.logicalId(s.stack.alertTopic) },
        Partition: { Ref: 'AWS::Partition' },
      };
      for (const fn of FUNCTION_IDS) expected[functionArnSubstitution(fn)] = { 'Fn::GetAtt': [ids[fn], 'Arn'] };
      assert.deepEqual(substitutions, expected);
      const used = new Set([...workflowText.matchAll(/\$\{(\w+)\}/g)].map((m) => m[1]));
      assert.deepEqual([...used].sort(), Object.keys(expected).sort(), 'every placeholder is substituted, and nothing else');

      // The definition after substitution: the file with each placeholder replaced by its value.
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the workflow file's placeholder, not a template
      const PARTITION_PLACEHOLDER = '${Partition}';
      const substitute = (value: unknown): unknown => {
        if (typeof value === 'string') {
          const whole = /^\$\{(\w+)\}$/.exec(value);
          if (whole) return substitutions[whole[1]];
          // Inside a string (an ARN) only the partition is substituted: CloudFormation fills it in.
          const withPartition = value.replaceAll(PARTITION_PLACEHOLDER, '<Partition>');
          assert.doesNotMatch(withPartition, /\$\{/, `partial placeholder in ${value}`);
          return withPartition;
        }
        if (Array.isArray(value)) return value.map(substitute);
        if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitute(v)]));
        return value;
      };
      const definition = substitute(JSON.parse(readFileSync(asset, 'utf8'))) as Json;
      assert.deepEqual(definition, substitute(JSON.parse(workflowText)));
      assert.deepEqual(definition.States.Plan.Resource, { 'Fn::GetAtt': [ids.plan, 'Arn'] });
      const map = definition.States.TrainAll as Json;
      assert.equal(map.Type, 'Map');
      assert.deepEqual(map.ItemReader.Parameters.Bucket, { Ref: bucketId });
      assert.equal(map.ItemReader.Resource, 'arn:<Partition>:states:::s3:getObject');
      assert.doesNotMatch(workflowText, /arn:aws:/, 'ARNs follow the partition of the stack');
      // Fit for thousands of tasks: the children's outputs go to S3, not into the Map's 256 KiB result.
      assert.equal(map.ResultWriter.Resource, 'arn:<Partition>:states:::s3:putObject');
      assert.deepEqual(map.ResultWriter.Parameters.Bucket, { Ref: bucketId });
      assert.equal(map.ResultWriter.Parameters['Prefix.$'], "States.Format('map-results/{}', $.plan.sweepId)");
      assert.equal(map.ToleratedFailurePercentage, 100, 'a child whose RecordFailure fails never aborts the sweep');
      for (const name of ['TrainAll', 'Aggregate', 'Compare']) {
        assert.deepEqual(
          definition.States[name].Catch,
          [{ ErrorEquals: ['States.ALL'], ResultPath: '$.failure', Next: 'MarkSweepFailed' }],
          name,
        );
      }
      assert.deepEqual(definition.States.MarkSweepFailed.Resource, { 'Fn::GetAtt': [ids.recordFailure, 'Arn'] });
      assert.equal(definition.States[definition.States.MarkSweepFailed.Next].Type, 'Fail');
      // Retriers: jittered and capped; throttling waits longer; Train resumes after transient errors.
      const tasks = [
        ...Object.entries(definition.States as Record<string, Json>),
        ...Object.entries(map.ItemProcessor.States as Record<string, Json>),
      ].filter(([, state]) => state.Type === 'Task' && typeof state.Resource === 'object');
      for (const [name, state] of tasks) {
        const retriers = state.Retry as Json[];
        for (const retrier of retriers) {
          assert.equal(retrier.JitterStrategy, 'FULL', name);
          assert.ok(retrier.MaxDelaySeconds > 0, name);
        }
        const throttling = retriers.find((r) => r.ErrorEquals.includes('Lambda.TooManyRequestsException'));
        const service = retriers.find((r) => r.ErrorEquals.includes('Lambda.ClientExecutionTimeoutException'));
        assert.ok(
          throttling && service && throttling.MaxAttempts > service.MaxAttempts && throttling.MaxDelaySeconds > service.MaxDelaySeconds,
          name,
        );
        const fn = Object.entries(ids).find(([, id]) => state.Resource['Fn::GetAtt']?.[0] === id)?.[0] as FunctionId;
        assert.ok(state.TimeoutSeconds > resource(json, ids[fn]).Properties.Timeout, `${name}: the state outlives its function`);
      }
      const trainRetriers = map.ItemProcessor.States.Train.Retry as Json[];
      assert.ok(trainRetriers.some((r) => ['StoreError', 'Runtime.ExitError', 'States.Timeout'].every((e) => r.ErrorEquals.includes(e))));
      assert.deepEqual(map.ItemProcessor.ProcessorConfig, { Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' });
      assert.equal(map.MaxConcurrencyPath, '$.plan.maxConcurrency');
      assert.deepEqual(map.ItemProcessor.States.Train.Resource, { 'Fn::GetAtt': [ids.train, 'Arn'] });
      assert.deepEqual(map.ItemProcessor.States.RecordFailure.Resource, { 'Fn::GetAtt': [ids.recordFailure, 'Arn'] });
      assert.deepEqual(definition.States.Aggregate.Resource, { 'Fn::GetAtt': [ids.aggregate, 'Arn'] });
      if (definition.States.Compare) assert.deepEqual(definition.States.Compare.Resource, { 'Fn::GetAtt': [ids.compare, 'Arn'] });
    });

    it('is a standard state machine logging all events, with execution data, traced by X-Ray', () => {
      const machine = resource(json, stateMachineId).Properties;
      assert.equal(machine.StateMachineType, 'STANDARD');
      assert.equal(machine.LoggingConfiguration.Level, 'ALL');
      assert.equal(machine.LoggingConfiguration.IncludeExecutionData, true);
      assert.deepEqual(machine.TracingConfiguration, { Enabled: true });
      const logGroupId = machine.LoggingConfiguration.Destinations[0].CloudWatchLogsLogGroup.LogGroupArn['Fn::GetAtt'][0];
      assert.equal(resource(json, logGroupId).Properties.RetentionInDays, DEFAULTS.logRetentionDays);
    });

    it('lets the state machine invoke exactly its functions, read manifests, publish alerts and run Distributed Map child executions', () => {
      const roleId = machineRoleId();
      const statements = statementsOfRole(json, roleId);
      const invoke = statements.filter((st) => asArray(st.Action).includes('lambda:InvokeFunction'));
      assert.equal(invoke.length, 1);
      assert.deepEqual(new Set(asArray(invoke[0].Resource)), new Set(FUNCTION_IDS.map((fn) => ({ 'Fn::GetAtt': [ids[fn], 'Arn'] }))));
      assert.deepEqual(objectGrants(json, roleId, bucketId, 's3:GetObject'), [KEY_PATTERNS.manifest, KEY_PATTERNS.mapResults]);
      assert.deepEqual(objectGrants(json, roleId, bucketId, 's3:PutObject'), [KEY_PATTERNS.mapResults], 'the ResultWriter');

      const start = statements.find((st) => asArray(st.Action).includes('states:StartExecution'));
      assert.deepEqual(start?.Resource, { Ref: stateMachineId });
      const publish = statements.find((st) => asArray(st.Action).includes('sns:Publish'));
      assert.deepEqual(publish?.Resource, { Ref: s.logicalId(s.stack.alertTopic) });
      const describe = statements.find((st) => asArray(st.Action).includes('states:DescribeExecution'));
      assert.ok(describe && asArray(describe.Action).includes('states:StopExecution'));
      const executionArns = asArray(describe.Resource).map((arn) => JSON.stringify(arn));
      assert.ok(
        executionArns.some((arn) => arn.includes(`":execution:",{"Fn::GetAtt":["${stateMachineId}","Name"]},"/*"`)),
        executionArns.join(),
      );
      // Only the logs-delivery and X-Ray actions, which have no resource-level permissions, use "*".
      const anywhere = statements.filter((st) => asArray(st.Resource).includes('*')).flatMap((st) => asArray(st.Action) as string[]);
      assert.ok(
        anywhere.every((action) => action.startsWith('logs:') || action.startsWith('xray:')),
        anywhere.join(),
      );
    });

    function machineRoleId(): string {
      return resource(json, stateMachineId).Properties.RoleArn['Fn::GetAtt'][0] as string;
    }

    it('grants each function only the table and the object keys it uses', () => {
      const keys = sweepKeys('sweep-1');
      const samples = {
        spec: keys.spec,
        manifest: keys.manifest,
        checkpoint: keys.taskCheckpoint('task-1'),
        result: keys.taskResult('task-1'),
        summary: keys.summary,
        report: keys.report,
        plot: keys.plot('loss.png'),
        repro: keys.repro,
        baseline: 'baselines/demo.json',
      };
      const expectedWrites: Record<FunctionId, Array<keyof typeof samples>> = {
        plan: ['spec', 'manifest'],
        train: ['checkpoint', 'result'],
        recordFailure: [],
        aggregate: ['summary', 'report', 'plot'],
        compare: ['repro', 'report', 'plot'],
      };
      const expectedReads: Record<FunctionId, Array<keyof typeof samples>> = {
        // A resume compares the given spec with the stored one.
        plan: ['spec'],
        train: ['checkpoint', 'result'],
        recordFailure: [],
        aggregate: ['spec', 'manifest', 'checkpoint', 'result', 'summary', 'report', 'plot', 'repro'],
        compare: Object.keys(samples) as Array<keyof typeof samples>,
      };
      for (const fn of FUNCTION_IDS) {
        const roleId = roleIdOf(json, ids[fn]);
        const role = resource(json, roleId);
        assert.equal(role.Properties.ManagedPolicyArns, undefined, `${fn}: no managed policies`);
        const can = (action: string, key: string) => objectGrants(json, roleId, bucketId, action).some((p) => wildcardMatches(p, key));
        for (const [name, key] of Object.entries(samples)) {
          assert.equal(can('s3:PutObject', key), expectedWrites[fn].includes(name as keyof typeof samples), `${fn} write ${key}`);
          assert.equal(can('s3:GetObject', key), expectedReads[fn].includes(name as keyof typeof samples), `${fn} read ${key}`);
          const deletes = fn === 'plan' && (name === 'checkpoint' || name === 'result');
          assert.equal(can('s3:DeleteObject', key), deletes, `${fn} delete ${key}`);
        }
        const statements = statementsOfRole(json, roleId);
        const tableActions = statements
          .filter((st) => JSON.stringify(st.Resource) === JSON.stringify({ 'Fn::GetAtt': [tableId, 'Arn'] }))
          .flatMap((st) => asArray(st.Action));
        assert.deepEqual(tableActions, ACCESS[fn].dynamodb, fn);
        assert.ok(
          statements.every((st) => !asArray(st.Resource).includes('*') && !asArray(st.Action).some((a: string) => a.endsWith('*'))),
          `${fn}: no wildcard resources or actions`,
        );
        const logGroupId = resource(json, ids[fn]).Properties.LoggingConfig.LogGroup.Ref;
        assert.ok(
          statements.some((st) => asArray(st.Action).includes('logs:PutLogEvents') && st.Resource['Fn::GetAtt']?.[0] === logGroupId),
          `${fn} writes its own log group`,
        );
      }
    });

    it('starts reproducibility runs on the configured schedules', () => {
      const configured = loadSchedules(path.join(PROJECT_ROOT, DEFAULTS.schedulesFile));
      const schedules = resourcesOf(json, 'AWS::Scheduler::Schedule').map(([, r]) => r.Properties as Json);
      assert.equal(schedules.length, configured.length);
      for (const expected of configured) {
        const schedule = schedules.find((p) => p.Name === `${s.stack.stackName}-${expected.name}`);
        assert.ok(schedule, expected.name);
        assert.equal(schedule.ScheduleExpression, expected.expression);
        assert.equal(schedule.ScheduleExpressionTimezone, expected.timeZone);
        assert.equal(schedule.State, expected.enabled ? 'ENABLED' : 'DISABLED');
        assert.deepEqual(schedule.Target.Arn, { Ref: stateMachineId });
        assert.deepEqual(JSON.parse(schedule.Target.Input), expected.input);
        const roleId = schedule.Target.RoleArn['Fn::GetAtt'][0] as string;
        const statements = statementsOfRole(json, roleId);
        assert.deepEqual(
          statements.map((st) => [st.Action, st.Resource]),
          [['states:StartExecution', { Ref: stateMachineId }]],
        );
      }
    });

    it('alerts an encrypted SNS topic when an execution fails, times out or is aborted', () => {
      const topicId = s.logicalId(s.stack.alertTopic);
      const topic = resource(json, topicId).Properties;
      const keyId = topic.KmsMasterKeyId['Fn::GetAtt'][0] as string;
      assert.equal(resource(json, keyId).Properties.EnableKeyRotation, true);
      const found = resourcesOf(json, 'AWS::Events::Rule').find(([, r]) => r.Properties.EventPattern?.source?.[0] === 'aws.states');
      assert.ok(found);
      const [ruleId, { Properties: rule }] = found;
      assert.deepEqual(rule.EventPattern.detail, {
        stateMachineArn: [{ Ref: stateMachineId }],
        status: ['FAILED', 'TIMED_OUT', 'ABORTED'],
      });
      assert.deepEqual(rule.Targets[0].Arn, { Ref: topicId });
      template.hasResourceProperties('AWS::SNS::TopicPolicy', {
        PolicyDocument: {
          Statement: [
            { Effect: 'Deny', Action: 'sns:Publish', Condition: { Bool: { 'aws:SecureTransport': 'false' } } },
            {
              Effect: 'Allow',
              Action: 'sns:Publish',
              Principal: { Service: 'events.amazonaws.com' },
              Condition: { ArnEquals: { 'aws:SourceArn': { 'Fn::GetAtt': [ruleId, 'Arn'] } } },
            },
          ],
        },
      });
      // Every grant to EventBridge carries its condition: one without would make the others moot.
      const granted = [
        ...(resource(json, keyId).Properties.KeyPolicy.Statement as Json[]),
        ...resourcesOf(json, 'AWS::SNS::TopicPolicy').flatMap(([, p]) => p.Properties.PolicyDocument.Statement as Json[]),
      ].filter((statement) => statement.Effect === 'Allow' && statement.Principal?.Service === 'events.amazonaws.com');
      assert.equal(granted.length, 2);
      for (const statement of granted) assert.ok(statement.Condition, JSON.stringify(statement));
    });

    it('outputs the bucket, the table and the state machine ARN', () => {
      assert.deepEqual(json.Outputs.BucketName.Value, { Ref: bucketId });
      assert.deepEqual(json.Outputs.TableName.Value, { Ref: tableId });
      assert.deepEqual(json.Outputs.StateMachineArn.Value, { Ref: stateMachineId });
    });

    it('passes cdk-nag AwsSolutions checks with nothing left unacknowledged', () => {
      // app.synth() above would have thrown on an unacknowledged finding; the report says so too.
      const report = JSON.parse(readFileSync(path.join(s.assembly.directory, 'validation-report.json'), 'utf8')) as Json;
      const violations = (report.pluginReports as Json[]).flatMap((plugin) => (plugin.violations ?? []) as Json[]);
      assert.deepEqual(violations, []);
    });
  });
}

describe('CDK app: context and checks', () => {
  it('sizes functions and caps concurrency from context', () => {
    const s = synth({
      trainRuntime: 'zip',
      trainMemory: '4096',
      trainTimeout: '600',
      aggregateMemory: 3008,
      maxConcurrency: '25',
      epochsPerCall: '3',
      alertEmail: 'ops@example.com',
    });
    const ids = functionIds(s);
    const train = resource(s.json, ids.train).Properties;
    assert.deepEqual([train.MemorySize, train.Timeout], [4096, 600]);
    // The CLI reads it to refuse tasks that cannot fit the train function.
    assert.equal(s.json.Outputs.TrainMemoryMb.Value, '4096');
    assert.equal(train.Environment.Variables[ENV_NAMES.epochsPerCall], '3');
    assert.equal(resource(s.json, ids.aggregate).Properties.MemorySize, 3008);
    assert.equal(resource(s.json, ids.plan).Properties.Environment.Variables[ENV_NAMES.maxConcurrency], '25');
    // Plan checks the Train loop's history budget against the epochs per call.
    assert.equal(resource(s.json, ids.plan).Properties.Environment.Variables[ENV_NAMES.epochsPerCall], '3');
    assert.equal(s.json.Outputs.MaxConcurrency.Value, '25');
    assert.equal(train.ReservedConcurrentExecutions, undefined, 'no reserved concurrency unless asked for');
    s.template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'ops@example.com' });
    // More memory than a new account allows: the deploy says what to do.
    const warnings = Annotations.fromStack(s.stack).findWarning(`/${s.stack.stackName}/TrainFunction`, Match.anyValue());
    assert.match(
      String(warnings[0]?.entry.data),
      /train memory 4096 MB: a new AWS account may allow at most 3008 MB .* -c trainMemory=3008/,
    );
  });

  it("reserves Train's concurrency when told, and caps the Map to it, leaving the account's rest to the other steps", () => {
    const s = synth({ trainRuntime: 'zip', trainReservedConcurrency: '40', trainMemory: '3008' });
    const ids = functionIds(s);
    const train = resource(s.json, ids.train).Properties;
    assert.equal(train.ReservedConcurrentExecutions, 40);
    for (const fn of FUNCTION_IDS.filter((id) => id !== 'train')) {
      assert.equal(resource(s.json, ids[fn]).Properties.ReservedConcurrentExecutions, undefined, fn);
    }
    assert.equal(resource(s.json, ids.plan).Properties.Environment.Variables[ENV_NAMES.maxConcurrency], '40');
    assert.equal(s.json.Outputs.MaxConcurrency.Value, '40');
    assert.equal(s.json.Outputs.TrainReservedConcurrency.Value, '40');
    assert.deepEqual(Annotations.fromStack(s.stack).findWarning('*', Match.stringLikeRegexp('new AWS account')), []);
    assert.throws(
      () => settingsFromContext((key) => ({ trainReservedConcurrency: '0' })[key]),
      /context trainReservedConcurrency: expected an integer from 1 to 10000/,
    );
  });

  it('acknowledges exactly the cdk-nag findings that remain without acknowledgements, each with a reason', () => {
    for (const trainRuntime of ['container', 'zip']) {
      const outdir = mkdtempSync(path.join(tmpdir(), 'floodsweep-cdk-'));
      outdirs.push(outdir);
      const app = new App({ outdir, context: { 'aws:cdk:bundling-stacks': [], trainRuntime } });
      const stack = buildApp(app, { acknowledgeNagFindings: false });
      const consoleError = console.error;
      console.error = () => {};
      try {
        assert.throws(() => app.synth(), /Validation failed/);
      } finally {
        console.error = consoleError;
      }
      const report = JSON.parse(readFileSync(path.join(outdir, 'validation-report.json'), 'utf8')) as Json;
      const findings = (report.pluginReports as Json[]).flatMap((plugin) =>
        (plugin.violations as Json[]).flatMap((v) =>
          (v.violatingConstructs as Json[]).map((c) => ({ id: v.ruleName as string, path: c.constructPath as string })),
        ),
      );
      const acknowledged = stack.nagAcknowledgements;
      for (const ack of acknowledged) assert.ok(ack.reason.length > 20, `${ack.id}: reason`);
      const covers = (ack: { id: string; path: string }, finding: { id: string; path: string }) =>
        ack.id === finding.id && (finding.path === ack.path || finding.path.startsWith(`${ack.path}/`));
      const uncovered = findings.filter((finding) => !acknowledged.some((ack) => covers(ack, finding)));
      const unused = acknowledged.filter((ack) => !findings.some((finding) => covers(ack, finding)));
      assert.deepEqual(uncovered, [], `${trainRuntime}: findings without acknowledgement`);
      assert.deepEqual(unused, [], `${trainRuntime}: acknowledgements without finding`);
      assert.ok(
        findings.every((finding) => finding.id.startsWith('AwsSolutions-IAM5[') || finding.id === 'AwsSolutions-L1'),
        'only wildcard resources and the Node 22 runtime (tfjs-node supports no newer) are acknowledged',
      );
    }
  });

  it('fails synthesis on a cdk-nag finding that is not acknowledged, and reports it', () => {
    const outdir = mkdtempSync(path.join(tmpdir(), 'floodsweep-cdk-'));
    outdirs.push(outdir);
    const app = new App({ outdir, context: { 'aws:cdk:bundling-stacks': [], trainRuntime: 'zip' } });
    const stack = buildApp(app);
    new s3.Bucket(stack, 'UnloggedBucket');
    // CDK prints the failed report to the console as well: keep the test output clean.
    const consoleError = console.error;
    console.error = () => {};
    try {
      assert.throws(() => app.synth(), /Validation failed/);
    } finally {
      console.error = consoleError;
    }
    const report = JSON.parse(readFileSync(path.join(outdir, 'validation-report.json'), 'utf8')) as Json;
    const findings = (report.pluginReports as Json[]).flatMap((plugin) =>
      (plugin.violations as Json[]).flatMap((v) => (v.violatingConstructs as Json[]).map((c) => `${v.ruleName} ${c.constructPath}`)),
    );
    assert.deepEqual(findings.sort(), [
      'AwsSolutions-S1 Floodsweep/UnloggedBucket/Resource',
      'AwsSolutions-S10 Floodsweep/UnloggedBucket/Resource',
    ]);
  });
});
