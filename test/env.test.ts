/** src/env.ts: every FLOODSWEEP_* variable parsed in one place, with errors naming the variable. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ENV_NAMES, readEnvironment } from '../src/env.js';
import { exitCodeOf, UsageError } from '../src/errors.js';

const rejects = (env: NodeJS.ProcessEnv, pattern: RegExp) =>
  assert.throws(
    () => readEnvironment(env),
    (error: unknown) => error instanceof UsageError && exitCodeOf(error) === 2 && pattern.test(error.message),
  );

test('FLOODSWEEP_BACKEND selects the backend; blank is auto; an unknown value names the variable and the allowed values', () => {
  assert.equal(readEnvironment({}).backend, 'auto');
  assert.equal(readEnvironment({ [ENV_NAMES.backend]: '' }).backend, 'auto');
  assert.equal(readEnvironment({ [ENV_NAMES.backend]: ' cpu ' }).backend, 'cpu');
  assert.equal(readEnvironment({ [ENV_NAMES.backend]: 'tfjs-node' }).backend, 'tfjs-node');
  rejects({ [ENV_NAMES.backend]: 'bogus' }, /^FLOODSWEEP_BACKEND: unknown backend "bogus"; allowed: auto, tfjs-node, wasm, cpu$/);
});

test('numeric variables are whole numbers >= 1, never NaN', () => {
  assert.equal(readEnvironment({ [ENV_NAMES.epochsPerCall]: '25' }).epochsPerCall, 25);
  assert.equal(readEnvironment({}).epochsPerCall, undefined);
  rejects({ [ENV_NAMES.epochsPerCall]: 'ten' }, /^FLOODSWEEP_EPOCHS_PER_CALL: expected a whole number >= 1, got "ten"$/);
  rejects({ [ENV_NAMES.epochsPerCall]: '2.5' }, /FLOODSWEEP_EPOCHS_PER_CALL/);
  rejects({ [ENV_NAMES.maxConcurrency]: '0' }, /^FLOODSWEEP_MAX_CONCURRENCY: expected a whole number >= 1/);
});

test('the AWS stores need both table and bucket', () => {
  const both = readEnvironment({ [ENV_NAMES.table]: 't', [ENV_NAMES.bucket]: 'b', AWS_REGION: 'eu-west-1' });
  assert.deepEqual([both.table, both.bucket, both.aws.region], ['t', 'b', 'eu-west-1']);
  rejects({ [ENV_NAMES.table]: 't' }, /^FLOODSWEEP_BUCKET: required together with FLOODSWEEP_TABLE$/);
  rejects({ [ENV_NAMES.bucket]: 'b' }, /^FLOODSWEEP_TABLE: required together with FLOODSWEEP_BUCKET$/);
});
