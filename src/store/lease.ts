/**
 * A local run holds its sweep's lease while it runs: a second run of the same sweep is refused,
 * naming the holder, and a sweep whose process died shows as INTERRUPTED once the lease expires,
 * or at once when that process ran on this host (its pid and start time say it is gone).
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { FloodsweepError } from '../errors.js';
import { leaseExpired, observedStatus, type SweepLease, type SweepRecord } from '../sweep/records.js';
import { type MetricsStore, StoreError } from './ports.js';
import { holderIsGone, processStartOf } from './process-identity.js';

/** Another process runs the sweep: a state of the stores, not a mistake in the command. */
export class SweepLeasedError extends FloodsweepError {
  override name = 'SweepLeasedError';

  constructor(holder: SweepLease, what = 'is running') {
    const where = holder.pid === EXECUTION_PID ? `in execution ${holder.host}` : `on host ${holder.host}, pid ${holder.pid}`;
    super(
      'state',
      `sweep ${holder.sweepId} ${what} ${where}, since ${holder.startedAt} (lease until ${holder.expiresAt}); ` +
        'wait for it to end or stop that process; a lease whose process died expires by itself',
    );
  }
}

/** A lease held by a Step Functions execution: its host is the execution's ARN, and it has no pid. */
const EXECUTION_PID = 0;

/** The lease token of a Step Functions execution: its name, in the characters a token may hold. */
export function executionLeaseToken(executionName: string): string {
  return executionName.replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 128);
}

/**
 * A cloud execution's hold on its sweep, taken by Plan (again when Step Functions retries it)
 * for as long as the execution may run, and released by Aggregate, MarkSweepFailed or
 * `sweep stop`: a second execution of the sweep is refused in its Plan, before it trains anything.
 */
export async function takeExecutionLease(
  metrics: MetricsStore,
  sweepId: string,
  execution: { name: string; arn: string },
  seconds: number,
  now = new Date(),
): Promise<void> {
  const taken = await metrics.acquireLease({
    sweepId,
    token: executionLeaseToken(execution.name),
    host: execution.arn,
    pid: EXECUTION_PID,
    startedAt: now.toISOString(),
    expiresAt: new Date(now.getTime() + seconds * 1000).toISOString(),
  });
  if (!taken.acquired) throw new SweepLeasedError(taken.holder);
}

export interface HeldLease {
  /** Expires the lease now and stops renewing it. */
  release(): Promise<void>;
}

/** The lease holds: not expired, and its process is not known to be gone. */
const holds = (lease: SweepLease) => !leaseExpired(lease) && !holderIsGone(lease);

/**
 * Refuses at once a sweep whose lease another process holds: a quick look before the run starts
 * its workers, so that a second run says so in milliseconds. Only holdLease decides.
 */
export async function refuseIfLeased(metrics: MetricsStore, sweepId: string): Promise<void> {
  const holder = await metrics.getLease(sweepId);
  if (holder && holds(holder)) throw new SweepLeasedError(holder);
}

const TIMED_OUT = Symbol('timed out');
/** How long a lease call is waited for at least: a local write on a loaded machine takes a while, a stopped endpoint forever. */
const MIN_PATIENCE_MS = 5_000;

/** The call's outcome, or TIMED_OUT after `ms` (the call goes on; its late outcome is dropped). */
function within<T>(ms: number, call: Promise<T>): Promise<T | typeof TIMED_OUT> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<typeof TIMED_OUT>((resolve) => {
    timer = setTimeout(() => resolve(TIMED_OUT), ms);
    timer.unref();
  });
  call.catch(() => undefined);
  return Promise.race([call, late]).finally(() => clearTimeout(timer));
}

/**
 * Takes the sweep's lease for `seconds`, renewed every third of that while the process lives; a
 * lease whose holder is gone from this host is taken over at once. `onLost` runs if another
 * process took it over (this one stalled longer than the lease), or if the store did not renew it
 * before it expired (a stopped endpoint): past its expiry another process may take the sweep.
 */
export async function holdLease(
  metrics: MetricsStore,
  sweepId: string,
  seconds: number,
  onLost: (error: FloodsweepError) => void,
): Promise<HeldLease> {
  const until = () => new Date(Date.now() + seconds * 1000).toISOString();
  const lease: SweepLease = {
    sweepId,
    token: randomBytes(8).toString('hex'),
    host: hostname(),
    pid: process.pid,
    processStart: processStartOf(process.pid),
    startedAt: new Date().toISOString(),
    expiresAt: until(),
  };
  let taken = await metrics.acquireLease(lease);
  if (!taken.acquired && holderIsGone(taken.holder)) {
    // Expiring the dead holder's lease is conditional on its token: should another process have
    // taken the sweep over meanwhile, this changes nothing and the second acquire names that one.
    await metrics.releaseLease(sweepId, taken.holder.token);
    taken = await metrics.acquireLease(lease);
  }
  if (!taken.acquired) throw new SweepLeasedError(taken.holder);
  const beatMs = (seconds * 1000) / 3;
  let expiresAt = Date.parse(lease.expiresAt);
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const beat = async () => {
    const next = until();
    // A renewal may take until the lease expires, and at least a few seconds (a busy process's timers fire late).
    const patience = Math.max(MIN_PATIENCE_MS, expiresAt - Date.now());
    const renewed = await within(patience, metrics.renewLease(sweepId, lease.token, next)).catch((error: unknown) => error);
    if (stopped) return;
    if (renewed === true) expiresAt = Date.parse(next);
    else if (renewed === false) {
      const holder = await within(beatMs, metrics.getLease(sweepId)).catch(() => undefined);
      stopped = true;
      return onLost(new SweepLeasedError(holder && holder !== TIMED_OUT ? holder : lease, 'was taken over: it runs'));
    } else if (Date.now() >= expiresAt) {
      // A failed renewal is tried again at the next beat, until the lease has expired.
      const why = renewed === TIMED_OUT ? `no answer in ${(patience / 1000).toFixed(0)} s` : (renewed as Error).message;
      stopped = true;
      return onLost(
        new StoreError('service', `the store did not renew the lease of sweep ${sweepId} before it expired (${why}); the run stops`),
      );
    }
    timer = setTimeout(beat, beatMs);
    timer.unref();
  };
  timer = setTimeout(beat, beatMs);
  timer.unref();
  return {
    release: async () => {
      stopped = true;
      clearTimeout(timer);
      // An unreachable store must not hold the command: the lease expires by itself.
      // Nor may a failed release (a full disk) hide the error that ended the run.
      await within(MIN_PATIENCE_MS, metrics.releaseLease(sweepId, lease.token)).catch(() => undefined);
    },
  };
}

/**
 * The sweep as a reader should see it: RUNNING with an expired lease, or one whose process is gone
 * from this host, is INTERRUPTED, with a cause naming the process that stopped without saying so
 * (killed, or its machine stopped).
 */
export async function observeSweep(metrics: MetricsStore, sweep: SweepRecord, now = new Date()): Promise<SweepRecord> {
  const lease = sweep.status === 'RUNNING' ? await metrics.getLease(sweep.sweepId) : undefined;
  if (!lease) return sweep;
  const gone = holderIsGone(lease);
  if (!gone && observedStatus(sweep, lease, now) !== 'INTERRUPTED') return sweep;
  const when = gone ? 'it is gone from this host' : `lease expired at ${lease.expiresAt}`;
  const cause = `its process (host ${lease.host}, pid ${lease.pid}) stopped without finishing; ${when}`;
  return { ...sweep, status: 'INTERRUPTED', error: sweep.error ?? cause };
}
