import crypto from 'node:crypto';

/** JSON with object keys sorted at every level: the same value always gives the same bytes (RFC 8785 in spirit). */
export function canonicalJson(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (value instanceof Date) return JSON.stringify(value.toISOString());
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v === undefined ? null : v)).join(',')}]`;
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  if (typeof value === 'number' && !Number.isFinite(value)) return 'null';
  if (typeof value === 'bigint') return JSON.stringify(value.toString());
  return JSON.stringify(value);
}

/** A value without its null or undefined object members, at every level (array entries are kept: their position counts). */
function withoutNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutNulls);
  if (value !== null && typeof value === 'object' && !(value instanceof Date)) {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>)
        .filter(([, v]) => v != null)
        .map(([k, v]) => [k, withoutNulls(v)]),
    );
  }
  return value;
}

/**
 * The digest that an idempotency key is bound to: SHA-256 of the request's canonical JSON, where an optional field sent
 * as null counts as omitted (GraphQL gives both the same meaning), so a replay that spells it the other way still
 * matches. Any other difference is a different request.
 */
export function requestDigest(request: unknown): string {
  return crypto
    .createHash('sha256')
    .update(canonicalJson(withoutNulls(request)))
    .digest('hex');
}
