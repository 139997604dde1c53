/**
 * Sampled axes: an axis of a sweep spec given as a distribution instead of a list of values,
 * drawn at expansion from the seeded RNG, so that the same spec expands to the same tasks
 * everywhere (the local Plan and the cloud's run this same code).
 */
import { z } from 'zod';
import { Rng } from '../flooding/rng.js';

const SAMPLE_KINDS = ['uniform', 'loguniform', 'choice'] as const;

/** Drawn numbers are rounded to this many significant digits, so that ids and labels stay readable. */
export const SAMPLE_DIGITS = 4;

/** The stream of the RNG the draws come from; its seed is the spec's `search.seed`. */
const SEARCH_STREAM = 'search';

/**
 * A draw that repeats an earlier point (after rounding) is drawn again; this many draws per point
 * at most, far above what a space with `count` distinct points needs (a choice space of n points
 * takes about ln n draws per point).
 */
const DRAWS_PER_POINT = 100;

export type RangeAxis = { sample: 'uniform' | 'loguniform'; low: number; high: number; count: number };
export type ChoiceAxis<T = unknown> = { sample: 'choice'; values: T[]; count: number };
export type SampledAxis<T = unknown> = RangeAxis | ChoiceAxis<T>;

/** What tells a distribution from a list or a range: an object with a `sample` field. */
export function isSampledAxis(value: unknown): value is SampledAxis {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.hasOwn(value, 'sample');
}

/** A sampled axis of numbers (uniform, loguniform, or a choice of numbers only): charts place it on a numeric scale. */
export function isNumericAxis(axis: SampledAxis): boolean {
  return axis.sample !== 'choice' || axis.values.every((value) => typeof value === 'number');
}

const KIND_RULE = `must be one of ${SAMPLE_KINDS.join(', ')}`;

/**
 * The schema of a distribution whose values (`low` of a range, each of `values`) follow `value`:
 * the field's own rule for flood levels, any number for a grid field.
 */
export function sampledAxisSchema<T>(value: z.ZodType<number>, choiceValue: z.ZodType<T>): z.ZodType<SampledAxis<T>> {
  const count = z.int({ error: 'must be a whole number of points to draw (>= 1)' }).min(1, 'must be >= 1: the number of points to draw');
  const range = z
    .strictObject({ sample: z.enum(['uniform', 'loguniform']), low: value, high: z.number(), count })
    .superRefine((axis, ctx) => {
      if (!(axis.low < axis.high)) ctx.addIssue({ code: 'custom', path: ['low'], message: 'must be < high' });
      if (axis.sample === 'loguniform' && axis.low <= 0) {
        ctx.addIssue({ code: 'custom', path: ['low'], message: 'must be > 0 for loguniform (it draws in log space)' });
      }
    });
  const choice = z.strictObject({
    sample: z.literal('choice'),
    values: z.array(choiceValue).min(1, 'must not be empty; list at least one value to choose from'),
    count,
  });
  return z.unknown().transform((input, ctx): SampledAxis<T> => {
    const kind = (input as { sample: unknown }).sample;
    if (!(SAMPLE_KINDS as readonly unknown[]).includes(kind)) {
      ctx.issues.push({ code: 'custom', path: ['sample'], input, message: KIND_RULE });
      return z.NEVER;
    }
    const result = kind === 'choice' ? choice.safeParse(input) : range.safeParse(input);
    if (result.success) return result.data;
    ctx.issues.push(...result.error.issues.map((issue) => ({ ...issue, input }) as z.core.$ZodRawIssue));
    return z.NEVER;
  }) as unknown as z.ZodType<SampledAxis<T>>;
}

/** `x` to SAMPLE_DIGITS significant digits, kept within [low, high] (a 5-digit `low` stays reachable). */
function roundSample(x: number, low: number, high: number): number {
  return Math.min(high, Math.max(low, Number(x.toPrecision(SAMPLE_DIGITS))));
}

function drawValue(rng: Rng, axis: SampledAxis): unknown {
  if (axis.sample === 'choice') return structuredClone(axis.values[rng.int(axis.values.length)]);
  const { low, high } = axis;
  const x = axis.sample === 'uniform' ? rng.uniformIn(low, high) : Math.exp(rng.uniformIn(Math.log(low), Math.log(high)));
  return roundSample(x, low, high);
}

/**
 * `count` points drawn jointly from `search.seed`: each point draws every axis, in the order
 * given. A point equal to an earlier one (after rounding) is drawn again, so the points are
 * distinct; fewer than `count` come back only if DRAWS_PER_POINT draws per point did not find
 * them (too narrow a range for SAMPLE_DIGITS digits, or too few choices).
 */
export function drawPoints(axes: readonly SampledAxis[], count: number, seed: number, key: (point: unknown[]) => string): unknown[][] {
  const rng = Rng.stream(seed, SEARCH_STREAM);
  const seen = new Set<string>();
  const points: unknown[][] = [];
  for (let draws = 0; points.length < count && draws < count * DRAWS_PER_POINT; draws++) {
    const point = axes.map((axis) => drawValue(rng, axis));
    const id = key(point);
    if (seen.has(id)) continue;
    seen.add(id);
    points.push(point);
  }
  return points;
}

/** How many distinct points the axes allow: the product of the choices, unbounded with a range. */
export function distinctPoints(axes: readonly SampledAxis[]): number {
  return axes.reduce((product, axis) => (axis.sample === 'choice' ? product * axis.values.length : Infinity), 1);
}
