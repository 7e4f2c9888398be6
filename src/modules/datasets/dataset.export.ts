import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Request, Response } from 'express';
import type { RequestContext } from '../../context';
import { hasRole, Role } from '../../common/auth';
import { DomainError, ErrorCode } from '../../common/errors';

const STATUS: Partial<Record<ErrorCode, number>> = {
  [ErrorCode.NOT_FOUND]: 404,
  [ErrorCode.DATASET_TAINTED]: 409,
  [ErrorCode.DATASET_SUPERSEDED]: 409,
  [ErrorCode.BAD_USER_INPUT]: 400,
};

/** The export's columns, in order: one JSON object per line. */
export const EXPORT_SQL = `SELECT m.item_id AS id, m.content_hash AS "contentHash", c.text, c.language, c.platform, c.kind,
  to_char(c.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "createdAt"
  FROM dataset_members m JOIN content_items c ON c.id = m.item_id WHERE m.dataset_id = $1 ORDER BY m.item_id`;

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
    const rows = await runner.stream(EXPORT_SQL, [datasetId]);
    res.status(200).type('application/x-ndjson');
    res.setHeader('content-disposition', `attachment; filename="${datasetId}.ndjson"`);
    const toLines = new Transform({
      writableObjectMode: true,
      transform(row, _enc, done) {
        if (!withText) row.text = null;
        done(null, `${JSON.stringify(row)}\n`);
      },
    });
    await pipeline(rows, toLines, res);
  } finally {
    await runner.release();
  }
}
