import path from 'node:path';

/**
 * How the user started this command, so that the hints it prints (resume, status) can be pasted
 * as they are: `npm run floodsweep --` inside the project, `floodsweep` after `npm link`,
 * `node bin/floodsweep.js` when run by path.
 */
export function invocation(env: NodeJS.ProcessEnv = process.env, script = process.argv[1] ?? ''): string {
  if (env.npm_lifecycle_event === 'floodsweep' || env.npm_lifecycle_event === 'demo') return 'npm run floodsweep --';
  if (path.basename(script) === 'floodsweep') return 'floodsweep';
  return `node ${path.relative(process.cwd(), script) || script}`;
}
