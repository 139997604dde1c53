import type { SweepProgress } from '../run.js';
import { terminalSafe, writeControl } from './terminal.js';

/**
 * One status line on stderr: rewritten in place on a terminal, printed at most every
 * `intervalMs` otherwise (so that CI logs stay readable).
 */
export class ProgressLine {
  private lastPrinted = 0;
  private lastText = '';
  private readonly tty: boolean;

  constructor(
    private readonly stream: NodeJS.WriteStream = process.stderr,
    private readonly intervalMs = 10_000,
  ) {
    this.tty = Boolean(stream.isTTY);
  }

  /** Columns of the terminal, so callers can fit their text. */
  get width(): number {
    return this.tty ? (this.stream.columns ?? 120) - 1 : Infinity;
  }

  update(text: string): void {
    this.lastText = text;
    const now = Date.now();
    if (this.tty) {
      // Cut after escaping, so that an escaped character cannot push the line past the width.
      this.eraseLine();
      this.stream.write(terminalSafe(text).slice(0, (this.stream.columns ?? 120) - 1));
    } else if (now - this.lastPrinted >= this.intervalMs) {
      this.stream.write(`${text}\n`);
      this.lastPrinted = now;
    }
  }

  /** Leaves the final state on screen and moves to a new line. */
  finish(text = this.lastText): void {
    if (this.tty) this.eraseLine();
    this.stream.write(`${text}\n`);
  }

  private eraseLine(): void {
    writeControl(this.stream, '\r\x1b[2K');
  }
}

/**
 * Time left, from the pace since the first unit of work finished: start-up (worker processes,
 * wasm compilation) would otherwise inflate the first estimates.
 */
export class Eta {
  private origin?: { time: number; done: number };

  estimate(done: number, total: number, now = Date.now()): string {
    if (!this.origin) {
      this.origin = { time: now, done };
      return 'ETA --';
    }
    const progressed = done - this.origin.done;
    if (progressed <= 0) return 'ETA --';
    return `ETA ${formatDuration(((now - this.origin.time) / progressed) * Math.max(0, total - done))}`;
  }
}

export function formatDuration(ms: number): string {
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m${String(seconds % 60).padStart(2, '0')}s`;
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, '0')}m`;
}

/**
 * `tasks 3/8 done (0 failed), 2 running: 1a2b3c 4/10, 4d5e6f 2/10 · ETA 1m05s`, cut to `width`
 * by shortening the list of running tasks, so the counts and the ETA always show.
 */
export function describeProgress(progress: SweepProgress, eta: string, width = Infinity): string {
  const { succeeded, failed, tasksTotal, running } = progress;
  const head = `tasks ${succeeded + failed}/${tasksTotal} done (${failed} failed), ${running} running`;
  const tail = ` · ${eta}`;
  const active = progress.active.map((t) => `${t.taskId.slice(0, 6)} ${t.epoch}/${t.epochs}`).join(', ');
  if (!active) return head + tail;
  const room = width - head.length - tail.length - 2;
  if (active.length <= room) return `${head}: ${active}${tail}`;
  return room > 1 ? `${head}: ${active.slice(0, room - 1)}…${tail}` : head + tail;
}
