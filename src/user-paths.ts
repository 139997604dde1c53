/**
 * Paths the user names (flags, spec fields), checked as text and by where they lead before
 * anything reads or writes there: an empty path, one the kernel would refuse as too long, or a
 * place that is not a disk (/proc, /sys, /dev) is bad input, named by the flag.
 */
import { accessSync, constants, realpathSync, statfsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { UsageError } from './errors.js';

/** Linux's PATH_MAX (with its terminating NUL) and NAME_MAX. */
const MAX_PATH_BYTES = 4095;
const MAX_NAME_BYTES = 255;

/** Kernel file systems whose entries are not files: a write there fails, or (/proc/self/...) never settles. */
const KERNEL_FILE_SYSTEMS = new Map<number, string>([
  [0x9fa0, 'proc'],
  [0x62656572, 'sysfs'],
  [0x27e0eb, 'cgroup'],
  [0x63677270, 'cgroup2'],
  [0x64626720, 'debugfs'],
  [0x74726163, 'tracefs'],
  [0x73636673, 'securityfs'],
  [0x1cd1, 'devpts'],
  [0x6e736673, 'nsfs'],
  [0xcafe4a11, 'bpf'],
]);

/** The path as text: not empty, no NUL byte, within the kernel's limits. */
export function checkPathText(what: string, path: string): void {
  if (typeof path !== 'string' || path === '') throw new UsageError(`${what}: empty; a path is needed`);
  if (path.includes('\0')) throw new UsageError(`${what}: the path holds a NUL byte`);
  const bytes = Buffer.byteLength(path);
  if (bytes > MAX_PATH_BYTES) throw new UsageError(`${what}: the path has ${bytes} bytes; at most ${MAX_PATH_BYTES} are allowed`);
  const longest = Math.max(...path.split('/').map((name) => Buffer.byteLength(name)));
  if (longest > MAX_NAME_BYTES) {
    throw new UsageError(`${what}: a name in the path has ${longest} bytes; at most ${MAX_NAME_BYTES} are allowed`);
  }
}

/** The deepest existing directory on the way to `path` (itself if it exists), with symbolic links resolved. */
function existingAncestor(path: string): string {
  let at = resolve(path);
  while (!statSync(at, { throwIfNoEntry: false })) at = dirname(at);
  return realpathSync(at);
}

/**
 * A directory the command reads (`writable: false`) or creates and writes into: checked as text,
 * then refused if it is a file or a device, if it is (or would be) on a kernel file system or under
 * /dev (but /dev/shm, a tmpfs for files), or, to write, if the nearest existing directory on its way cannot be written.
 */
export function checkDirectory(what: string, dir: string, { writable }: { writable: boolean }): void {
  checkPathText(what, dir);
  const stats = statSync(dir, { throwIfNoEntry: false });
  if (stats?.isCharacterDevice() || stats?.isBlockDevice()) {
    throw new UsageError(`${what}: ${JSON.stringify(dir)} is a device; a directory is needed`);
  }
  if (stats && !stats.isDirectory()) throw new UsageError(`${what}: ${JSON.stringify(dir)} is a file; a directory is needed`);
  const ancestor = existingAncestor(dir);
  const kernel = KERNEL_FILE_SYSTEMS.get(statfsSync(ancestor).type);
  if (kernel || ((ancestor === '/dev' || ancestor.startsWith('/dev/')) && !ancestor.startsWith('/dev/shm'))) {
    throw new UsageError(
      `${what}: ${JSON.stringify(dir)} is on ${kernel ?? 'devtmpfs'} (/dev, /proc and /sys hold no files); a directory on disk is needed`,
    );
  }
  if (!writable) return;
  try {
    accessSync(ancestor, constants.W_OK);
  } catch (error) {
    const why = (error as NodeJS.ErrnoException).code === 'EROFS' ? 'is on a read-only file system' : 'is not writable';
    throw new UsageError(`${what}: ${JSON.stringify(ancestor)} ${why}; cannot write ${JSON.stringify(dir)} there`);
  }
}
