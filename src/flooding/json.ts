/**
 * JSON that keeps NaN and ±Infinity: a diverged run has such metrics, and plain JSON turns them
 * into null (which then reads as 0). They are written as {"$nonFinite": "NaN"}.
 */
const NON_FINITE = '$nonFinite';

export function stringifyKeepingNonFinite(value: unknown, space?: number): string {
  return JSON.stringify(
    value,
    (_key, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? { [NON_FINITE]: String(v) } : v),
    space,
  );
}

/** The JSON.parse reviver that reads back what stringifyKeepingNonFinite wrote. */
export const keepNonFinite = (_key: string, v: unknown): unknown =>
  v && typeof v === 'object' && NON_FINITE in v ? Number((v as Record<string, string>)[NON_FINITE]) : v;

export function parseKeepingNonFinite(text: string): unknown {
  return JSON.parse(text, keepNonFinite);
}

/** JSON with keys sorted at every level: equal configs give equal text. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
