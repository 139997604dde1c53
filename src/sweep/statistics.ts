/** Statistics over seeds: mean, sample standard deviation, paired differences with Student-t confidence intervals. */

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
 * the normal distribution): the CDF through the regularized incomplete beta function, inverted by
 * bisection, for df up to 1e5; a Cornish-Fisher series beyond. Accurate to ~1e-9 for every df.
 */
export function studentTQuantile(p: number, df: number): number {
  if (!(p > 0 && p < 1)) throw new Error(`t quantile: p must be in (0, 1), got ${p}`);
  if (!(df > 0)) throw new Error(`t quantile: degrees of freedom must be > 0, got ${df}`);
  if (p < 0.5) return -studentTQuantile(1 - p, df);
  if (p === 0.5) return 0;
  if (df > LARGE_DF) return largeDfQuantile(p, df);
  let low = 0;
  let high = 1;
  while (studentTCdf(high, df) < p) high *= 2;
  for (let i = 0; i < 200 && high - low > 1e-13 * high; i++) {
    const middle = (low + high) / 2;
    if (studentTCdf(middle, df) < p) low = middle;
    else high = middle;
  }
  return (low + high) / 2;
}

/**
 * Above this many degrees of freedom the log-gamma terms of the CDF cancel badly, while the
 * Cornish-Fisher series below is exact to ~1e-15 (its next term is ~1/df^4).
 */
const LARGE_DF = 1e5;

/** Cornish-Fisher expansion of the t quantile around the normal one (Abramowitz & Stegun 26.7.5). */
function largeDfQuantile(p: number, df: number): number {
  const z = normalQuantile(p);
  const [z3, z5, z7] = [z ** 3, z ** 5, z ** 7];
  return (
    z +
    (z3 + z) / (4 * df) +
    (5 * z5 + 16 * z3 + 3 * z) / (96 * df ** 2) +
    (3 * z7 + 19 * z5 + 17 * z3 - 15 * z) / (384 * df ** 3)
  );
}

export function studentTCdf(t: number, df: number): number {
  const tail = 0.5 * regularizedIncompleteBeta(df / (df + t * t), df / 2, 0.5);
  return t > 0 ? 1 - tail : tail;
}

/** I_x(a, b), by the continued fraction of Numerical Recipes (betai/betacf, modified Lentz). */
function regularizedIncompleteBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const front = Math.exp(logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log1p(-x));
  // The continued fraction converges fast only below this point; above it, use I_x(a, b) = 1 - I_{1-x}(b, a).
  return x < (a + 1) / (a + b + 2)
    ? (front * betaContinuedFraction(x, a, b)) / a
    : 1 - (front * betaContinuedFraction(1 - x, b, a)) / b;
}

function betaContinuedFraction(x: number, a: number, b: number): number {
  const tiny = 1e-300;
  const clamp = (v: number) => (Math.abs(v) < tiny ? tiny : v);
  let c = 1;
  let d = 1 / clamp(1 - ((a + b) * x) / (a + 1));
  let result = d;
  for (let m = 1; m <= 100_000; m++) {
    const even = (m * (b - m) * x) / ((a + 2 * m - 1) * (a + 2 * m));
    d = 1 / clamp(1 + even * d);
    c = clamp(1 + even / c);
    result *= d * c;
    const odd = (-(a + m) * (a + b + m) * x) / ((a + 2 * m) * (a + 2 * m + 1));
    d = 1 / clamp(1 + odd * d);
    c = clamp(1 + odd / c);
    const step = d * c;
    result *= step;
    if (Math.abs(step - 1) < 1e-15) return result;
  }
  throw new Error(`incomplete beta did not converge (x=${x}, a=${a}, b=${b})`);
}

/** ln Γ(x) for x > 0, Lanczos approximation (g = 7, 9 terms; relative error ~1e-15). */
function logGamma(x: number): number {
  const coefficients = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const shifted = x - 1;
  let series = coefficients[0];
  for (let i = 1; i < coefficients.length; i++) series += coefficients[i] / (shifted + i);
  const t = shifted + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (shifted + 0.5) * Math.log(t) - t + Math.log(series);
}

/** Standard normal quantile, Acklam's rational approximation (relative error < 1.2e-9). */
function normalQuantile(p: number): number {
  const a = [-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
  const c = [-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const tailStart = 0.02425;
  if (p < tailStart || p > 1 - tailStart) {
    const q = Math.sqrt(-2 * Math.log(p < 0.5 ? p : 1 - p));
    const value = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
    return p < 0.5 ? value : -value;
  }
  const q = p - 0.5;
  const r = q * q;
  return ((((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q) / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}
