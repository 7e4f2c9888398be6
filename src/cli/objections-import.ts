import fs from 'node:fs';
import crypto from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { parse } from 'csv-parse';
import type { RequestContext } from '../context';
import { DomainError, ErrorCode, UserErrorDetail } from '../common/errors';
import { runAudited } from '../modules/audit/audited-mutation';
import type { ObjectionImportRow } from '../modules/consent/consent.types';
import { createProgress } from './progress';

export const CSV_HEADER = ['external_user_id', 'scope', 'effective_at', 'channel', 'reason'];
const CHUNK = 5000;
const MAX_REPORTED = 100;

const COLUMN_OF: Record<string, string> = { externalUserId: 'external_user_id', scope: 'scope', effectiveAt: 'effective_at', channel: 'channel', reason: 'reason' };

export interface ImportSummary {
  rows: number;
  imported: number;
  /** Rows the ledger holds already from an earlier import (not written again). */
  alreadyInForce: number;
  errors: UserErrorDetail[];
}

const sha256 = (text: string) => crypto.createHash('sha256').update(text).digest('hex');

/**
 * The ledger's idempotency key of an imported row, so that importing it again writes nothing. A row with an
 * effective-at is the same objection in any file; a row without one means "now", so it is the same objection only
 * in the same file (a later file with the same undated row is a new objection).
 */
function rowKey(fileDigest: string, record: string[], effectiveAt: Date | undefined): string {
  const dated = effectiveAt && !Number.isNaN(effectiveAt.getTime());
  const [externalUserId, scope, , channel, reason] = record;
  const content = [externalUserId, scope, dated ? effectiveAt.toISOString() : '', channel, reason];
  return `csv-import:${sha256(JSON.stringify(dated ? content : [fileDigest, ...content]))}`;
}

/**
 * Streams a CSV of objections into the consent service in chunks, inside one transaction (all or nothing), never
 * holding the whole file in memory. Errors name the file line and column. Rows imported before (same idempotency key,
 * see rowKey) are not written again and are counted as already in force.
 */
export async function importObjectionsCsv(ctx: RequestContext, file: string, options: { reason?: string; progress?: boolean } = {}): Promise<ImportSummary> {
  const size = fs.statSync(file).size;
  const digest = crypto.createHash('sha256');
  await pipeline(fs.createReadStream(file), digest);
  const fileDigest = digest.digest('hex');
  const input = fs.createReadStream(file);
  const parser = input.pipe(parse({ columns: false, skip_empty_lines: true, trim: true, relax_column_count: true, bom: true, info: true }));
  const progress = options.progress === false ? undefined : createProgress('objections import', size, 'bytes');
  let rows = 0;
  let imported = 0;
  const errors: UserErrorDetail[] = [];
  try {
    await runAudited(ctx, 'objectionsImport', { file: file.split('/').pop(), reason: options.reason }, async (tx) => {
      let chunk: ObjectionImportRow[] = [];
      let lines: number[] = [];
      let keys: string[] = [];
      const flush = async () => {
        if (chunk.length === 0) return;
        const at = lines;
        const opts = { reason: options.reason, rowLabel: (j: number) => `line ${at[j]}`, idempotencyKeys: keys };
        try {
          if (errors.length === 0) imported += await tx.services.consent.importChunk(tx, chunk, opts);
          else await tx.services.consent.validateChunk(tx, chunk, opts);
        } catch (err) {
          if (!(err instanceof DomainError)) throw err;
          errors.push(...err.details.map((d) => ({ ...d, field: d.field?.replace(/\.(\w+)$/, (_m, f) => `, column ${COLUMN_OF[f] ?? f}`) })));
        }
        chunk = [];
        lines = [];
        keys = [];
      };
      for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
        const line = info.lines;
        if (line <= 1) {
          if (record.join(',').toLowerCase() !== CSV_HEADER.join(',')) {
            throw new DomainError(ErrorCode.BAD_USER_INPUT, `line 1: the header must be ${CSV_HEADER.join(',')}`, 'line 1');
          }
          continue;
        }
        rows++;
        if (record.length !== CSV_HEADER.length) {
          errors.push({ code: ErrorCode.BAD_USER_INPUT, message: `line ${line}: expected ${CSV_HEADER.length} columns, found ${record.length}`, field: `line ${line}` });
          continue;
        }
        const [externalUserId, scope, effectiveAt, channel, reason] = record;
        const effective = effectiveAt ? new Date(effectiveAt) : undefined;
        lines.push(line);
        keys.push(rowKey(fileDigest, record, effective));
        chunk.push({
          externalUserId,
          scope: scope as ObjectionImportRow['scope'],
          effectiveAt: effective,
          channel: (channel || undefined) as ObjectionImportRow['channel'],
          reason: reason || undefined,
        });
        if (chunk.length >= CHUNK) {
          await flush();
          progress?.update(input.bytesRead);
        }
        if (errors.length >= MAX_REPORTED) break;
      }
      await flush();
      progress?.update(size);
      if (rows === 0) throw new DomainError(ErrorCode.BAD_USER_INPUT, 'the file holds no rows', 'file');
      if (errors.length) throw DomainError.invalid(errors);
      return { payload: undefined, targetIds: [] };
    });
  } catch (err) {
    if (err instanceof DomainError) return { rows, imported: 0, alreadyInForce: 0, errors: err.details };
    throw err;
  } finally {
    progress?.stop();
    input.destroy();
  }
  return { rows, imported, alreadyInForce: rows - imported, errors: [] };
}
