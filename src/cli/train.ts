import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { SPLITS, type TaskResult } from '../flooding/metrics.js';
import { addBackendOption, addTaskOptions, backendRequest, renameFieldToFlag, taskConfigFromOptions } from './options.js';
import { Eta, ProgressLine } from './progress.js';

export function registerTrain(program: Command): void {
  const command = program
    .command('train')
    .description('train one task (one flood level, one seed) and print its metrics')
    .option('--json', 'print one JSON object: backend, config, final metrics and every evaluated epoch')
    .option('--ignore-memory-limit', 'train even when the task is estimated to need more memory than is available')
    .addHelpText('after', '\nExample:\n  $ floodsweep train --flood-level 0.27 --epochs 50 --json');
  addTaskOptions(command);
  addBackendOption(command);
  command.action(async (options: Record<string, unknown>) => {
    const config = await taskConfigFromOptions(options);
    const requested = backendRequest(options.backend as string | undefined);
    if (!options.ignoreMemoryLimit) {
      const { checkMemory, estimateSweep, localMemoryBudget } = await import('../sweep/resources.js');
      const { availableMemory } = await import('../workflow/workers.js');
      const { configHash } = await import('../flooding/config.js');
      checkMemory(estimateSweep([{ taskId: configHash(config), config }]), localMemoryBudget(availableMemory(), 1));
    }
    const { BackendError, initBackend } = await import('../flooding/backend.js');
    const [{ DatasetError }, { makeDataset }] = await Promise.all([
      import('../flooding/datasets.js'),
      import('../flooding/make-dataset.js'),
    ]);
    const { runTask } = await import('../flooding/trainer.js');
    let dataset: ReturnType<typeof makeDataset>;
    try {
      dataset = makeDataset(config.dataset, config.seed);
    } catch (error) {
      throw error instanceof DatasetError ? new DatasetError(renameFieldToFlag(error.message), { cause: error }) : error;
    }
    let backend: Awaited<ReturnType<typeof initBackend>>;
    try {
      backend = await initBackend(requested);
    } catch (error) {
      throw error instanceof BackendError
        ? new UsageError(`--backend: ${error.message.replace(/^backend: /, '')}`, { cause: error })
        : error;
    }
    const progress = new ProgressLine();
    const eta = new Eta();
    const started = Date.now();
    let result: TaskResult;
    try {
      result = runTask(config, {
        dataset,
        onEpoch: (epoch) =>
          progress.update(`epoch ${epoch}/${config.training.epochs} · ${backend} · ${eta.estimate(epoch, config.training.epochs)}`),
      });
    } catch (error) {
      // The epoch reached stays on screen above the one-line error (a divergence exits 1).
      progress.finish();
      throw error;
    }
    progress.finish(`trained ${config.training.epochs} epochs on ${backend} in ${((Date.now() - started) / 1000).toFixed(1)}s`);
    process.stdout.write(options.json ? `${JSON.stringify(result)}\n` : formatResult(result));
  });
}

function formatResult(result: TaskResult): string {
  const { config } = result;
  const optimizer =
    config.optimizer.name === 'sgd'
      ? `sgd lr ${config.optimizer.lr} momentum ${config.optimizer.momentum}`
      : `adam lr ${config.optimizer.lr}`;
  const lines = [
    `${config.dataset.name} · flood level ${config.floodLevel} · ${optimizer} · seed ${config.seed} · backend ${result.backend}`,
    `${'split'.padEnd(6)} ${'loss'.padStart(8)} ${'acc'.padStart(7)} ${'clean loss'.padStart(11)} ${'clean acc'.padStart(10)}`,
    ...SPLITS.map((split) => {
      const m = result.final[split];
      return `${split.padEnd(6)} ${m.loss.toFixed(4).padStart(8)} ${m.acc.toFixed(4).padStart(7)} ${m.cleanLoss.toFixed(4).padStart(11)} ${m.cleanAcc.toFixed(4).padStart(10)}`;
    }),
    '(acc = accuracy on the noisy labels, clean = on the true labels)',
  ];
  return `${lines.join('\n')}\n`;
}
