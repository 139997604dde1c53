/**
 * Deployment settings, read from CDK context (`cdk.json` or `npx cdk deploy -c key=value`), and
 * the reproducibility schedules, read from their config file. Every bad value is one error that
 * names the context key or the schedule field and says what is allowed.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import {
  DEFAULT_MAX_CONCURRENCY,
  defaultMemoryMb,
  perStep,
  STEPS,
  type StepId,
  TRAIN_RUNTIMES,
  type TrainRuntime,
} from '../src/workflow-steps.js';

export interface FunctionSizing {
  /** MB; Lambda gives one full vCPU at 1769 MB and up to 6 at 10240 MB. */
  memoryMb: number;
  timeoutSeconds: number;
}

/** Every step's function sizing (src/workflow-steps.ts has the defaults), and the rest of the deployment. */
export interface StackSettings extends Record<StepId, FunctionSizing> {
  trainRuntime: TrainRuntime;
  /** Upper bound on the Distributed Map's concurrency, whatever the spec asks for. */
  maxConcurrency: number;
  /** Reserved concurrency of the train function: its own pool, which leaves the rest of the account's to the other steps. */
  trainReservedConcurrency?: number;
  /** Epochs per train invocation (FLOODSWEEP_EPOCHS_PER_CALL); default: as many as the time allows. */
  epochsPerCall?: number;
  /** Checkpoints (objects tagged CHECKPOINT_TAG) are deleted this many days after they were written. */
  checkpointExpirationDays: number;
  /** Retention of the Lambda and Step Functions log groups. */
  logRetentionDays: number;
  /** S3 server access logs are deleted after this many days. */
  accessLogExpirationDays: number;
  /** Subscribed to the failed-execution alerts when set. */
  alertEmail?: string;
  /** The reproducibility schedules' config file, relative to the project root. */
  schedulesFile: string;
}

/** The object tag that marks a checkpoint for the bucket's expiration rule. */
export const CHECKPOINT_TAG = { key: 'floodsweep-kind', value: 'checkpoint' } as const;

/**
 * Context keys and their defaults (docs/cloud.md lists the same). Each step's function also has
 * `<step>Memory` and `<step>Timeout` keys, with its defaults in src/workflow-steps.ts.
 */
export const DEFAULTS = {
  trainRuntime: 'container' as TrainRuntime,
  maxConcurrency: DEFAULT_MAX_CONCURRENCY,
  checkpointExpirationDays: 14,
  logRetentionDays: 30,
  accessLogExpirationDays: 90,
  schedulesFile: 'infra/schedules.json',
};

/** CloudWatch Logs accepts only these retention periods. */
export const LOG_RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** What `app.node.tryGetContext` returns: strings from `-c`, any JSON value from cdk.json. */
export type ContextReader = (key: string) => unknown;

function integer(read: ContextReader, key: string, fallback: number, min: number, max: number, unit: string): number {
  const raw = read(key);
  if (raw === undefined || raw === null || raw === '') return fallback;
  const value = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\s*\d+\s*$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`context ${key}: expected an integer from ${min} to ${max} (${unit}), got ${JSON.stringify(raw)}`);
  }
  return value;
}

function optionalString(read: ContextReader, key: string): string | undefined {
  const raw = read(key);
  if (raw === undefined || raw === null || raw === '') return undefined;
  if (typeof raw !== 'string') throw new ConfigError(`context ${key}: expected a string, got ${JSON.stringify(raw)}`);
  return raw.trim();
}

const memory = (read: ContextReader, key: string, fallback: number) => integer(read, key, fallback, 128, 10240, 'MB');
const timeout = (read: ContextReader, key: string, fallback: number, min = 1) => integer(read, key, fallback, min, 900, 'seconds');

/** Each step's memory and timeout: the context keys `<step>Memory` and `<step>Timeout`, else the step's defaults. */
function stepSizing(read: ContextReader, trainRuntime: TrainRuntime): Record<StepId, FunctionSizing> {
  const sizing = (id: StepId): FunctionSizing => {
    const step: { timeoutSeconds: number; minTimeoutSeconds?: number } = STEPS[id];
    return {
      memoryMb: memory(read, `${id}Memory`, defaultMemoryMb(id, trainRuntime)),
      timeoutSeconds: timeout(read, `${id}Timeout`, step.timeoutSeconds, step.minTimeoutSeconds),
    };
  };
  return perStep(sizing);
}

