import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { addStoreOptions, checkOutputDir, openFor, type StoreOptions } from '../stores.js';

/** `sweep plots <sweepId> --out DIR`: copies a sweep's plots. */
export function registerPlots(sweep: Command): void {
  addStoreOptions(sweep.command('plots <sweepId>').description("copy a sweep's plots to a directory"))
    .requiredOption('--out <dir>', 'where to write the plots')
    .addHelpText('after', '\nExample:\n  $ floodsweep sweep plots <sweepId> --out ./plots')
    .action(async (sweepId: string, options: StoreOptions & { out: string }) => {
      checkOutputDir('--out', options.out);
      const stores = await openFor(options);
      const { sweepKeys } = await import('../../store/ports.js');
      const prefix = sweepKeys(sweepId).plot('x').slice(0, -1);
      const keys = await stores.artifacts.list(prefix);
      if (keys.length === 0) throw new UsageError(`sweep ${JSON.stringify(sweepId)} has no plots (not found, or not aggregated yet)`);
      await mkdir(options.out, { recursive: true });
      for (const key of keys) await writeFile(join(options.out, key.slice(prefix.length)), (await stores.artifacts.get(key))!);
      process.stdout.write(`${keys.length} files written to ${resolve(options.out)}\n`);
    });
}
