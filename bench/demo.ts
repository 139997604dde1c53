/**
 * The whole demo, side by side in one run: `floodsweep demo` on each tfjs backend (its default
 * workers: one process per core) and the PyTorch reference doing the same work in as many
 * processes of one thread each, every task trained and evaluated as floodsweep does it.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BackendName } from '../src/flooding/names.js';
import type { Workload } from './plan.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SCRIPT = fileURLToPath(new URL('./reference_torch.py', import.meta.url));
/** What `npm run demo` runs (src/cli/demo.ts). */
const DEMO_SPEC = join(ROOT, 'examples', 'demo-sgd.json');
/** `floodsweep demo --quick`'s test set. */
const QUICK_TEST_SIZE = 2000;

/** The full demo, or (smoke) its quick test set and a few epochs. */
export interface DemoPlan {
  quick: boolean;
  epochs?: number;
}
export const FULL_DEMO: DemoPlan = { quick: false };
export const SMOKE_DEMO: DemoPlan = { quick: true, epochs: 5 };

export interface DemoRun {
  /** As the command names it: a tfjs backend (tfjs-node with its libtensorflow version), or PyTorch. */
  label: string;
  seconds?: number;
  /** What the demo printed (its accuracies), for the README. */
  printed?: string[];
  /** Why it did not run here. */
  unavailable?: string;
}

export interface DemoFigures {
  plan: DemoPlan;
  tasks: number;
  epochs: number;
  processes: number;
  runs: Record<BackendName | 'torch', DemoRun>;
}

interface DemoSpec {
  dataset: { nTrain: number; nVal: number; nTest: number };
  optimizer: { lr: number; momentum: number };
  training: { epochs: number; batchSize: number; evalEvery: number };
  floodLevels: number[];
}

export async function measureDemo(
  plan: DemoPlan,
  processes: number,
  workload: Workload,
  python: string | undefined,
  progress: (line: string) => void,
): Promise<DemoFigures> {
  const spec = JSON.parse(readFileSync(DEMO_SPEC, 'utf8')) as DemoSpec;
  const epochs = plan.epochs ?? spec.training.epochs;
  const runs = {} as DemoFigures['runs'];
  for (const backend of ['tfjs-node', 'wasm'] as const) {
    progress(`whole demo on ${backend}`);
    runs[backend] = runDemoCommand(backend, plan);
  }
  progress(`whole demo, PyTorch reference in ${processes} processes x 1 thread`);
  runs.torch = python
    ? await runTorchDemo(python, processes, spec, epochs, plan, workload)
    : { label: 'PyTorch', unavailable: 'PyTorch is not installed' };
  return { plan, tasks: spec.floodLevels.length, epochs, processes, runs };
}

function runDemoCommand(backend: BackendName, plan: DemoPlan): DemoRun {
  const out = mkdtempSync(join(tmpdir(), 'floodsweep-bench-demo-'));
  try {
    const args = ['bin/floodsweep.js', 'demo', '--backend', backend, '--out', out];
    if (plan.quick) args.push('--quick');
    if (plan.epochs !== undefined) args.push('--epochs', String(plan.epochs));
    const started = performance.now();
    const child = spawnSync(process.execPath, args, { cwd: ROOT, encoding: 'utf8' });
    const seconds = (performance.now() - started) / 1000;
    if (child.status === 2)
      return {
        label: backend,
        unavailable: child.stderr
          .trim()
          .split('\n')[0]
          .replace(/^floodsweep: /, ''),
      };
    if (child.status !== 0) throw new Error(`floodsweep demo --backend ${backend} exited ${child.status}: ${child.stderr.trim()}`);
    // "sweep <id>: 4 tasks on <backend> with 2 workers": the backend as results record it.
    const label = child.stderr.match(/: \d+ tasks on (.+) with \d+ workers?$/m)?.[1] ?? backend;
    const printed = child.stdout.split('\n').filter((line) => line.startsWith('Test Acc.'));
    return { label, seconds, printed };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

/** The demo's tasks dealt out to `processes` PyTorch processes of one thread; wall time until the last is done. */
async function runTorchDemo(
  python: string,
  processes: number,
  spec: DemoSpec,
  epochs: number,
  plan: DemoPlan,
  workload: Workload,
): Promise<DemoRun> {
  const demoWorkload: Workload = {
    ...workload,
    batchSize: spec.training.batchSize,
    lr: spec.optimizer.lr,
    momentum: spec.optimizer.momentum,
    nTrain: spec.dataset.nTrain,
    nVal: spec.dataset.nVal,
    nTest: plan.quick ? QUICK_TEST_SIZE : spec.dataset.nTest,
  };
  const shares = Array.from({ length: processes }, (_, i) => spec.floodLevels.filter((_, task) => task % processes === i));
  const started = performance.now();
  const outputs = await Promise.all(
    shares
      .filter((levels) => levels.length > 0)
      .map(
        (floodLevels) =>
          new Promise<string>((resolve, reject) => {
            const demo = { floodLevels, epochs, evalEvery: spec.training.evalEvery };
            const child = spawn(python, [
              SCRIPT,
              '--threads',
              '1',
              '--workload',
              JSON.stringify(demoWorkload),
              '--demo',
              JSON.stringify(demo),
            ]);
            let stdout = '';
            let stderr = '';
            child.stdout.on('data', (chunk) => (stdout += chunk));
            child.stderr.on('data', (chunk) => (stderr += chunk));
            child.on('close', (code) =>
              code === 0 ? resolve(stdout) : reject(new Error(`bench/reference_torch.py --demo exited ${code}: ${stderr.trim()}`)),
            );
          }),
      ),
  );
  const seconds = (performance.now() - started) / 1000;
  const { torch } = JSON.parse(outputs[0]) as { torch: string };
  return { label: `PyTorch ${torch}`, seconds };
}
