import { createRequire } from 'node:module';
import { Command, CommanderError } from 'commander';
import { EXIT_BAD_INPUT, exitCodeOf, kindOf } from '../errors.js';
import { registerDemo } from './demo.js';
import { invocation } from './invocation.js';
import { registerRepro } from './repro.js';
import { sanitize } from './sanitize.js';
import { registerSweep } from './sweep.js';
import { registerTrain } from './train.js';
import { registerUi } from './ui.js';

// The AWS SDK warns on every Node 20 run that *future* SDK versions will need Node 22; the locked
// versions work, and the warning would bury the one-line errors this CLI promises.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

// The same relative path from src/cli/ and from the built dist/cli/.
const { version } = createRequire(import.meta.url)('../../package.json') as { version: string };

const program = new Command('floodsweep')
  .description('Sweeps over the flood level of the flooding regularizer (Ishida et al., ICML 2020), locally or on AWS')
  .version(version, '--version', 'print the version')
  .option('--debug', 'print stack traces of errors')
  .addHelpText(
    'after',
    '\nExamples:\n  $ floodsweep demo --quick\n  $ floodsweep sweep run examples/tiny.json\n  $ floodsweep help sweep run',
  );
registerTrain(program);
registerDemo(program);
registerSweep(program);
registerRepro(program);
registerUi(program);
configure(program);

const debug = process.argv.includes('--debug');
try {
  await program.parseAsync(helpAsFlag(process.argv));
  process.exitCode ??= 0;
} catch (error) {
  process.exitCode = report(error, debug);
}
// Worker threads and the wasm runtime must not keep a finished command alive.
process.exit(process.exitCode);

/** Every command: errors thrown instead of exiting, and commander's messages in the project's one-line style. */
function configure(command: Command): void {
  command.exitOverride().configureOutput({ outputError: (text, write) => write(reword(text, command)) });
  command.showHelpAfterError(false);
  for (const sub of command.commands) configure(sub);
}

/** `floodsweep help sweep run` is `floodsweep sweep run --help`, at any depth. */
function helpAsFlag(argv: string[]): string[] {
  const [node, script, first, ...rest] = argv;
  return first === 'help' && rest.length > 0 ? [node, script, ...rest, '--help'] : argv;
}

/** "error: unknown option '--x'" -> "floodsweep: --x: unknown option (see floodsweep sweep run --help)". */
function reword(text: string, command: Command): string {
  const path = commandPath(command);
  const message = text
    .replace(/^error: /, '')
    .trim()
    .split('\n')[0];
  const option = /^option '([^' ]+)[^']*' argument '(.*)' is invalid\. (.*)$/s.exec(message);
  const unknownOption = /^unknown option '([^']+)'/.exec(message);
  const missingValue = /^option '([^' ]+)[^']*' argument missing/.exec(message);
  const missingArgument = /^missing required argument '([^']+)'/.exec(message);
  const requiredOption = /^required option '([^' ]+)[^']*' not specified/.exec(message);
  const line = option
    ? `${option[1]}: ${JSON.stringify(option[2].slice(0, 40))}: ${option[3].replace(/\.$/, '')}`
    : unknownOption
      ? `${unknownOption[1]}: unknown option`
      : missingValue
        ? `${missingValue[1]}: needs a value`
        : missingArgument
          ? `<${missingArgument[1]}>: missing argument`
          : requiredOption
            ? `${requiredOption[1]}: required`
            : message.replace(/'/g, '"');
  return `floodsweep: ${sanitize(line)} (see ${[invocation(), ...path.split(' ').slice(1)].join(' ')} --help)\n`;
}

function commandPath(command: Command): string {
  const names: string[] = [];
  for (let c: Command | null = command; c; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/** Prints one line per problem (a stack trace only with --debug) and returns the exit code. */
function report(error: unknown, withTrace: boolean): number {
  if (error instanceof CommanderError) {
    // Help and version exit with 0; commander has printed its (reworded) message otherwise.
    return error.exitCode === 0 ? 0 : EXIT_BAD_INPUT;
  }
  const message = error instanceof Error ? error.message : String(error);
  for (const line of message.split('\n')) process.stderr.write(`floodsweep: ${sanitize(line)}\n`);
  if (withTrace && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
  else if (kindOf(error) === 'internal') process.stderr.write('(run again with --debug for details)\n');
  return exitCodeOf(error);
}
