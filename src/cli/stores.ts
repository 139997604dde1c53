import { statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import { DEFAULT_RESULTS_DIR, DEFAULT_STACK, readEnvironment } from '../env.js';
import { UsageError } from '../errors.js';
import type { StoreConfig } from '../store/open.js';
import type { CloudTarget } from '../workflow/cloud-executor.js';

/** The flags of every command that reads or writes the results store. */
export interface StoreOptions {
  results?: string;
  cloud?: boolean;
  stack?: string;
  store?: string;
  table?: string;
  bucket?: string;
  endpointUrl?: string;
  region?: string;
}

export function addStoreOptions(command: Command): Command {
  return command
    .option('--results <dir>', `local results directory (default $FLOODSWEEP_RESULTS_DIR, else ${DEFAULT_RESULTS_DIR})`)
    .option('--cloud', 'use the deployed stack (its DynamoDB table, S3 bucket and state machine)')
    .option('--stack <name>', `the deployed stack's name, with --cloud (default ${DEFAULT_STACK})`)
    .option('--store <kind>', 'local (files, the default) or aws (DynamoDB + S3)', 'local')
    .option('--table <name>', 'DynamoDB table (with --store aws)')
    .option('--bucket <name>', 'S3 bucket (with --store aws)')
    .option('--endpoint-url <url>', 'AWS endpoint override, e.g. a local DynamoDB/S3 emulator (with --store aws)')
    .option('--region <region>', 'AWS region (with --store aws or --cloud; default from the AWS environment)');
}

/** `writing`: the command may create the results directory; reading commands need it to exist. */
export type StoreUse = 'reading' | 'writing';

/** Where the results are: a local directory, a table and bucket named by flags, or the deployed stack's. */
export async function storeConfig(options: StoreOptions, use: StoreUse): Promise<StoreConfig> {
  if (options.cloud) return (await cloudTarget(options)).stores;
  if (options.store === 'aws') {
    if (!options.table) throw new UsageError('--table: required with --store aws');
    if (!options.bucket) throw new UsageError('--bucket: required with --store aws');
    return { kind: 'aws', table: options.table, bucket: options.bucket, endpointUrl: options.endpointUrl, region: options.region };
  }
  if (options.store !== undefined && options.store !== 'local')
    throw new UsageError(`--store: unknown store ${JSON.stringify(options.store)}; allowed: local, aws`);
  const fromEnv = readEnvironment().resultsDir;
  const flag = options.results !== undefined ? '--results' : fromEnv !== undefined ? 'FLOODSWEEP_RESULTS_DIR' : '--results';
  const rootDir = resolve(options.results ?? fromEnv ?? DEFAULT_RESULTS_DIR);
  checkResultsDir(rootDir, flag, use);
  return { kind: 'local', rootDir };
}

/** A directory the command writes into: missing is fine (it is created), an existing file is bad input. */
export function checkOutputDir(flag: string, dir: string): void {
  const stats = statSync(dir, { throwIfNoEntry: false });
  if (stats && !stats.isDirectory()) throw new UsageError(`${flag}: ${JSON.stringify(dir)} is a file; a directory is needed`);
}

/** A file the command writes: an existing directory, or a missing parent directory, is bad input. */
export function checkOutputFile(flag: string, file: string): void {
  if (statSync(file, { throwIfNoEntry: false })?.isDirectory()) {
    throw new UsageError(`${flag}: ${JSON.stringify(file)} is a directory; a file name is needed`);
  }
  if (!statSync(dirname(resolve(file)), { throwIfNoEntry: false })?.isDirectory()) {
    throw new UsageError(`${flag}: no directory ${JSON.stringify(dirname(resolve(file)))} to write ${JSON.stringify(file)} in`);
  }
}

function checkResultsDir(dir: string, flag: string, use: StoreUse): void {
  checkOutputDir(flag, dir);
  const stats = statSync(dir, { throwIfNoEntry: false });
  if (!stats && use === 'reading') {
    throw new UsageError(`${flag}: no results directory at ${JSON.stringify(dir)}; run a sweep first or name the directory with --results`);
  }
}

export async function cloudTarget(options: StoreOptions): Promise<CloudTarget> {
  const { resolveCloudTarget } = await import('../workflow/cloud-executor.js');
  return resolveCloudTarget(options.stack, options.region);
}

/** The flags that point another command at the same results, for hints the user can paste. */
export function storeFlags(config: StoreConfig): string {
  if (config.kind === 'local') return `--results ${shellQuote(config.rootDir)}`;
  const endpoint = config.endpointUrl ? ` --endpoint-url ${shellQuote(config.endpointUrl)}` : '';
  return `--store aws --table ${shellQuote(config.table)} --bucket ${shellQuote(config.bucket)}${endpoint}`;
}

/** Quotes a word for a POSIX shell only when it needs it, so hints stay readable and pasteable. */
export function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}
