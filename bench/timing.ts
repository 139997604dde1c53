import { readFileSync } from 'node:fs';
import type { Repeats } from './plan.js';

/** Seconds of repeated runs of one operation. */
export interface Timing {
  /** Wall-clock seconds. */
  median: number;
  min: number;
  max: number;
  repeats: number;
  /**
   * Median CPU seconds of the whole process per run. On a shared machine this is closer to what an
   * idle machine would give than wall-clock time (waiting for a core is not counted).
   */
  cpuMedian: number;
  /** CPU seconds per wall second over the repeats: about 1 for one busy thread, less when others share the cores. */
  coreShare: number;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

export function summarize(wallSeconds: number[], cpuSeconds: number[]): Timing {
  const sum = (values: number[]) => values.reduce((total, s) => total + s, 0);
  return {
    median: median(wallSeconds),
    min: Math.min(...wallSeconds),
    max: Math.max(...wallSeconds),
    repeats: wallSeconds.length,
    cpuMedian: median(cpuSeconds),
    coreShare: sum(cpuSeconds) / sum(wallSeconds),
  };
}

/** Process CPU time (all threads) in seconds. */
export function cpuSeconds(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}

/** CPU time of other processes (user + system, all threads) in seconds, from /proc (Linux). */
export function cpuSecondsOf(pids: number[]): number {
  const ticksPerSecond = 100; // USER_HZ: the unit of /proc/<pid>/stat's times on Linux
  return pids.reduce((total, pid) => {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return total + (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
  }, 0);
}

/**
 * Runs `operation` (which must finish its work before returning) warm-up times, then times each
 * repeat; `prepare`, when given, runs untimed before every run.
 */
export function timeRepeats(operation: () => void, { warmup, repeats }: Repeats, prepare?: () => void): Timing {
  for (let i = 0; i < warmup; i++) {
    prepare?.();
    operation();
  }
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < repeats; i++) {
    prepare?.();
    const [startedWall, startedCpu] = [performance.now(), cpuSeconds()];
    operation();
    wall.push((performance.now() - startedWall) / 1000);
    cpu.push(cpuSeconds() - startedCpu);
  }
  return summarize(wall, cpu);
}
