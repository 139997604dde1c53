#!/usr/bin/env node
// Runs the compiled CLI; `npm ci` builds it (the `prepare` script), `npm run build` after an edit.
try {
  await import('../dist/cli/main.js');
} catch (error) {
  if (error?.code !== 'ERR_MODULE_NOT_FOUND' || !String(error.message).includes('dist/cli/main.js')) throw error;
  process.stderr.write('floodsweep: not built yet; run `npm run build` (npm ci does it) in the floodsweep folder\n');
  process.exit(1);
}
