/** Statistics over seeds: mean, sample standard deviation, paired differences with Student-t confidence intervals. */
import normalQuantile from '@stdlib/stats-base-dists-normal-quantile';
import tQuantile from '@stdlib/stats-base-dists-t-quantile';

/** Mean and sample standard deviation of n values; sd is 0 when n = 1. */
export interface Estimate {
  n: number;
  mean: number;
  sd: number;
}

/** Mean of paired differences with its 95% confidence interval. */
export interface Difference extends Estimate {
  /** [low, high]; null when n = 1 (no spread to estimate), with `note` saying so. */
  ci95: [number, number] | null;
  note?: string;
}

export function mean(values: readonly number[]): number {
  if (values.length === 0) throw new Error('mean of no values');
  return values.reduce((sum, v) => sum + v, 0) / values.length;
}

/** Standard deviation with the n - 1 denominator; 0 for a single value. */
export function sampleSd(values: readonly number[]): number {
  if (values.length < 2) {
    if (values.length === 0) throw new Error('standard deviation of no values');
    return 0;
  }
  const m = mean(values);
  return Math.sqrt(values.reduce((sum, v) => sum + (v - m) ** 2, 0) / (values.length - 1));
}

/** Null for no values. */
export function estimate(values: readonly number[]): Estimate | null {
  return values.length === 0 ? null : { n: values.length, mean: mean(values), sd: sampleSd(values) };
}

/**
 * `treatment[i] - control[i]` over aligned pairs (e.g. the same seed at two flood levels): mean, sd
 * and the 95% Student-t interval mean ± t(0.975, n - 1) · sd / √n.
 */
export function pairedDifference(treatment: readonly number[], control: readonly number[]): Difference {
  if (treatment.length !== control.length) {
    throw new Error(`paired difference of ${treatment.length} and ${control.length} values: the pairs must line up`);
  }
  if (treatment.length === 0) throw new Error('paired difference of no pairs');
  const differences = treatment.map((t, i) => t - control[i]);
  const [n, m, sd] = [differences.length, mean(differences), sampleSd(differences)];
  if (n === 1) return { n, mean: m, sd, ci95: null, note: 'n = 1: no confidence interval (needs at least 2 paired seeds)' };
  const halfWidth = (studentTQuantile(0.975, n - 1) * sd) / Math.sqrt(n);
  return { n, mean: m, sd, ci95: [m - halfWidth, m + halfWidth] };
}

/**
 * The p-quantile of Student's t distribution with `df` degrees of freedom (df > 0, Infinity for
 * the normal distribution), by @stdlib (inverse regularized incomplete beta): within a few ulps
 * for p >= 0.6 or p <= 0.4.
 *
 * @stdlib's t quantile is NaN for df = Infinity and underflows to 0 once t^2 / df < ~1e-16, which
 * for such p happens only past df ~ 1e15; from NORMAL_DF on the normal quantile stands in. The
 * same underflow hits p within ~4e-9 * sqrt(df) of 0.5 at any df: that throws instead of returning
 * 0. (A little further from 0.5 the result can still be off: 4e-4 relative at p = 0.5 + 1e-7, df = 4.)
 */
export function studentTQuantile(p: number, df: number): number {
  if (!(p > 0 && p < 1)) throw new Error(`t quantile: p must be in (0, 1), got ${p}`);
  if (!(df > 0)) throw new Error(`t quantile: degrees of freedom must be > 0, got ${df}`);
  if (p === 0.5) return 0;
  const value = df >= NORMAL_DF ? normalQuantile(p, 0, 1) : tQuantile(p, df);
  if (value === 0) throw new Error(`t quantile: p = ${p} is too close to 0.5 for ${df} degrees of freedom (underflow)`);
  return value;
}

/**
 * From here on the normal quantile z stands in for the t quantile: they differ by (z^3 + z) / (4 df)
 * to first order, relatively at most 2e-13 for any double p (1.2e-14 at p = 0.975).
 */
const NORMAL_DF = 1e14;
