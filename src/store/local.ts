/**
 * The embedded default: one results directory, like MLflow's `mlruns`. Artifacts live at
 * `<root>/<key>`, mirroring the S3 key layout; metrics are JSON files under `<root>/metrics/`.
 */
import { link, mkdir, readdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { threadId } from 'node:worker_threads';
import { jsonText } from '../control-chars.js';
import type { EpochMetrics } from '../flooding/metrics.js';
import { mapLimited } from '../sweep/map-limited.js';
import {
  type DamagedRecord,
  leaseExpired,
  type ReproRecord,
  type SweepLease,
  type SweepRecord,
  type SweepStatus,
  type TaskRecord,
  type TaskStatus,
} from '../sweep/records.js';
import {
  decodeEpoch,
  decodeLease,
  decodeRepro,
  decodeSweep,
  decodeTask,
  epochRowsToStore,
  intact,
  lastRecordPerTask,
  newestFirstListing,
  readOrDamaged,
  stampPatch,
  toStored,
  validateEpoch,
  validateLease,
  validateLimit,
  validateRepro,
  validateSweep,
  validateTask,
} from './encoding.js';
import {
  type ArtifactStore,
  type MetricsStore,
  StoreError,
  type SweepPatch,
  type TaskPatch,
  validateId,
  validateKey,
  validatePrefix,
} from './ports.js';

/** The metrics store's directory inside the results directory; artifact keys may not use it. */
const METRICS_DIR = 'metrics';
/** Files are read and written this many at a time, well below the usual limit of 1024 open files. */
const READ_CONCURRENCY = 32;

function errorCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

let tempCounter = 0;
/** Temp files are `<file>~<pid>.<thread>.<n>.tmp`; no key or id contains '~'. */
const TEMP_FILE = /~\d+\.\d+\.\d+\.tmp$/;

/**
 * Writes through a temp file in the same directory, so readers and interrupted processes only
 * ever see a whole file. Temp names contain '~', which no key or id may, so listings skip them.
 * With `exclusive`, the file is created only if absent (a hard link fails if the target exists,
 * also across threads and processes) and the result says whether it was created.
 */
async function writeAtomic(file: string, data: string | Uint8Array, exclusive = false): Promise<boolean> {
  const temp = `${file}~${process.pid}.${threadId}.${++tempCounter}.tmp`; // matches TEMP_FILE
  let renamed = false;
  try {
    await mkdir(dirname(file), { recursive: true });
    await writeFile(temp, data);
    if (!exclusive) {
      await rename(temp, file);
      renamed = true;
      return true;
    }
    try {
      await link(temp, file);
      return true;
    } catch (error) {
      if (errorCode(error) === 'EEXIST') return false;
      throw error;
    }
  } catch (error) {
    throw new StoreError('service', `cannot write ${file}: ${messageOf(error)}`, { cause: error });
  } finally {
    // The temp file may never have been created; the error that matters is already thrown.
    if (!renamed) await unlink(temp).catch(() => undefined);
  }
}

/** Removes a file; one that is not there is no error. */
async function removeFile(file: string): Promise<void> {
  try {
    await unlink(file);
  } catch (error) {
    if (['ENOENT', 'ENOTDIR'].includes(errorCode(error) ?? '')) return;
    throw new StoreError('service', `cannot remove ${file}: ${messageOf(error)}`, { cause: error });
  }
}

/**
 * Removes the temp files that writes interrupted by a crash or a kill left in a sweep's artifact
 * and metrics directories, if they are older than `before` (the start of the run cleaning up, so
 * that no write of this run is touched). Returns the files removed.
 */
export async function removeInterruptedWrites(rootDir: string, sweepId: string, before: Date): Promise<string[]> {
  const root = resolve(rootDir);
  const dirs = [join(root, 'sweeps', validateId('sweepId', sweepId)), join(root, METRICS_DIR, 'sweeps', sweepId)];
  const removed: string[] = [];
  const sweep = async (dir: string): Promise<void> => {
    for (const entry of await entriesOf(dir)) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await sweep(path);
      else if (entry.isFile() && TEMP_FILE.test(entry.name)) {
        const modified = await stat(path).then(
          (stats) => stats.mtimeMs,
          () => Infinity,
        );
        if (modified < before.getTime()) {
          await removeFile(path);
          removed.push(path);
        }
      }
    }
  };
  for (const dir of dirs) await sweep(dir);
  return removed;
}

