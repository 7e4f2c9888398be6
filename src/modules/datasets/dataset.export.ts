import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Request, Response } from 'express';
import { StringDecoder } from 'node:string_decoder';
import { to as copyTo } from 'pg-copy-streams';
import type { RequestContext } from '../../context';
import { hasRole, Role } from '../../common/auth';
import { DomainError, ErrorCode } from '../../common/errors';

const STATUS: Partial<Record<ErrorCode, number>> = {
  [ErrorCode.NOT_FOUND]: 404,
  [ErrorCode.DATASET_TAINTED]: 409,
  [ErrorCode.DATASET_SUPERSEDED]: 409,
  [ErrorCode.BAD_USER_INPUT]: 400,
};

/**
 * One export line per member, rendered by PostgreSQL (Node only forwards text): `id`, `contentHash`, `text`,
 * `language`, `platform`, `kind`, `createdAt`, in that order, sorted by id.
 */
export const exportSql = (withText: boolean) => `SELECT json_build_object('id', m.item_id, 'contentHash', m.content_hash, 'text', ${withText ? 'c.text' : 'NULL'},
    'language', c.language, 'platform', c.platform, 'kind', c.kind,
    'createdAt', to_char(c.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))::text AS line
  FROM dataset_members m JOIN content_items c ON c.id = m.item_id AND c.author_id = m.author_id WHERE m.dataset_id = $1 ORDER BY m.item_id`;
export const EXPORT_SQL = exportSql(true);

/**
 * COPY's text format escapes backslashes (and control characters, which JSON never leaves raw). Each line is JSON, so
 * undoing the doubled backslashes gives the JSON back; a pair split across two chunks is carried over.
 */
export function unescapeCopyText(): Transform {
  const decoder = new StringDecoder('utf8');
  let carry = '';
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      let text = carry + decoder.write(chunk);
      carry = '';
      const trailing = text.length - text.replace(/\\+$/, '').length;
      if (trailing % 2 === 1) {
        carry = '\\';
        text = text.slice(0, -1);
      }
      done(null, text.replace(/\\\\/g, '\\'));
    },
    flush(done) {
      done(null, (carry + decoder.end()).replace(/\\\\/g, '\\') || undefined);
    },
  });
}

/**
 * The NDJSON lines of a dataset, streamed from PostgreSQL with COPY on the given connection (back-pressure, no
 * per-row protocol overhead; the SELECT renders each line as JSON). Used by the HTTP export and the CLI.
 */
export function exportStream(client: { query: (q: any) => any }, datasetId: string, withText: boolean): Readable {
  if (!/^[0-9a-f-]{36}$/.test(datasetId)) throw new Error('dataset id must be a uuid');
  const rows: Readable = client.query(copyTo(`COPY (${exportSql(withText).replace('$1', `'${datasetId}'`)}) TO STDOUT`));
  return rows.pipe(unescapeCopyText());
}

/**
 * GET /datasets/{id}/export.ndjson: streams the members from PostgreSQL through a cursor, with back-pressure, so memory
 * stays constant whatever the size. Tainted or superseded versions are refused: the service never hands out data a
 * person has objected to. Auditors get the same lines without text.
 */
export async function exportDataset(ctx: RequestContext, req: Request, res: Response): Promise<void> {
  if (!hasRole(ctx.viewer, Role.ML_ENGINEER, Role.AUDITOR)) {
    res.status(403).json({ error: { code: ErrorCode.FORBIDDEN, message: 'export requires ML_ENGINEER or AUDITOR' } });
    return;
  }
  let datasetId: string;
  try {
    datasetId = (await ctx.services.datasets.exportable(ctx, String(req.params.id))).id;
  } catch (err) {
    if (err instanceof DomainError) {
      res.status(STATUS[err.code] ?? 400).json({ error: { code: err.code, message: err.message } });
      return;
    }
    throw err;
  }
  const withText = hasRole(ctx.viewer, Role.ML_ENGINEER);
  const runner = ctx.dataSource.createQueryRunner('slave');
  try {
    const client = await runner.connect();
    res.status(200).type('application/x-ndjson');
    res.setHeader('content-disposition', `attachment; filename="${datasetId}.ndjson"`);
    await pipeline(exportStream(client, datasetId, withText), res);
  } finally {
    await runner.release();
  }
}
