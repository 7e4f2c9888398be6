import crypto from 'node:crypto';
import { pipeline, type Readable } from 'node:stream';
import { parse } from 'csv-parse';
import split2 from 'split2';
import { DomainError, ErrorCode, type UserErrorDetail } from '../../common/errors';
import type { ObjectionImportRow } from './consent.types';

/**
 * Streamed bulk objections, one definition for every way in: the CLI's `objections import FILE.csv` and the
 * `POST /objections/import` upload (CSV or NDJSON). A source yields numbered records; `ConsentService.importRecords` writes
 * them in chunks (`importChunk` / `validateChunk`: the same rules as `objectionsImport`), inside one audited
 * transaction: every row or none.
 */

export const CSV_HEADER = ['external_user_id', 'scope', 'effective_at', 'channel', 'reason'];
/** The fields of an NDJSON line (the names of `objectionsImport`'s rows). */
const JSON_FIELDS = ['externalUserId', 'scope', 'effectiveAt', 'channel', 'reason'] as const;
/** Rows written per statement batch, and the most problems one import reports. */
export const IMPORT_CHUNK = 5000;
/** Records taken from a source before the event loop turns (ConsentService.importRecords). */
export const RECORDS_PER_TURN = 250;
export const MAX_REPORTED = 100;
/** Longest NDJSON line: a row is a few hundred bytes at most (reason: 2,000 characters). */
export const MAX_LINE_BYTES = 64 * 1024;

const COLUMN_OF: Record<string, string> = {
  externalUserId: 'external_user_id',
  scope: 'scope',
  effectiveAt: 'effective_at',
  channel: 'channel',
  reason: 'reason',
};

/** A row of the source, numbered by its line; or why a line is not a row. */
export type ImportRecord = { line: number; row: ObjectionImportRow; key: string | null } | { line: number; problem: UserErrorDetail };

export interface ImportSummary {
  rows: number;
  imported: number;
  /** Rows the ledger holds already from an earlier import (not written again). */
  alreadyInForce: number;
  errors: UserErrorDetail[];
}

const sha256 = (text: string) => crypto.createHash('sha256').update(text).digest('hex');

interface RawRow {
  externalUserId: string;
  scope: string;
  effectiveAt?: string | null;
  channel?: string | null;
  reason?: string | null;
}

/**
 * The ledger idempotency key of an imported row, so that importing it again writes nothing. A row with an effective-at
 * is the same objection in any file or upload; a row without one means "now", so it is the same objection only in the
 * same file (`fileDigest`); without a file digest (an upload, read once) such a row has no key.
 */
export function objectionRowKey(fileDigest: string | undefined, raw: RawRow, effectiveAt: Date | undefined): string | null {
  const dated = effectiveAt && !Number.isNaN(effectiveAt.getTime());
  if (!dated && !fileDigest) return null;
  const content = [raw.externalUserId, raw.scope, dated ? effectiveAt.toISOString() : '', raw.channel ?? '', raw.reason ?? ''];
  return `csv-import:${sha256(JSON.stringify(dated ? content : [fileDigest, ...content]))}`;
}

function record(line: number, raw: RawRow, fileDigest: string | undefined): ImportRecord {
  const effective = raw.effectiveAt ? new Date(raw.effectiveAt) : undefined;
  return {
    line,
    key: objectionRowKey(fileDigest, raw, effective),
    row: {
      externalUserId: raw.externalUserId,
      scope: raw.scope as ObjectionImportRow['scope'],
      effectiveAt: effective,
      channel: (raw.channel || undefined) as ObjectionImportRow['channel'],
      reason: raw.reason || undefined,
    },
  };
}

/** Ends `source` into `sink` and destroys both on an error of either (the iteration of `sink` then throws it). */
function feed<T extends NodeJS.WritableStream>(source: Readable, sink: T): T {
  pipeline(source, sink as unknown as NodeJS.WritableStream, () => undefined);
  return sink;
}

/**
 * The records of a CSV with the header CSV_HEADER (a BOM, blank lines and spaces around values are tolerated). A wrong
 * header refuses the whole source. `fileDigest` keys undated rows (see objectionRowKey).
 */
