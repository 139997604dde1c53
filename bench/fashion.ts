/**
 * One training epoch of examples/fashion-mnist-mlp.json (the MLP 784-500-500-10 on 48,000
 * Fashion-MNIST images, Adam, mini-batches of 200, batch flooding at b = 0.02) on tfjs-node and on
 * wasm, through floodsweep's trainer, against PyTorch doing the same work (bench/fashion_torch.py),
 * measured side by side in one run. Each backend runs in its own process, after a warm-up epoch.
 * Usage: npm run bench:fashion (needs dataset-fashion-mnist; tfjs-node and PyTorch where installed).
 */
import { spawnSync } from 'node:child_process';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { initBackend } from '../src/flooding/backend.js';
import { resolveTaskConfig } from '../src/flooding/config.js';
import type { BackendName } from '../src/flooding/names.js';
import { TrainingRun } from '../src/flooding/trainer.js';
import { loadSpecFile } from '../src/input-files.js';
import { loadModelFiles } from '../src/sweep/model-files.js';
import { findTorchPython } from './torch.js';

const SPEC = fileURLToPath(new URL('../examples/fashion-mnist-mlp.json', import.meta.url));
const TORCH_SCRIPT = fileURLToPath(new URL('./fashion_torch.py', import.meta.url));

/** In a child: times the second training epoch on `backend` (no evaluation in either). */
async function measure(backend: BackendName): Promise<void> {
  const spec = loadSpecFile(SPEC);
  const { dataset, model, optimizer } = spec;
  const config = resolveTaskConfig({
    dataset,
    model,
    optimizer,
    floodLevel: 0.02,
    seed: 0,
    training: { epochs: 1000, batchSize: 200, evalEvery: 1000 },
  });
  await initBackend(backend);
  await loadModelFiles([{ config }]);
  const run = TrainingRun.start(config);
  run.trainEpoch();
  const started = performance.now();
  run.trainEpoch();
  const epochSeconds = (performance.now() - started) / 1000;
  run.dispose();
  process.stdout.write(`${JSON.stringify({ backend, epochSeconds })}\n`);
}

function child(args: string[]): { epochSeconds: number } | string {
  const result = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), ...args], { encoding: 'utf8' });
  if (result.status !== 0) return result.stderr.trim().split('\n').pop() ?? `exit ${result.status}`;
  return JSON.parse(result.stdout.trim().split('\n').pop()!);
}

if (process.argv[2] === '--backend') {
  await measure(process.argv[3] as BackendName);
} else {
  const rows: Array<[string, number | string]> = [];
  for (const backend of ['tfjs-node', 'wasm'] as const) {
    const result = child(['--backend', backend]);
    rows.push([`floodsweep on ${backend}`, typeof result === 'string' ? result : result.epochSeconds]);
  }
  const python = findTorchPython();
  const threads = cpus().length;
  if (python) {
    const result = spawnSync(python, [TORCH_SCRIPT, '--threads', String(threads)], { encoding: 'utf8' });
    const parsed = result.status === 0 ? (JSON.parse(result.stdout) as { epochSeconds: number; torch: string }) : undefined;
    rows.push([
      `PyTorch ${parsed?.torch ?? ''} (${threads} threads)`,
      parsed ? parsed.epochSeconds : (result.stderr.trim().split('\n').pop() ?? ''),
    ]);
  } else rows.push(['PyTorch', 'not installed (apt-get install -y python3-torch libopenblas0-pthread)']);
  const torch = rows.at(-1)![1];
  process.stdout.write('one training epoch of the Fashion-MNIST MLP (48,000 images, batch 200, Adam, b = 0.02)\n');
  for (const [what, value] of rows) {
    const ratio = typeof value === 'number' && typeof torch === 'number' ? `  ${(value / torch).toFixed(2)}x PyTorch` : '';
    process.stdout.write(`  ${what.padEnd(34)} ${typeof value === 'number' ? `${value.toFixed(2)} s${ratio}` : value}\n`);
  }
}