export function settingsFromContext(read: ContextReader): StackSettings {
  const runtime = read('trainRuntime') ?? DEFAULTS.trainRuntime;
  if (typeof runtime !== 'string' || !(TRAIN_RUNTIMES as readonly string[]).includes(runtime)) {
    throw new ConfigError(`context trainRuntime: expected one of ${TRAIN_RUNTIMES.join(', ')}, got ${JSON.stringify(runtime)}`);
  }
  const trainRuntime = runtime as TrainRuntime;
  const retention = integer(read, 'logRetentionDays', DEFAULTS.logRetentionDays, 1, 3653, 'days');
  if (!LOG_RETENTION_DAYS.includes(retention)) {
    throw new ConfigError(`context logRetentionDays: expected one of ${LOG_RETENTION_DAYS.join(', ')}, got ${retention}`);
  }
  const alertEmail = optionalString(read, 'alertEmail');
  if (alertEmail !== undefined && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(alertEmail)) {
    throw new ConfigError(`context alertEmail: expected an e-mail address, got ${JSON.stringify(alertEmail)}`);
  }
  const epochsPerCallRaw = read('epochsPerCall');
  const reservedRaw = read('trainReservedConcurrency');
  return {
    trainRuntime,
    ...stepSizing(read, trainRuntime),
    // A Distributed Map runs at most 10,000 child executions at once.
    maxConcurrency: integer(read, 'maxConcurrency', DEFAULTS.maxConcurrency, 1, 10000, 'parallel tasks'),
    trainReservedConcurrency:
      reservedRaw === undefined || reservedRaw === ''
        ? undefined
        : integer(read, 'trainReservedConcurrency', 1, 1, 10000, 'concurrent executions'),
    epochsPerCall:
      epochsPerCallRaw === undefined || epochsPerCallRaw === '' ? undefined : integer(read, 'epochsPerCall', 1, 1, 1_000_000, 'epochs'),
    checkpointExpirationDays: integer(read, 'checkpointExpirationDays', DEFAULTS.checkpointExpirationDays, 1, 3650, 'days'),
    logRetentionDays: retention,
    accessLogExpirationDays: integer(read, 'accessLogExpirationDays', DEFAULTS.accessLogExpirationDays, 1, 3650, 'days'),
    alertEmail,
    schedulesFile: optionalString(read, 'schedulesFile') ?? DEFAULTS.schedulesFile,
  };
}

/* ------------------------------------------------------------------------------------------------
 * Reproducibility schedules
 * ---------------------------------------------------------------------------------------------- */

/** One schedule as written in the config file. */
export interface ScheduleConfig {
  /** Letters, digits, `-`, `_` and `.`; also the reproducibility series' name. */
  name: string;
  description?: string;
  /** EventBridge Scheduler cron fields: minutes hours day-of-month month day-of-week year. */
  cron: string;
  /** IANA time zone, e.g. Europe/Berlin; the cron fields are read in it (daylight saving included). */
  timeZone: string;
  /** Default true. */
  enabled?: boolean;
  /** The sweep spec: inline, or a JSON/YAML file path relative to the config file. */
  spec: Record<string, unknown> | string;
  /**
   * What the run is compared with (the workflow's Compare step): an earlier sweep of the same spec,
   * or a baseline file (format floodsweep-baseline/1) in the artifact bucket under `baselines/`.
   */
  baseline: { sweepId: string } | { key: string };
  /** Drift tolerances (src/sweep/repro.ts toleranceSchema); default: exact on the same backend. */
  tolerances?: Record<string, unknown>;
}

export interface ResolvedSchedule {
  name: string;
  description?: string;
  /** `cron(...)` */
  expression: string;
  timeZone: string;
  enabled: boolean;
  /** The state machine input the schedule starts an execution with: the workflow's `repro` block makes it a reproducibility run. */
  input: {
    spec: Record<string, unknown>;
    repro: { name: string; baseline: { sweepId: string } | { key: string }; tolerances?: Record<string, unknown> };
  };
}

/** The Distributed Map's ResultWriter exports the child executions' outputs under this prefix (expired by a lifecycle rule). */
export const MAP_RESULTS_PREFIX = 'map-results/';

/** Baseline files live under this prefix of the artifact bucket (the compare function may read it). */
export const BASELINE_PREFIX = 'baselines/';

/** Step Functions limits an execution's input to 256 KiB. */
export const MAX_EXECUTION_INPUT_BYTES = 256 * 1024;

const SCHEDULE_FIELDS = new Set(['name', 'description', 'cron', 'timeZone', 'enabled', 'spec', 'baseline', 'tolerances']);

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function validCronFields(cron: string): string | undefined {
  const fields = cron.trim().split(/\s+/);
  if (fields.length !== 6) return `expected 6 fields (minutes hours day-of-month month day-of-week year), got ${fields.length}`;
  const [, , dayOfMonth, , dayOfWeek] = fields;
  if ((dayOfMonth === '?') === (dayOfWeek === '?')) return 'exactly one of day-of-month and day-of-week must be ?';
  return undefined;
}

function validTimeZone(timeZone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone });
    return true;
  } catch {
    return false;
  }
}

function readSpecFile(file: string, where: string): Record<string, unknown> {
  if (!existsSync(file)) throw new ConfigError(`${where}: spec file ${file} does not exist`);
  const text = readFileSync(file, 'utf8');
  let value: unknown;
  try {
    value = /\.ya?ml$/i.test(file) ? parseYaml(text) : JSON.parse(text);
  } catch (error) {
    throw new ConfigError(
      `${where}: spec file ${file} is not valid ${/\.ya?ml$/i.test(file) ? 'YAML' : 'JSON'}: ${(error as Error).message}`,
    );
  }
  if (!isRecord(value)) throw new ConfigError(`${where}: spec file ${file} must hold an object`);
  return value;
}

