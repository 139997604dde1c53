import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dataFiles } from '../flooding/array-datasets.js';
import type { TaskConfig } from '../flooding/config.js';
import { type ArtifactStore, StoreError } from '../store/ports.js';

/**
 * The files a task reads (its data and its model file) travel to where it trains through the
 * bucket: uploaded once under their content hash, `files/<sha256>/<field>`, and read by Train
 * where the path the spec named does not exist (a Lambda). A changed file has another hash, so
 * an object is never overwritten, and tasks of any sweep share it.
 */

interface TaskFile {
  key: string;
  /** Where the spec named it (on the machine that planned the sweep). */
  path: string;
}

/** The data and model files of a task, with their keys in the bucket (none for synthetic data and built-in models). */
function filesOf(config: TaskConfig): TaskFile[] {
  const { dataset, model } = config;
  const dataHash = 'sha256' in dataset ? dataset.sha256 : undefined;
  const files = dataHash ? dataFiles(dataset).map(({ field, path }) => ({ key: `files/${dataHash}/${field}`, path })) : [];
  if (model.kind === 'layers' && model.sha256) files.push({ key: `files/${model.sha256}/model`, path: model.path });
  return files;
}

/** Uploads the files of the tasks that the bucket does not hold yet; returns how many it uploaded. */
export async function uploadTaskFiles(artifacts: ArtifactStore, tasks: ReadonlyArray<{ config: TaskConfig }>): Promise<number> {
  const files = new Map(tasks.flatMap(({ config }) => filesOf(config).map((file) => [file.key, file.path])));
  let uploaded = 0;
  for (const [key, path] of files) {
    if (await artifacts.exists(key)) continue;
    await artifacts.put(key, readFileSync(path), 'application/octet-stream');
    uploaded += 1;
  }
  return uploaded;
}

/**
 * The task's config with each file that is not at its path here replaced by a local copy from the
 * bucket (kept in the temp directory for the next task): what the task reads its data and model
 * from. Its id stays the config's own (the content hashes are unchanged).
 */
export async function withLocalFiles(artifacts: ArtifactStore, config: TaskConfig): Promise<TaskConfig> {
  const replaced = new Map<string, string>();
  for (const { key, path } of filesOf(config)) {
    if (existsSync(path)) continue;
    const local = join(tmpdir(), 'floodsweep-files', key.replaceAll('/', '-'));
    if (!existsSync(local) || statSync(local).size === 0) {
      const bytes = await artifacts.get(key);
      if (!bytes)
        throw new StoreError('state', `${artifacts.locate(key)} is missing: the data or model file of this task was not uploaded`);
      mkdirSync(join(tmpdir(), 'floodsweep-files'), { recursive: true });
      // Written aside and renamed, so that a killed download is never read as the file.
      writeFileSync(`${local}.part`, bytes);
      renameSync(`${local}.part`, local);
    }
    replaced.set(path, local);
  }
  if (replaced.size === 0) return config;
  const local = (path: string) => replaced.get(path) ?? path;
  const dataset = Object.fromEntries(
    Object.entries(config.dataset).map(([field, value]) => [
      field,
      ['path', 'inputs', 'labels'].includes(field) ? local(value as string) : value,
    ]),
  ) as TaskConfig['dataset'];
  const model = config.model.kind === 'layers' ? { ...config.model, path: local(config.model.path) } : config.model;
  return { ...config, dataset, model };
}