export async function* csvRecords(input: Readable, fileDigest?: string): AsyncGenerator<ImportRecord> {
  const parser = feed(
    input,
    parse({ columns: false, skip_empty_lines: true, trim: true, relax_column_count: true, bom: true, info: true }),
  );
  for await (const { record: values, info } of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
    const line = info.lines;
    if (line <= 1) {
      if (values.join(',').toLowerCase() !== CSV_HEADER.join(',')) {
        throw new DomainError(ErrorCode.BAD_USER_INPUT, `line 1: the header must be ${CSV_HEADER.join(',')}`, 'line 1');
      }
      continue;
    }
    if (values.length !== CSV_HEADER.length) {
      yield {
        line,
        problem: {
          code: ErrorCode.BAD_USER_INPUT,
          message: `line ${line}: expected ${CSV_HEADER.length} columns, found ${values.length}`,
          field: `line ${line}`,
        },
      };
      continue;
    }
    const [externalUserId, scope, effectiveAt, channel, reason] = values;
    yield record(line, { externalUserId, scope, effectiveAt, channel, reason }, fileDigest);
  }
}

/**
 * The records of NDJSON: one JSON object a line with the fields of `objectionsImport`'s rows (`externalUserId`,
 * `scope`, optional `effectiveAt`, `channel`, `reason`); blank lines are skipped, and a line longer than
 * MAX_LINE_BYTES refuses the source.
 */
export async function* ndjsonRecords(input: Readable): AsyncGenerator<ImportRecord> {
  const lines = feed(input, split2({ maxLength: MAX_LINE_BYTES }));
  let line = 0;
  try {
    for await (const text of lines as AsyncIterable<string>) {
      line++;
      if (!text.trim()) continue;
      const problem = (message: string, field = `line ${line}`): ImportRecord => ({
        line,
        problem: { code: ErrorCode.BAD_USER_INPUT, message: `line ${line}: ${message}`, field },
      });
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        yield problem('not valid JSON');
        continue;
      }
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        yield problem('expected a JSON object');
        continue;
      }
      const fields = value as Record<string, unknown>;
      const unknown = Object.keys(fields).find((k) => !(JSON_FIELDS as readonly string[]).includes(k));
      if (unknown !== undefined) {
        yield problem(
          `unknown field "${unknown.slice(0, 50)}" (expected ${JSON_FIELDS.join(', ')})`,
          `line ${line}.${unknown.slice(0, 50)}`,
        );
        continue;
      }
      const wrong = JSON_FIELDS.find((k) => fields[k] != null && typeof fields[k] !== 'string');
      if (wrong) {
        yield problem(`${wrong} must be a string`, `line ${line}.${wrong}`);
        continue;
      }
      yield record(
        line,
        {
          ...(fields as Partial<RawRow>),
          externalUserId: (fields.externalUserId as string | undefined) ?? '',
          scope: (fields.scope as string | undefined) ?? '',
        },
        undefined,
      );
    }
  } catch (err) {
    if ((err as Error).message === 'maximum buffer reached') {
      throw new DomainError(ErrorCode.BAD_USER_INPUT, `line ${line + 1}: longer than ${MAX_LINE_BYTES} bytes`, `line ${line + 1}`);
    }
    throw err;
  }
}

export interface ImportRecordsOptions {
  /** Reason for rows that give none. */
  reason?: string;
  /** The audit event's input, given the rows read (called once they all are). */
  auditInput: (rows: number) => Record<string, unknown>;
  /** How an error's field is shown, from the service's `line N.field` (default unchanged). */
  field?: (field: string) => string;
  /** More rows refuse the whole source (default unbounded). */
  maxRows?: number;
  /** Called after each chunk is written. */
  onChunk?: () => void;
}

/** CSV errors name the column: `line 7.scope` becomes `line 7, column scope`. */
export const csvField = (field: string) => field.replace(/\.(\w+)$/, (_m, f) => `, column ${COLUMN_OF[f] ?? f}`);