/** Reads and checks the schedules file. A missing file means no schedules. */
export function loadSchedules(file: string): ResolvedSchedule[] {
  if (!existsSync(file)) return [];
  let document: unknown;
  try {
    document = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new ConfigError(`${file}: not valid JSON: ${(error as Error).message}`);
  }
  if (!isRecord(document) || !Array.isArray(document.schedules)) {
    throw new ConfigError(`${file}: expected an object with a "schedules" array`);
  }
  const seen = new Set<string>();
  return document.schedules.map((entry: unknown, index: number) => {
    const where = `${file}: schedules[${index}]`;
    if (!isRecord(entry)) throw new ConfigError(`${where}: expected an object`);
    for (const key of Object.keys(entry)) {
      if (!SCHEDULE_FIELDS.has(key)) {
        throw new ConfigError(`${where}.${key}: unknown field; allowed: ${[...SCHEDULE_FIELDS].join(', ')}`);
      }
    }
    const { name, description, cron, timeZone, enabled, spec, baseline, tolerances } = entry as Partial<
      Record<keyof ScheduleConfig, unknown>
    >;
    if (typeof name !== 'string' || !/^[A-Za-z0-9_.-]{1,40}$/.test(name)) {
      throw new ConfigError(`${where}.name: expected 1-40 letters, digits, -, _ or ., got ${JSON.stringify(name)}`);
    }
    if (seen.has(name)) throw new ConfigError(`${where}.name: "${name}" is used by an earlier schedule`);
    seen.add(name);
    if (description !== undefined && (typeof description !== 'string' || description.length > 512)) {
      throw new ConfigError(`${where}.description: expected a string of at most 512 characters`);
    }
    if (typeof cron !== 'string') throw new ConfigError(`${where}.cron: expected a string such as "0 3 ? * MON *"`);
    const fields = cron.trim().replace(/^cron\((.*)\)$/, '$1');
    const cronProblem = validCronFields(fields);
    if (cronProblem) throw new ConfigError(`${where}.cron: ${JSON.stringify(cron)}: ${cronProblem}`);
    if (typeof timeZone !== 'string' || !validTimeZone(timeZone)) {
      throw new ConfigError(
        `${where}.timeZone: expected an IANA time zone such as "UTC" or "Europe/Berlin", got ${JSON.stringify(timeZone)}`,
      );
    }
    if (enabled !== undefined && typeof enabled !== 'boolean') throw new ConfigError(`${where}.enabled: expected true or false`);
    let resolvedSpec: Record<string, unknown>;
    if (typeof spec === 'string') resolvedSpec = readSpecFile(path.resolve(path.dirname(file), spec), `${where}.spec`);
    else if (isRecord(spec)) resolvedSpec = spec;
    else throw new ConfigError(`${where}.spec: expected a sweep spec object or the path of a JSON/YAML spec file`);
    const baselineRule = `an earlier sweep {"sweepId": "..."} or a baseline file {"key": "${BASELINE_PREFIX}..."}`;
    if (!isRecord(baseline) || Object.keys(baseline).length !== 1) {
      throw new ConfigError(`${where}.baseline: expected ${baselineRule}`);
    }
    if ('sweepId' in baseline) {
      if (typeof baseline.sweepId !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(baseline.sweepId)) {
        throw new ConfigError(
          `${where}.baseline.sweepId: expected a sweep id (letters, digits, '.', '_', '-'), got ${JSON.stringify(baseline.sweepId)}`,
        );
      }
    } else if ('key' in baseline) {
      const key = baseline.key;
      if (typeof key !== 'string' || !key.startsWith(BASELINE_PREFIX) || key.length === BASELINE_PREFIX.length || key.includes('..')) {
        throw new ConfigError(
          `${where}.baseline.key: expected a key under ${BASELINE_PREFIX} (the compare function may read only there), got ${JSON.stringify(key)}`,
        );
      }
    } else {
      throw new ConfigError(`${where}.baseline: expected ${baselineRule}`);
    }
    if (tolerances !== undefined && !isRecord(tolerances)) throw new ConfigError(`${where}.tolerances: expected an object`);
    const repro = {
      name,
      baseline: baseline as { sweepId: string } | { key: string },
      ...(tolerances === undefined ? {} : { tolerances: tolerances as Record<string, unknown> }),
    };
    const input = { spec: resolvedSpec, repro };
    const size = Buffer.byteLength(JSON.stringify(input), 'utf8');
    if (size > MAX_EXECUTION_INPUT_BYTES) {
      throw new ConfigError(`${where}.spec: the execution input is ${size} bytes; Step Functions allows ${MAX_EXECUTION_INPUT_BYTES}`);
    }
    return {
      name,
      description: description as string | undefined,
      expression: `cron(${fields.trim()})`,
      timeZone,
      enabled: enabled ?? true,
      input,
    };
  });
}
