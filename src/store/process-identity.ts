/**
 * Whether the process that holds a lease still lives: on the same host, a pid alone does not say
 * (the system reuses pids), a pid with the boot and the process's start time does.
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type { SweepLease } from '../sweep/records.js';

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** "<boot id>/<start time in clock ticks since boot>" of a live process on Linux, else undefined. */
export function processStartOf(pid: number): string | undefined {
  const boot = readText('/proc/sys/kernel/random/boot_id');
  const stat = readText(`/proc/${pid}/stat`);
  if (!boot || !stat) return undefined;
  // The command name (field 2) may hold spaces and parentheses: count fields after its closing one.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const startTicks = fields[19];
  return startTicks ? `${boot}/${startTicks}` : undefined;
}

/** Whether a process with this pid exists here (one that is not ours to signal exists too). */
function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * True only when certain: the holder ran on this host (its name, and the same boot when recorded)
 * and its process is gone: no such pid, or the pid now belongs to a process that started at
 * another time. A holder elsewhere, or on a boot of the same name that is not this one (another
 * machine of that name may share the store), counts as alive until its lease expires.
 */
export function holderIsGone(holder: Pick<SweepLease, 'host' | 'pid' | 'processStart'>): boolean {
  if (holder.host !== hostname() || !Number.isInteger(holder.pid) || holder.pid <= 0) return false;
  const [holderBoot] = (holder.processStart ?? '').split('/');
  const ours = processStartOf(process.pid);
  if (holder.processStart && ours && ours.split('/')[0] !== holderBoot) return false;
  if (!pidExists(holder.pid)) return true;
  const now = processStartOf(holder.pid);
  return holder.processStart !== undefined && now !== undefined && now !== holder.processStart;
}
