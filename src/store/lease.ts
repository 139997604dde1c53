/**
 * A local run holds its sweep's lease while it runs: a second run of the same sweep is refused,
 * naming the holder, and a sweep whose process died shows as INTERRUPTED once the lease expires.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { FloodsweepError } from '../errors.js';
import { leaseExpired, observedStatus, type SweepLease, type SweepRecord } from '../sweep/records.js';
import type { MetricsStore } from './ports.js';

/** Another process runs the sweep: a state of the stores, not a mistake in the command. */
export class SweepLeasedError extends FloodsweepError {
  override name = 'SweepLeasedError';

  constructor(holder: SweepLease, what = 'is running') {
    super(
      'state',
      `sweep ${holder.sweepId} ${what} on host ${holder.host}, pid ${holder.pid}, since ${holder.startedAt} (lease until ${holder.expiresAt}); ` +
        'wait for it to end or stop that process; a lease whose process died expires by itself',
    );
  }
}

export interface HeldLease {
  /** Expires the lease now and stops renewing it. */
  release(): Promise<void>;
}

/**
 * Refuses at once a sweep whose lease another process holds: a quick look before the run starts
 * its workers, so that a second run says so in milliseconds. Only holdLease decides.
 */
export async function refuseIfLeased(metrics: MetricsStore, sweepId: string): Promise<void> {
  const holder = await metrics.getLease(sweepId);
  if (holder && !leaseExpired(holder)) throw new SweepLeasedError(holder);
}

/**
 * Takes the sweep's lease for `seconds`, renewed every third of that while the process lives.
 * `onLost` runs if another process took it over (this one stalled longer than the lease).
 */
export async function holdLease(
  metrics: MetricsStore,
  sweepId: string,
  seconds: number,
  onLost: (error: SweepLeasedError) => void,
): Promise<HeldLease> {
  const until = () => new Date(Date.now() + seconds * 1000).toISOString();
  const lease: SweepLease = {
    sweepId,
    token: randomBytes(8).toString('hex'),
    host: hostname(),
    pid: process.pid,
    startedAt: new Date().toISOString(),
    expiresAt: until(),
  };
  const taken = await metrics.acquireLease(lease);
  if (!taken.acquired) throw new SweepLeasedError(taken.holder);
  const heartbeat = setInterval(
    async () => {
      // A failed renewal is tried again at the next beat; the lease outlives two missed beats.
      const renewed = await metrics.renewLease(sweepId, lease.token, until()).catch(() => true);
      if (renewed) return;
      clearInterval(heartbeat);
      const holder = await metrics.getLease(sweepId).catch(() => undefined);
      onLost(new SweepLeasedError(holder ?? lease, 'was taken over: it runs'));
    },
    (seconds * 1000) / 3,
  );
  heartbeat.unref();
  return {
    release: async () => {
      clearInterval(heartbeat);
      await metrics.releaseLease(sweepId, lease.token);
    },
  };
}

/**
 * The sweep as a reader should see it: RUNNING with an expired lease is INTERRUPTED, with a cause
 * naming the process that stopped without saying so (killed, or its machine stopped).
 */
export async function observeSweep(metrics: MetricsStore, sweep: SweepRecord, now = new Date()): Promise<SweepRecord> {
  const lease = sweep.status === 'RUNNING' ? await metrics.getLease(sweep.sweepId) : undefined;
  if (!lease || observedStatus(sweep, lease, now) !== 'INTERRUPTED') return sweep;
  const cause = `its process (host ${lease.host}, pid ${lease.pid}) stopped without finishing; lease expired at ${lease.expiresAt}`;
  return { ...sweep, status: 'INTERRUPTED', error: sweep.error ?? cause };
}
