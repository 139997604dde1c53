import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { FloodsweepError } from '../errors.js';

/** Step Functions: execution names are 1-80 characters, without whitespace, brackets, wildcards or these. */
export const MAX_EXECUTION_NAME = 80;
const EXECUTION_NAME = /^[^\s<>{}[\]?*"#%\\^|~`$&,;:/\u0000-\u001f\u007f-\u009f]{1,80}$/;

/** The id an execution input runs under: its own (a resumed sweep), else a new one from the spec's name. */
export function sweepIdOf(input: { spec: unknown; sweepId?: string }): string {
  if (input.sweepId) return input.sweepId;
  const named = z.object({ name: z.string() }).safeParse(input.spec);
  return newSweepId(named.success ? named.data.name : 'sweep');
}

/** A new sweep's id: the spec's name, the UTC time and a random suffix. */
export function newSweepId(name: string, now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return `${name}-${stamp}-${randomBytes(2).toString('hex')}`;
}

/**
 * A fresh execution name for one run of a sweep. Names cannot be reused for 90 days after an
 * execution closes, so a resumed sweep needs a new one: the sweep id (cut to fit) and a random tail.
 */
export function executionNameFor(sweepId: string): string {
  const tail = randomBytes(4).toString('hex');
  return checkExecutionName(`${sweepId.slice(0, MAX_EXECUTION_NAME - tail.length - 1)}-${tail}`);
}

/** An execution's name, the last part of its ARN (arn:aws:states:<region>:<account>:execution:<state machine>:<name>). */
export function executionNameOf(executionArn: string): string {
  return executionArn.slice(executionArn.lastIndexOf(':') + 1);
}

/**
 * The sweep id of an execution started without one (a schedule): derived from the execution's
 * name, so a Plan that Step Functions retries plans the same sweep instead of minting a second.
 */
export function sweepIdOfExecution(specName: string, executionName: string): string {
  return `${specName}-${executionName.replace(/[^A-Za-z0-9._-]/g, '-')}`.slice(0, 128);
}

export function checkExecutionName(name: string): string {
  if (!EXECUTION_NAME.test(name)) {
    throw new FloodsweepError(
      'internal',
      `execution name ${JSON.stringify(name)}: Step Functions allows 1-${MAX_EXECUTION_NAME} characters without whitespace or <>{}[]?*"#%\\^|~\`$&,;:/`,
    );
  }
  return name;
}
