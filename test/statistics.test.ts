import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import tCdf from '@stdlib/stats-base-dists-t-cdf';
import { estimate, mean, pairedDifference, sampleSd, studentTQuantile } from '../src/sweep/statistics.js';

const close = (actual: number, expected: number, tolerance = 1e-12, what = '') =>
  assert.ok(Math.abs(actual - expected) <= tolerance, `${what} ${actual} is not within ${tolerance} of ${expected}`);
const relativelyClose = (actual: number, expected: number, tolerance: number, what = '') =>
  close(actual, expected, tolerance * Math.abs(expected), what);

describe('mean and sample sd', () => {
  it('on known numbers', () => {
    assert.equal(mean([2, 4, 4, 4, 5, 5, 7, 9]), 5);
    close(sampleSd([2, 4, 4, 4, 5, 5, 7, 9]), Math.sqrt(32 / 7));
    close(sampleSd([0.8, 0.82, 0.84]), 0.02);
    assert.equal(sampleSd([0.83]), 0, 'a single value has sd 0');
    assert.throws(() => mean([]), /no values/);
    assert.throws(() => sampleSd([]), /no values/);
  });

  it('estimate: n, mean and sd; null for no values', () => {
    assert.deepEqual(estimate([0.83]), { n: 1, mean: 0.83, sd: 0 });
    const three = estimate([0.8, 0.82, 0.84])!;
    assert.equal(three.n, 3);
    close(three.mean, 0.82);
    close(three.sd, 0.02);
    assert.equal(estimate([]), null);
  });
});

describe("Student's t quantile", () => {
  it('matches the printed table (4 decimals) and the normal quantile at df = Infinity', () => {
    const table: Array<[number, number]> = [
      [1, 12.7062],
      [2, 4.3027],
      [4, 2.7764],
      [9, 2.2622],
      [29, 2.0452],
      [30, 2.0423],
      [120, 1.9799],
    ];
    for (const [df, value] of table) close(studentTQuantile(0.975, df), value, 5e-5, `t(0.975, ${df})`);
    close(studentTQuantile(0.975, Infinity), 1.95996, 5e-6, 't(0.975, Infinity)');
  });

  it('matches R / SciPy to ~1e-13 relative (qt(p, df), scipy.stats.t.ppf)', () => {
    const reference: Array<[number, number, number]> = [
      [0.975, 1, 12.706204736174694],
      [0.975, 2, 4.302652729749462],
      [0.975, 4, 2.7764451051977934],
      [0.975, 9, 2.262157162798205],
      [0.975, 30, 2.0422724563012378],
      [0.995, 10, 3.16927267261695],
      [0.95, 5, 2.0150483733330233],
      [0.9, 3.5, 1.5765766051364052],
      [0.975, 1000, 1.9623390808264083],
      [0.975, 1e6, 1.959966356814107],
      [0.975, 1e14, 1.9599639845400776],
      [0.999999, 1e14, 4.753424308817368],
      [0.975, 1e20, 1.9599639845400538],
      [0.975, Infinity, 1.959963984540054],
      [0.025, 9, -2.2621571627982053],
    ];
    for (const [p, df, value] of reference) relativelyClose(studentTQuantile(p, df), value, 1e-13, `t(${p}, ${df})`);
  });

  it('is odd in p - 0.5 and 0 at the median', () => {
    for (const df of [1, 3, 7.5, 40]) {
      for (const p of [0.6, 0.9, 0.975, 0.999]) assert.equal(studentTQuantile(1 - p, df), -studentTQuantile(p, df), `df ${df}, p ${p}`);
    }
    assert.equal(studentTQuantile(0.5, 3), 0);
  });

  it('decreases in df towards the normal quantile (no jump where the normal takes over)', () => {
    const dfs = [1, 2, 5, 10, 100, 1e4, 1e8, 1e12, 1e14 - 1, 1e14, 1e16, Infinity];
    const values = dfs.map((df) => studentTQuantile(0.975, df));
    for (let i = 1; i < values.length; i++) assert.ok(values[i] <= values[i - 1], `t(0.975, ${dfs[i]}) > t(0.975, ${dfs[i - 1]})`);
    relativelyClose(values[dfs.indexOf(1e14 - 1)], values[dfs.indexOf(1e14)], 1e-13, 'either side of the switch');
  });

  it('inverts the CDF, including fractional df', () => {
    for (const df of [0.5, 1, 2, 3.5, 4, 10, 29, 1000, 1e6]) {
      for (const p of [0.6, 0.9, 0.95, 0.975, 0.995, 0.9999]) {
        close(tCdf(studentTQuantile(p, df), df), p, 1e-14, `F(t(${p}, ${df}))`);
        close(tCdf(studentTQuantile(1 - p, df), df), 1 - p, 1e-14, `F(t(${1 - p}, ${df}))`);
      }
    }
  });

  it('rejects p outside (0, 1), df <= 0, and p too close to 0.5 to resolve', () => {
    for (const p of [0, 1, -0.1, 1.5, NaN]) assert.throws(() => studentTQuantile(p, 3), /p must be in \(0, 1\)/);
    for (const df of [0, -1, NaN]) assert.throws(() => studentTQuantile(0.975, df), /degrees of freedom must be > 0/);
    assert.throws(() => studentTQuantile(0.5 + 1e-9, 5), /too close to 0.5/);
  });
});

