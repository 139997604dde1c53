/**
 * Start-up of the `floodsweep` command against a bare `node -e ''`, measured side by side in one
 * run: rounds take turns between the commands, so a busy moment hits all of them alike. The goal
 * (issue: one library API) is `--help` and `sweep validate` within 3x of bare Node.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { summarize, type Timing } from './timing.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const MAX_STARTUP_RATIO = 3;

const COMMANDS: Array<{ name: string; args: string[] }> = [
  { name: "node -e ''", args: ['-e', ''] },
  { name: 'floodsweep --help', args: ['bin/floodsweep.js', '--help'] },
  { name: 'floodsweep sweep validate examples/tiny.json', args: ['bin/floodsweep.js', 'sweep', 'validate', 'examples/tiny.json'] },
];

export interface StartupFigures {
  rounds: number;
  commands: Array<{ name: string; seconds: Timing; ratioToNode: number }>;
}

export function measureStartup(rounds = 15): StartupFigures {
  const wall = COMMANDS.map(() => [] as number[]);
  const cpu = COMMANDS.map(() => [] as number[]);
  for (let round = 0; round < rounds + 1; round++) {
    COMMANDS.forEach(({ name, args }, i) => {
      const started = process.hrtime.bigint();
      const child = spawnSync(process.execPath, args, { cwd: ROOT, encoding: 'utf8' });
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      if (child.status !== 0) throw new Error(`${name} exited ${child.status}: ${child.stderr}`);
      // The first round warms the file cache and is not counted.
      if (round > 0) {
        wall[i].push(seconds);
        cpu[i].push(seconds);
      }
    });
  }
  const timings = COMMANDS.map((_, i) => summarize(wall[i], cpu[i]));
  return {
    rounds,
    commands: COMMANDS.map(({ name }, i) => ({ name, seconds: timings[i], ratioToNode: timings[i].median / timings[0].median })),
  };
}

export function startupTable(figures: StartupFigures): string {
  const lines = [`Start-up, median of ${figures.rounds} rounds (goal: within ${MAX_STARTUP_RATIO}x of bare node)`];
  for (const { name, seconds, ratioToNode } of figures.commands) {
    const verdict = name.startsWith('node') ? '' : ratioToNode <= MAX_STARTUP_RATIO ? '  met' : '  NOT met';
    lines.push(`  ${name.padEnd(48)} ${(seconds.median * 1000).toFixed(0).padStart(5)} ms  ${ratioToNode.toFixed(2)}x${verdict}`);
  }
  return lines.join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  // `--rounds 3`: the smoke run in CI (.ci/run), which shows the figures and fails only if a command does.
  const rounds = process.argv.includes('--rounds') ? Number(process.argv[process.argv.indexOf('--rounds') + 1]) : undefined;
  process.stdout.write(`${startupTable(measureStartup(rounds))}\n`);
}
