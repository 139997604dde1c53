import { resolveTaskConfig, type TaskConfig } from '../src/flooding/config.js';
import { WorkerPool } from '../src/workflow/pool.js';
import { cpuSeconds, cpuSecondsOf, summarize, type Timing } from './timing.js';

/** A fixed batch of small demo tasks, trained by pools of 1 and N worker processes. */
export interface ScalingPlan {
  tasks: number;
  epochs: number;
  nTest: number;
  rounds: number;
}

export const SCALING_PLAN: ScalingPlan = { tasks: 4, epochs: 10, nTest: 2000, rounds: 3 };
export const SMOKE_SCALING_PLAN: ScalingPlan = { tasks: 2, epochs: 1, nTest: 100, rounds: 1 };

export interface Scaling {
  plan: ScalingPlan;
  /** Seconds to train the whole batch, by pool size; `coreShare` shows how many cores the pool got. */
  pools: Array<{ workers: number; batch: Timing }>;
  workers: number;
  speedUp: number;
}

/**
 * Both pools stay open and take turns round by round, so that both see the same minutes of load
 * from the machine's other users.
 */
export async function measureScaling(
  workers: number,
  plan: ScalingPlan,
  floodLevel: number,
  progress: (line: string) => void,
): Promise<Scaling> {
  const tasks = Array.from({ length: plan.tasks }, (_, seed) =>
    resolveTaskConfig({
      dataset: { name: 'sinusoid2d', nTest: plan.nTest },
      training: { epochs: plan.epochs, evalEvery: plan.epochs },
      floodLevel,
      seed,
    }),
  );
  const sizes = [1, workers];
  const pools = sizes.map((size) => new WorkerPool({ backend: 'wasm', backendOptions: {}, size }));
  try {
    progress(`worker scaling: starting and warming up pools of ${sizes.join(' and ')} worker processes`);
    // A whole batch each: process start, backend initialisation and the first, slower tens of steps
    // (each worker compiles its own copy of the wasm code) stay out of the timings.
    await Promise.all(pools.map((pool) => runAll(pool, tasks)));
    const samples = sizes.map(() => ({ wall: [] as number[], cpu: [] as number[] }));
    for (let round = 0; round < plan.rounds; round++) {
      for (const [i, pool] of pools.entries()) {
        progress(`worker scaling: round ${round + 1}/${plan.rounds}, ${plan.tasks} tasks on ${pool.size} worker process(es)`);
        // The pool's process and its workers' (none died: a death fails the round).
        const used = () => cpuSeconds() + cpuSecondsOf(pool.pids());
        const [startedWall, startedCpu] = [performance.now(), used()];
        await runAll(pool, tasks);
        samples[i].wall.push((performance.now() - startedWall) / 1000);
        samples[i].cpu.push(used() - startedCpu);
      }
    }
    const timings = samples.map(({ wall, cpu }, i) => ({ workers: sizes[i], batch: summarize(wall, cpu) }));
    return { plan, pools: timings, workers, speedUp: timings[0].batch.median / timings[1].batch.median };
  } finally {
    await Promise.all(pools.map((pool) => pool.close()));
  }
}

async function runAll(pool: WorkerPool, tasks: TaskConfig[]): Promise<void> {
  await Promise.all(tasks.map((task) => pool.run(task).result));
}