describe("Student's t CDF (@stdlib, the inverse checked above)", () => {
  it('closed forms and table values', () => {
    close(tCdf(1, 1), 0.75, 1e-15, 'Cauchy: 1/2 + atan(1)/pi');
    close(tCdf(2, 2), 0.5 + 2 / (2 * Math.sqrt(6)), 1e-15, 'df 2: 1/2 + t / (2 sqrt(2 + t^2))');
    close(tCdf(-1.5, 3), 0.11529193262241147, 1e-15);
    close(tCdf(3, 10), 0.9933281724887152, 1e-15);
    close(tCdf(2.7764, 4), 0.975, 5e-6, 'table value t(0.975, 4)');
    close(tCdf(12.7062, 1), 0.975, 5e-6, 'table value t(0.975, 1)');
    for (const df of [1, 4, 30]) assert.equal(tCdf(0, df), 0.5);
  });
});

describe('pairedDifference', () => {
  it('mean, sd and 95% CI, by hand', () => {
    // Differences 0.03, 0.04, 0.02: mean 0.03, sd 0.01, half-width t(0.975, 2) * 0.01 / sqrt(3) = 0.024841377.
    const difference = pairedDifference([0.83, 0.86, 0.86], [0.8, 0.82, 0.84]);
    close(difference.mean, 0.03, 1e-12);
    close(difference.sd, 0.01, 1e-12);
    assert.equal(difference.n, 3);
    const halfWidth = (4.302652729749462 * 0.01) / Math.sqrt(3);
    close(difference.ci95![0], 0.03 - halfWidth, 1e-12);
    close(difference.ci95![1], 0.03 + halfWidth, 1e-12);
    close(difference.ci95![0], 0.0051586, 1e-7);
    close(difference.ci95![1], 0.0548414, 1e-7);
    assert.equal(difference.note, undefined);
  });

  it('two pairs use t(0.975, 1) = 12.706', () => {
    // Differences 0.01 and 0.03: mean 0.02, sd sqrt(2) * 0.01, half-width 12.706204736 * 0.01.
    const difference = pairedDifference([0.81, 0.83], [0.8, 0.8]);
    close(difference.ci95![0], 0.02 - 0.127062047361747, 1e-12);
    close(difference.ci95![1], 0.02 + 0.127062047361747, 1e-12);
  });

  it('n = 1: no CI, with a note; mismatched or empty pairs throw', () => {
    const single = pairedDifference([0.85], [0.8]);
    assert.equal(single.n, 1);
    close(single.mean, 0.05, 1e-12);
    assert.equal(single.sd, 0);
    assert.equal(single.ci95, null);
    assert.match(single.note!, /n = 1: no confidence interval/);
    assert.throws(() => pairedDifference([1, 2], [1]), /must line up/);
    assert.throws(() => pairedDifference([], []), /no pairs/);
  });
});