function encodeJson(value: unknown, indent?: number): string {
  return `${jsonText(toStored(value), indent)}\n`;
}

/** The parsed file, or undefined if it does not exist; unreadable or corrupt files throw. */
async function readJson(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return undefined;
    throw new StoreError('service', `cannot read ${file}: ${messageOf(error)}`, { cause: error });
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    // The parser's message quotes the text: the file's content stays out of the error.
    throw new StoreError('state', `corrupt JSON in ${file}: not valid JSON (truncated or edited)`, { cause: error });
  }
}

/** Directory entries, or none if the directory does not exist. */
async function entriesOf(dir: string) {
  try {
    return await readdir(dir, { withFileTypes: true });
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return [];
    throw new StoreError('service', `cannot list ${dir}: ${messageOf(error)}`, { cause: error });
  }
}

/** Names (without `.json`) of the complete JSON files in a directory. */
async function jsonStems(dir: string): Promise<string[]> {
  return (await entriesOf(dir))
    .filter((entry) => entry.isFile() && entry.name.endsWith('.json') && !entry.name.includes('~'))
    .map((entry) => entry.name.slice(0, -'.json'.length));
}

const chains = new Map<string, Promise<unknown>>();

/**
 * Runs read-check-write sequences on one file one after another. This covers the threads of one
 * process only because writes to one task come from one thread at a time.
 */
