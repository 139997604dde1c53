/**
 * The test command (`npm test`, `npm run test:unit`, and CI through `npm test`).
 *
 *   npm test              every test file; first makes sure what they need is here: Debian's
 *                         Chromium for the dashboard's browser tests and its Fashion-MNIST for the
 *                         image-data tests, installed with apt-get when missing (as root, with apt)
 *   npm run test:unit     only the files that need no browser, bundle, server, compiled CLI or
 *                         whole sweep run (under a minute); nothing is built or installed
 *
 * Either way it says in one line what it found, did or is missing.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TEST_DIR = path.join(ROOT, 'test');

/** What a test file needs, from what it imports or calls; a unit test needs none of these. */
const NEEDS: Array<{ need: string; pattern: RegExp }> = [
  { need: 'browser', pattern: /from 'playwright-core'/ },
  { need: 'server', pattern: /from '\.\/emulators\.js'|ui\/server\.js/ },
  { need: 'bundle', pattern: /from 'esbuild'|infra\/bundling\.js/ },
  { need: 'compiled CLI', pattern: /from '\.\/cli-helpers\.js'/ },
  { need: 'sweep run', pattern: /\brunSweep\b|\/src\/run\.js'/ },
];

/** Installed by apt-get where missing (the same packages .ci/run's machine gets). */
const SYSTEM_PACKAGES = [
  { what: 'Chromium (the dashboard tests drive it)', file: '/usr/bin/chromium', aptPackage: 'chromium' },
  {
    what: 'Fashion-MNIST (the image-data tests train on it)',
    file: '/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz',
    aptPackage: 'dataset-fashion-mnist',
  },
];

export function testFiles(): string[] {
  return readdirSync(TEST_DIR)
    .filter((name) => name.endsWith('.test.ts'))
    .sort()
    .map((name) => path.join('test', name));
}

export function needsOf(file: string): string[] {
  const text = readFileSync(path.join(ROOT, file), 'utf8');
  return NEEDS.filter(({ pattern }) => pattern.test(text)).map(({ need }) => need);
}

function say(line: string): void {
  process.stderr.write(`npm test: ${line}\n`);
}

function run(command: string, args: string[]): number {
  const child = spawnSync(command, args, { cwd: ROOT, stdio: 'inherit' });
  return child.status ?? 1;
}

function canInstallWithApt(): boolean {
  return process.getuid?.() === 0 && spawnSync('sh', ['-c', 'command -v apt-get'], { stdio: 'ignore' }).status === 0;
}

/** Installs the missing system packages, or says which are missing and how to get them. */
function provision(): boolean {
  const missing = SYSTEM_PACKAGES.filter(({ file }) => !existsSync(file));
  if (missing.length === 0) {
    say(`found ${SYSTEM_PACKAGES.map(({ file }) => file).join(' and ')}`);
    return true;
  }
  const names = missing.map(({ aptPackage }) => aptPackage).join(' ');
  if (!canInstallWithApt()) {
    say(
      `missing ${missing.map(({ what, file }) => `${what} at ${file}`).join('; ')}: run \`apt-get install ${names}\` as root, or \`npm run test:unit\` for the tests without them`,
    );
    return false;
  }
  say(`installing ${names} with apt-get (missing: ${missing.map(({ file }) => file).join(', ')})`);
  const status = run('sh', ['-c', `apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ${names} > /dev/null`]);
  const still = missing.filter(({ file }) => !existsSync(file));
  if (status !== 0 || still.length > 0) {
    say(`apt-get install ${names} failed (exit ${status}); still missing: ${still.map(({ file }) => file).join(', ') || 'nothing'}`);
    return false;
  }
  return true;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const unit = process.argv.includes('--unit');
  const files = unit ? testFiles().filter((file) => needsOf(file).length === 0) : testFiles();
  if (unit) {
    say(`unit tier: ${files.length} of ${testFiles().length} files (no browser, bundle, server, compiled CLI or sweep run)`);
  } else {
    if (!provision()) process.exit(1);
    // The CLI tests run the compiled command (dist/), as users do.
    if (run('npm', ['run', '--silent', 'build']) !== 0) process.exit(1);
  }
  const args = ['--import', 'tsx', '--test', `--test-concurrency=${unit ? 2 : 1}`, ...files];
  process.exit(run(process.execPath, args));
}
