/**
 * The CLI's output boundary: everything written to stdout and stderr passes `terminalSafe`, so a
 * grid value, a spec name, a CSV header, a path or an id cannot move the cursor, rewrite a line,
 * ring the bell or reorder text on the user's terminal, whichever command prints it.
 */
import { escapeControlChars } from '../control-chars.js';

/** Escapes what a terminal would obey as `\uXXXX`: JSON text stays JSON with the same value. */
export const terminalSafe = escapeControlChars;

type Write = NodeJS.WriteStream['write'];
const rawWrites = new WeakMap<NodeJS.WriteStream, Write>();

/** From now on, text written to `stream` is escaped by terminalSafe (bytes pass unchanged). */
export function guardOutput(stream: NodeJS.WriteStream): void {
  if (rawWrites.has(stream)) return;
  const raw = stream.write.bind(stream) as Write;
  rawWrites.set(stream, raw);
  stream.write = ((chunk: unknown, ...rest: unknown[]) =>
    (raw as (...args: unknown[]) => boolean)(typeof chunk === 'string' ? terminalSafe(chunk) : chunk, ...rest)) as Write;
}

/** The CLI's own terminal control sequences (the progress line's carriage return and line erase). */
export function writeControl(stream: NodeJS.WriteStream, sequence: string): void {
  (rawWrites.get(stream) ?? stream.write.bind(stream))(sequence);
}
