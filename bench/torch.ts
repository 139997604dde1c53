import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Plan, Workload } from './plan.js';
import type { Figures } from './tfjs.js';
import type { Timing } from './timing.js';

export interface TorchFigures extends Figures {
  /** The training step at each of the plan's batch sizes. */
  batchSizes: Array<{ batchSize: number; trainStep: Timing }>;
  torch: string;
  threads: number;
  /** The BLAS torch's dense layers ran on: "reference" is Debian's unoptimised libblas3. */
  blas: string;
}

const SCRIPT = fileURLToPath(new URL('./reference_torch.py', import.meta.url));

export const TORCH_MISSING_HINT =
  'PyTorch not found: apt-get install -y python3-torch (Debian, /usr/bin/python3) to print ratios against it';
export const REFERENCE_BLAS_HINT =
  'PyTorch runs on the unoptimised reference BLAS: apt-get install -y libopenblas0-pthread for a fair comparison';

/** Debian's python3 first: the `python3` on PATH may be another interpreter without torch. */
export function findTorchPython(): string | undefined {
  return ['/usr/bin/python3', 'python3'].find((python) => spawnSync(python, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0);
}

export function measureTorch(python: string, threads: number, workload: Workload, plan: Plan): TorchFigures {
  const child = spawnSync(
    python,
    [SCRIPT, '--threads', String(threads), '--workload', JSON.stringify(workload), '--plan', JSON.stringify(plan)],
    { encoding: 'utf8' },
  );
  if (child.status !== 0) {
    throw new Error(`bench/reference_torch.py failed (exit ${child.status}): ${child.stderr.trim().split('\n').pop()}`);
  }
  return JSON.parse(child.stdout) as TorchFigures;
}
