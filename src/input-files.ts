/** Files the user names (specs, repro specs, baselines): read once, with errors that name them. */
import { readFileSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { MAX_INPUT_FILE_BYTES } from './env.js';
import { UsageError } from './errors.js';
import { parseSpecText, resolveDataPaths, type SweepSpec } from './sweep/spec.js';

/** A file that cannot be read is bad input, named by what it was for; its content never shows. */
export function readInputFile(path: string, what: string): string {
  try {
    // Checked before reading: a spec or a baseline is far smaller; a huge file would only fill memory.
    const stats = statSync(path);
    if (stats.size > MAX_INPUT_FILE_BYTES) {
      throw new UsageError(`${what}: ${JSON.stringify(path)} has ${stats.size} bytes, above the limit of ${MAX_INPUT_FILE_BYTES}`);
    }
    // /dev/zero never ends; a pipe (`<(cat spec.json)`) does.
    if (stats.isCharacterDevice() || stats.isBlockDevice()) {
      throw new UsageError(`${what}: ${JSON.stringify(path)} is a device, not a file`);
    }
    return readFileSync(path, 'utf8');
  } catch (error) {
    if (error instanceof UsageError) throw error;
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