function serialised<T>(file: string, work: () => Promise<T>): Promise<T> {
  const result = (chains.get(file) ?? Promise.resolve()).then(work);
  const tail = result.catch(() => undefined);
  chains.set(file, tail);
  void tail.then(() => {
    if (chains.get(file) === tail) chains.delete(file);
  });
  return result;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function notKeyedByEpoch(file: string): StoreError {
  return new StoreError('state', `corrupt epochs file ${file}: expected an object keyed by epoch`);
}

export class LocalMetricsStore implements MetricsStore {
  private readonly root: string;

  constructor(rootDir: string) {
    this.root = resolve(rootDir, METRICS_DIR);
  }

  private sweepDir(sweepId: string): string {
    return join(this.root, 'sweeps', validateId('sweepId', sweepId));
  }

  private sweepFile(sweepId: string): string {
    return join(this.sweepDir(sweepId), 'sweep.json');
  }

  private taskFile(sweepId: string, taskId: string): string {
    return join(this.sweepDir(sweepId), 'tasks', `${validateId('taskId', taskId)}.json`);
  }

  private epochsFile(sweepId: string, taskId: string): string {
    return join(this.sweepDir(sweepId), 'epochs', `${validateId('taskId', taskId)}.json`);
  }

  /**
   * A lease is a sequence of generations, `lease/<generation>.json`: taking it creates the next
   * generation exclusively (a hard link fails if another process created it first), so of two
   * processes taking over one expired lease exactly one wins. The newest generation holds.
   */
  private leaseFile(sweepId: string, generation: number): string {
    return join(this.sweepDir(sweepId), 'lease', `${String(generation).padStart(12, '0')}.json`);
  }

  private async leaseGenerations(sweepId: string): Promise<number[]> {
    const stems = await jsonStems(join(this.sweepDir(sweepId), 'lease'));
    return stems.filter((stem) => /^\d{12}$/.test(stem)).map(Number);
  }

  private async currentLease(sweepId: string): Promise<{ generation: number; lease?: SweepLease }> {
    for (;;) {
      const generations = await this.leaseGenerations(sweepId);
      if (generations.length === 0) return { generation: 0 };
      const generation = Math.max(...generations);
      const file = this.leaseFile(sweepId, generation);
      const stored = await readJson(file);
      // Undefined: a newer generation's taker removed it meanwhile; look again.
      if (stored !== undefined) return { generation, lease: decodeLease(stored, file, { sweepId }) };
    }
  }

  async acquireLease(lease: SweepLease): Promise<{ acquired: true } | { acquired: false; holder: SweepLease }> {
    validateLease(lease);
    for (;;) {
      const { generation, lease: current } = await this.currentLease(lease.sweepId);
      if (current && current.token !== lease.token && !leaseExpired(current)) return { acquired: false, holder: current };
      const next = current?.token === lease.token ? generation : generation + 1;
      const file = this.leaseFile(lease.sweepId, next);
      if (next === generation) {
        await writeAtomic(file, encodeJson(lease, 2));
        return { acquired: true };
      }
      if (await writeAtomic(file, encodeJson(lease, 2), true)) {
        // Older generations are history nobody reads.
        for (const older of await this.leaseGenerations(lease.sweepId)) {
          if (older < next) await unlink(this.leaseFile(lease.sweepId, older)).catch(() => undefined);
        }
        return { acquired: true };
      }
      // Another process created that generation first: look again.
    }
  }

  async renewLease(sweepId: string, token: string, expiresAt: string): Promise<boolean> {
    const { generation, lease } = await this.currentLease(sweepId);
    if (lease?.token !== token) return false;
    const renewed = { ...lease, expiresAt };
    validateLease(renewed);
    // Should a taker create a newer generation meanwhile, this rewrites a generation nobody reads.
    await writeAtomic(this.leaseFile(sweepId, generation), encodeJson(renewed, 2));
    return true;
  }

  async releaseLease(sweepId: string, token: string): Promise<void> {
    await this.renewLease(sweepId, token, new Date().toISOString());
  }

  async getLease(sweepId: string): Promise<SweepLease | undefined> {
    return (await this.currentLease(sweepId)).lease;
  }

  private reproDir(name: string): string {
    return join(this.root, 'repro', validateId('repro name', name));
  }

  async createSweep(record: SweepRecord): Promise<boolean> {
    validateSweep(record);
    return writeAtomic(this.sweepFile(record.sweepId), encodeJson(record, 2), true);
  }

  async getSweep(sweepId: string): Promise<SweepRecord | undefined> {
    const file = this.sweepFile(sweepId);
    const stored = await readJson(file);
    return stored === undefined ? undefined : decodeSweep(stored, file, { sweepId });
  }

  async listSweeps(limit?: number): Promise<Array<SweepRecord | DamagedRecord>> {
    validateLimit(limit);
    const sweepIds = (await entriesOf(join(this.root, 'sweeps'))).filter((entry) => entry.isDirectory()).map((entry) => entry.name);
    // A sweep directory can hold tasks before (or without) its sweep record.
    const sweeps = (
      await mapLimited(sweepIds, READ_CONCURRENCY, (sweepId) => readOrDamaged({ sweepId }, () => this.getSweep(sweepId)))
    ).filter((sweep) => sweep !== undefined);
    return newestFirstListing(sweeps, limit);
  }

  async updateSweep(sweepId: string, from: SweepStatus[], patch: SweepPatch): Promise<boolean> {
    const file = this.sweepFile(sweepId);
    const changes = stampPatch(patch, ['sweepId', 'createdAt']);
    return this.updateIf(file, from, changes, (stored) => decodeSweep(stored, file, { sweepId }));
  }

  async putTask(record: TaskRecord): Promise<void> {
    validateTask(record);
    const file = this.taskFile(record.sweepId, record.taskId);
    await serialised(file, () => writeAtomic(file, encodeJson(record, 2)));
  }

  async putTasks(records: TaskRecord[]): Promise<void> {
    await mapLimited(lastRecordPerTask(records), READ_CONCURRENCY, (record) => this.putTask(record));
  }

  async getTask(sweepId: string, taskId: string): Promise<TaskRecord | undefined> {
    const file = this.taskFile(sweepId, taskId);
    const stored = await readJson(file);
    return stored === undefined ? undefined : decodeTask(stored, file, { sweepId, taskId });
  }

  async listTasks(sweepId: string): Promise<TaskRecord[]> {
    return intact(await this.scanTasks(sweepId));
  }

  async scanTasks(sweepId: string): Promise<Array<TaskRecord | DamagedRecord>> {
    const taskIds = (await jsonStems(join(this.sweepDir(sweepId), 'tasks'))).sort();
    const tasks = await mapLimited(taskIds, READ_CONCURRENCY, (taskId) =>
      readOrDamaged({ sweepId, taskId }, () => this.getTask(sweepId, taskId)),
    );
    return tasks.filter((task) => task !== undefined);
  }

  async updateTask(sweepId: string, taskId: string, from: TaskStatus[], patch: TaskPatch): Promise<boolean> {
    const file = this.taskFile(sweepId, taskId);
    const changes = stampPatch(patch, ['sweepId', 'taskId']);
    return this.updateIf(file, from, changes, (stored) => decodeTask(stored, file, { sweepId, taskId }));
  }

  private updateIf<R extends { status: string }>(
    file: string,
    from: readonly R['status'][],
    changes: Partial<R>,
    decode: (stored: unknown) => R,
  ): Promise<boolean> {
    return serialised(file, async () => {
      const stored = await readJson(file);
      if (stored === undefined) return false;
      const current = decode(stored);
      if (!from.includes(current.status)) return false;
      await writeAtomic(file, encodeJson({ ...current, ...changes }, 2));
      return true;
    });
  }

  /** One file per task: an object mapping each epoch number to its row. */
  async putEpochs(sweepId: string, taskId: string, rows: EpochMetrics[]): Promise<void> {
    const file = this.epochsFile(sweepId, taskId);
    const latest = epochRowsToStore(rows);
    if (latest.length === 0) return;
    await serialised(file, async () => {
      const byEpoch = (await readJson(file)) ?? {};
      if (!isPlainObject(byEpoch)) throw notKeyedByEpoch(file);
      for (const row of latest) byEpoch[row.epoch] = row;
      await writeAtomic(file, encodeJson(byEpoch));
    });
  }

  async getEpochs(sweepId: string, taskId: string): Promise<EpochMetrics[]> {
    const file = this.epochsFile(sweepId, taskId);
    return Object.entries(await this.readEpochFile(file))
      .map(([epoch, row]) => decodeEpoch(row, `${file} (epoch ${epoch})`, { epoch: Number(epoch) }))
      .sort((a, b) => a.epoch - b.epoch);
  }

  async deleteEpochs(sweepId: string, taskId: string): Promise<void> {
    const file = this.epochsFile(sweepId, taskId);
    await serialised(file, () => removeFile(file));
  }

  async getEpochsAt(sweepId: string, taskIds: string[], epoch: number): Promise<Map<string, EpochMetrics>> {
    validateEpoch(epoch);
    const rows = await mapLimited(taskIds, READ_CONCURRENCY, async (taskId) => {
      const file = this.epochsFile(sweepId, taskId);
      const row = (await this.readEpochFile(file))[epoch];
      return row === undefined ? [] : [[taskId, decodeEpoch(row, `${file} (epoch ${epoch})`, { epoch })] as const];
    });
    return new Map(rows.flat());
  }

  private async readEpochFile(file: string): Promise<Record<string, unknown>> {
    const byEpoch = (await readJson(file)) ?? {};
    if (!isPlainObject(byEpoch)) throw notKeyedByEpoch(file);
    return byEpoch;
  }

  /**
   * File names are `<createdAt without colons>_<sweepId>.json`: colons are not portable in file
   * names, and with a fixed-width timestamp the names sort like the DynamoDB sort keys.
   */
  async putRepro(record: ReproRecord): Promise<void> {
    validateRepro(record);
    const stem = `${record.createdAt.replaceAll(':', '')}_${record.sweepId}`;
    await writeAtomic(join(this.reproDir(record.name), `${stem}.json`), encodeJson(record, 2));
  }

  async listRepro(name: string, limit?: number): Promise<ReproRecord[]> {
    validateLimit(limit);
    const dir = this.reproDir(name);
    const newest = (await jsonStems(dir)).sort().reverse().slice(0, limit);
    const runs = await mapLimited(newest, READ_CONCURRENCY, async (stem) => {
      const file = join(dir, `${stem}.json`);
      const stored = await readJson(file);
      return stored === undefined ? undefined : decodeRepro(stored, file, { name });
    });
    return runs.filter((run): run is ReproRecord => run !== undefined);
  }
}

export class LocalArtifactStore implements ArtifactStore {
  readonly rootDir: string;

  constructor(rootDir: string) {
    this.rootDir = resolve(rootDir);
  }

  private file(key: string): string {
    validateKey(key);
    if (key === METRICS_DIR || key.startsWith(`${METRICS_DIR}/`)) {
      throw new StoreError('input', `invalid artifact key '${key}': '${METRICS_DIR}/' is reserved for the local metrics store`);
    }
    return join(this.rootDir, ...key.split('/'));
  }

  async put(key: string, body: Uint8Array | string): Promise<void> {
    await writeAtomic(this.file(key), body);
  }

  async create(key: string, body: Uint8Array | string): Promise<boolean> {
    return writeAtomic(this.file(key), body, true);
  }

  async get(key: string): Promise<Buffer | undefined> {
    const file = this.file(key);
    try {
      return await readFile(file);
    } catch (error) {
      // A directory, or a path through a file, is no object: S3 would answer "no such key" too.
      if (['ENOENT', 'ENOTDIR', 'EISDIR'].includes(errorCode(error) ?? '')) return undefined;
      throw new StoreError('service', `cannot read artifact ${file}: ${messageOf(error)}`, { cause: error });
    }
  }

  async exists(key: string): Promise<boolean> {
    const file = this.file(key);
    try {
      return (await stat(file)).isFile();
    } catch (error) {
      if (['ENOENT', 'ENOTDIR'].includes(errorCode(error) ?? '')) return false;
      throw new StoreError('service', `cannot stat artifact ${file}: ${messageOf(error)}`, { cause: error });
    }
  }

  async delete(key: string): Promise<void> {
    await removeFile(this.file(key));
  }

  async list(prefix: string): Promise<string[]> {
    validatePrefix(prefix);
    if (prefix.startsWith(`${METRICS_DIR}/`)) {
      throw new StoreError('input', `invalid prefix '${prefix}': '${METRICS_DIR}/' is reserved for the local metrics store`);
    }
    const keys: string[] = [];
    const walk = async (dirKey: string): Promise<void> => {
      for (const entry of await this.directoryEntries(dirKey)) {
        const key = `${dirKey}${entry.name}`;
        if (entry.name.includes('~') || key === METRICS_DIR) continue;
        if (entry.isDirectory()) {
          const dirPrefix = `${key}/`;
          if (dirPrefix.startsWith(prefix) || prefix.startsWith(dirPrefix)) await walk(dirPrefix);
        } else if (entry.isFile() && key.startsWith(prefix)) keys.push(key);
      }
    };
    await walk(prefix.slice(0, prefix.lastIndexOf('/') + 1));
    return keys.sort();
  }

  private async directoryEntries(dirKey: string) {
    try {
      return await entriesOf(join(this.rootDir, ...dirKey.split('/')));
    } catch (error) {
      // The prefix runs through a file: nothing is stored under it.
      if (errorCode((error as Error).cause) === 'ENOTDIR') return [];
      throw error;
    }
  }

  locate(key: string): string {
    return key === '' ? this.rootDir : this.file(key);
  }
}
