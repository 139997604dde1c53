import { type Command, InvalidArgumentError } from 'commander';
import { UsageError } from '../errors.js';
import { addStoreOptions, openFor, type StoreOptions } from './stores.js';

export function registerUi(program: Command): void {
  addStoreOptions(
    program
      .command('ui')
      .description('a read-only web app on 127.0.0.1 over the results: sweeps, live progress, interactive charts, comparisons'),
  )
    .option('--port <n>', 'the port to listen on (default: a free one)', parsePort)
    .addHelpText('after', '\nExamples:\n  $ floodsweep ui --results ./floodsweep-results\n  $ floodsweep ui --cloud --port 8080')
    .action(async (options: StoreOptions & { port?: number }) => {
      const stores = await openFor(options);
      const { startDashboard } = await import('../ui/server.js');
      const dashboard = await startDashboard({ stores, port: options.port }).catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'EADDRINUSE') throw new UsageError(`--port: ${options.port} is in use; pick another or leave --port out`);
        throw error;
      });
      process.stdout.write(`floodsweep ui: ${dashboard.url} (read only; Ctrl-C stops it)\n`);
      await new Promise<void>((resolve) => process.once('SIGINT', resolve).once('SIGTERM', resolve));
      await dashboard.close();
    });
}

function parsePort(value: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > 65535) throw new InvalidArgumentError('expected a port, 0-65535.');
  return port;
}
