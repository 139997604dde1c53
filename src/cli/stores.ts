import { statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import { DEFAULT_RESULTS_DIR, DEFAULT_STACK, readEnvironment } from '../env.js';
import { UsageError } from '../errors.js';
import type { StoreConfig } from '../store/open.js';
import { checkDirectory, checkPathText } from '../user-paths.js';
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
  checkAwsNames(options);
  if (options.store === 'aws') {
    if (options.table === undefined) throw new UsageError('--table: required with --store aws');
    if (options.bucket === undefined) throw new UsageError('--bucket: required with --store aws');
    return { kind: 'aws', table: options.table, bucket: options.bucket, endpointUrl: options.endpointUrl, region: options.region };
  }
  if (options.store !== undefined && options.store !== 'local')
    throw new UsageError(`--store: unknown store ${JSON.stringify(options.store)}; allowed: local, aws`);
  const fromEnv = readEnvironment().resultsDir;
  const flag = options.results !== undefined ? '--results' : fromEnv !== undefined ? 'FLOODSWEEP_RESULTS_DIR' : '--results';
  const given = options.results ?? fromEnv ?? DEFAULT_RESULTS_DIR;
  checkPathText(flag, given);
  const rootDir = resolve(given);
  checkResultsDir(rootDir, flag, use);
  return { kind: 'local', rootDir };
}

/** A directory the command writes into: missing is fine (it is created), an existing file, a device or /proc is bad input. */
export function checkOutputDir(flag: string, dir: string): void {
  checkDirectory(flag, dir, { writable: true });
}

/** A file the command writes: an existing directory, or a missing parent directory, is bad input. */
export function checkOutputFile(flag: string, file: string): void {
  checkPathText(flag, file);
  if (statSync(file, { throwIfNoEntry: false })?.isDirectory()) {
    throw new UsageError(`${flag}: ${JSON.stringify(file)} is a directory; a file name is needed`);
  }
  if (!statSync(dirname(resolve(file)), { throwIfNoEntry: false })?.isDirectory()) {
    throw new UsageError(`${flag}: no directory ${JSON.stringify(dirname(resolve(file)))} to write ${JSON.stringify(file)} in`);
  }
}

function checkResultsDir(dir: string, flag: string, use: StoreUse): void {
  checkDirectory(flag, dir, { writable: use === 'writing' });
  if (use === 'reading' && !statSync(dir, { throwIfNoEntry: false })) {
    throw new UsageError(`${flag}: no results directory at ${JSON.stringify(dir)}; run a sweep first or name the directory with --results`);
  }
}

export async function cloudTarget(options: StoreOptions): Promise<CloudTarget> {
  checkAwsNames(options);
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

/** DynamoDB's table names: 3-255 of letters, digits, '_', '-' and '.'. */
const TABLE_NAME = /^[A-Za-z0-9_.-]{3,255}$/;
/** CloudFormation's stack names. */
const STACK_NAME = /^[A-Za-z][A-Za-z0-9-]{0,127}$/;
/** Region names as AWS spells them (us-east-1, us-gov-west-1); an emulator may take others of that form. */
const REGION = /^[a-z0-9]{1,20}(-[a-z0-9]{1,20}){0,4}$/;

/** Why a name breaks S3's rules for general purpose buckets, if it does. */
function bucketProblem(name: string): string | undefined {
  if (name.length < 3 || name.length > 63) return `has ${name.length} characters; 3 to 63 are allowed`;
  if (!/^[a-z0-9][a-z0-9.-]*[a-z0-9]$/.test(name)) {
    return "may hold only lowercase letters, digits, '.' and '-', and must begin and end with a letter or digit";
  }
  if (name.includes('..')) return "may not hold '..'";
  if (/^\d+\.\d+\.\d+\.\d+$/.test(name)) return 'may not look like an IP address';
  const reserved = ['xn--', 'sthree-', 'amzn-s3-demo-'].find((prefix) => name.startsWith(prefix));
  if (reserved) return `may not begin with ${JSON.stringify(reserved)}`;
  const suffix = ['-s3alias', '--ol-s3', '.mrap', '--x-s3', '--table-s3'].find((end) => name.endsWith(end));
  if (suffix) return `may not end with ${JSON.stringify(suffix)}`;
  return undefined;
}

/** The AWS names and the endpoint the flags give, checked before any AWS call (the SDK would send a bad one anyway). */
export function checkAwsNames({ table, bucket, endpointUrl, region, stack }: StoreOptions): void {
  const shown = (value: string) => JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
  if (table !== undefined && !TABLE_NAME.test(table)) {
    throw new UsageError(`--table: ${shown(table)} is not a DynamoDB table name; use 3-255 letters, digits, '_', '-' or '.'`);
  }
  const problem = bucket === undefined ? undefined : bucketProblem(bucket);
  if (problem) throw new UsageError(`--bucket: ${shown(bucket!)} is not an S3 bucket name: a bucket name ${problem}`);
  if (stack !== undefined && !STACK_NAME.test(stack)) {
    throw new UsageError(`--stack: ${shown(stack)} is not a stack name; use a letter, then up to 127 letters, digits or '-'`);
  }
  if (region !== undefined && !REGION.test(region)) {
    throw new UsageError(`--region: ${shown(region)} is not a region name (like us-east-1)`);
  }
  if (endpointUrl !== undefined) checkEndpointUrl(endpointUrl, shown(endpointUrl));
}

function checkEndpointUrl(endpointUrl: string, shown: string): void {
  const url = URL.canParse(endpointUrl) ? new URL(endpointUrl) : undefined;
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.hostname === '') {
    throw new UsageError(`--endpoint-url: ${shown} is not an http:// or https:// URL`);
  }
  if (url.username || url.password) throw new UsageError('--endpoint-url: credentials in the URL are not allowed; use the AWS environment');
}

/** The flags that name the same deployed stack again, for hints. */
export function cloudFlags(options: StoreOptions): string {
  return [
    '--cloud',
    options.stack ? `--stack ${shellQuote(options.stack)}` : '',
    options.region ? `--region ${shellQuote(options.region)}` : '',
  ]
    .filter(Boolean)
    .join(' ');
}

/** The stores a reading command looks at. */
export async function openFor(options: StoreOptions) {
  const { openStores } = await import('../store/open.js');
  return openStores(await storeConfig(options, 'reading'));
}
