/**
 * JSON that keeps NaN and ±Infinity: a diverged run has such metrics, and plain JSON turns them
 * into null (which then reads as 0). They are written as {"$nonFinite": "NaN"}.
 */
const NON_FINITE = '$nonFinite';

export function stringifyKeepingNonFinite(value: unknown, space?: number): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? { [NON_FINITE]: String(v) } : v), space);
}

export function parseKeepingNonFinite(text: string): unknown {
  return JSON.parse(text, (_key, v: unknown) =>
    v && typeof v === 'object' && NON_FINITE in v ? Number((v as Record<string, string>)[NON_FINITE]) : v,
  );
}
