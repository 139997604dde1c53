/** Files the user names (specs, repro specs, baselines): read once, with errors that name them. */
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { UsageError } from './errors.js';
import { parseSpecText, resolveDataPaths, type SweepSpec } from './sweep/spec.js';

/** A file that cannot be read is bad input, named by what it was for; its content never shows. */
export function readInputFile(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (code ?? 'unreadable');
    throw new UsageError(`${what}: cannot read ${JSON.stringify(path)}: ${reason}`);
  }
}

/**
 * Reads and validates a sweep spec file (JSON, or YAML by extension); problems name the file.
 * CSV paths in it are relative to the file's directory.
 */
export function loadSpecFile(path: string): SweepSpec {
  return resolveDataPaths(parseSpecText(readInputFile(path, 'spec'), path), dirname(path));
}
