/**
 * The CDK app (cdk.json runs it with tsx). Context: see infra/config.ts and docs/cloud.md, e.g.
 * `npx cdk deploy -c trainRuntime=zip -c trainMemory=2048`. cdk-nag's AwsSolutions checks run on
 * every synth: a finding that is neither fixed nor acknowledged fails it.
 */
import path from 'node:path';
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ConfigError, loadSchedules, settingsFromContext } from './config.js';
import { FloodsweepStack, PROJECT_ROOT } from './stack.js';

export const DEFAULT_STACK_NAME = 'Floodsweep';

/** Builds the app's stack on `app`, from its context; shared by this entry point and the tests. */
export function buildApp(app: App, options: { acknowledgeNagFindings?: boolean } = {}): FloodsweepStack {
  const settings = settingsFromContext((key) => app.node.tryGetContext(key));
  const schedules = loadSchedules(path.resolve(PROJECT_ROOT, settings.schedulesFile));
  const stackName = (app.node.tryGetContext('stackName') as string | undefined) ?? DEFAULT_STACK_NAME;
  const stack = new FloodsweepStack(app, stackName, {
    settings,
    schedules,
    acknowledgeNagFindings: options.acknowledgeNagFindings,
    description: 'floodsweep: flood-level sweeps on Step Functions Distributed Map + Lambda',
    // Environment-agnostic: deploys to the account and region of the credentials in use.
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return stack;
}

const isMain = process.argv[1] !== undefined && path.resolve(process.argv[1]) === path.resolve(PROJECT_ROOT, 'infra', 'app.ts');
if (isMain) {
  try {
    const app = new App();
    buildApp(app);
    app.synth();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`floodsweep: ${error.message}`);
      process.exit(2);
    }
    throw error;
  }
}
