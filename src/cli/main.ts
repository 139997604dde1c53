import { Command } from 'commander';
import { registerDemo } from './demo.js';
import { reportError } from './errors.js';
import { registerRepro } from './repro.js';
import { registerSweep } from './sweep.js';
import { registerTrain } from './train.js';

// The AWS SDK warns on every Node 20 run that *future* SDK versions will need Node 22; the locked
// versions work, and the warning would bury the one-line errors this CLI promises.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const program = new Command('floodsweep')
  .description('Sweeps over the flood level of the flooding regularizer (Ishida et al., ICML 2020), locally or on AWS')
  .option('--debug', 'print stack traces of errors')
  .exitOverride()
  .showHelpAfterError('(add --help for usage)');
registerTrain(program);
registerDemo(program);
registerSweep(program);
registerRepro(program);
for (const command of program.commands) command.exitOverride();

try {
  await program.parseAsync(process.argv);
  process.exitCode ??= 0;
} catch (error) {
  process.exitCode = reportError(error, Boolean(program.opts().debug) || process.argv.includes('--debug'));
}
// Worker threads and the wasm runtime must not keep a finished command alive.
process.exit(process.exitCode);
