import { Problems } from './errors';

export const MAX_BATCH = 10000;
export const MAX_TEXT = 65536;
/** Longest free text a person types: reasons, purposes, descriptions, notes (README "Limits"). */
export const MAX_FREE_TEXT = 2000;

const EMAIL = /^[^\s@]{1,64}@[^\s@]{1,255}$/;

/** A language as content carries it: an ISO 639-1 or 639-2/3 code in lower case (`de`, `fil`). */
export const LANGUAGE = /^[a-z]{2,3}$/;
/** Most languages one filter may name. */
export const MAX_FILTER_LANGUAGES = 200;

/** YYYY-MM-DD that names a real calendar day. */
export function isCalendarDate(value: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  if (!m) return false;
  const d = new Date(Date.UTC(+m[1], +m[2] - 1, +m[3]));
  return d.getUTCFullYear() === +m[1] && d.getUTCMonth() === +m[2] - 1 && d.getUTCDate() === +m[3];
}

export function isValidInstant(value: unknown): value is Date {
  return value instanceof Date && !Number.isNaN(value.getTime());
}

/** Checks a batch's size; reports on `field`. */
export function checkBatch(problems: Problems, field: string, rows: unknown[], max = MAX_BATCH): void {
  if (rows.length === 0) problems.add(field, `${field} must not be empty`);
  if (rows.length > max) problems.add(field, `${field} holds ${rows.length} rows; at most ${max} per call`);
}

export function checkString(
  problems: Problems,
  field: string,
  value: string | null | undefined,
  opts: { required?: boolean; max: number; pattern?: RegExp; what?: string },
): void {
  if (value == null || value === '') {
    if (opts.required) problems.add(field, `${field.split('.').pop()} is required`);
    return;
  }
  if (value.length > opts.max) problems.add(field, `${field.split('.').pop()} is longer than ${opts.max} characters`);
  else if (opts.pattern && !opts.pattern.test(value)) problems.add(field, `${field.split('.').pop()} is not ${opts.what ?? 'valid'}`);
}

export function checkEmail(problems: Problems, field: string, value: string | null | undefined): void {
  checkString(problems, field, value, { max: 320, pattern: EMAIL, what: 'an email address' });
}

/** An instant that must not be in the future (small clock skew tolerated). */
export function checkNotFuture(problems: Problems, field: string, value: Date | null | undefined, now: Date): void {
  if (value == null) return;
  if (!isValidInstant(value)) problems.add(field, `${field.split('.').pop()} is not a valid instant`);
  else if (value.getTime() > now.getTime() + 1000) problems.add(field, `${field.split('.').pop()} is in the future`);
}

/** Finds duplicate keys in a batch and reports every repeat. */
export function checkUnique<T>(
  problems: Problems,
  listField: string,
  rows: T[],
  key: (row: T) => string | undefined,
  keyField: string,
): void {
  const seen = new Map<string, number>();
  rows.forEach((row, i) => {
    const k = key(row);
    if (k == null) return;
    const first = seen.get(k);
    if (first !== undefined) problems.add(`${listField}[${i}].${keyField}`, `${keyField} "${k}" repeats row ${first}`);
    else seen.set(k, i);
  });
}

/** Checks a language filter: every entry an ISO 639 code in lower case (as ingest requires), at most MAX_FILTER_LANGUAGES. */
export function checkLanguages(problems: Problems, field: string, languages: readonly string[] | null | undefined): void {
  if (!languages) return;
  if (languages.length > MAX_FILTER_LANGUAGES)
    problems.add(field, `${field.split('.').pop()} names ${languages.length} languages; at most ${MAX_FILTER_LANGUAGES}`);
  languages.forEach((l, i) => {
    if (!LANGUAGE.test(l))
      problems.add(`${field}[${i}]`, `"${l.slice(0, 20)}" is not a language: an ISO 639 code in lower case (e.g. de) is expected`);
  });
}
