import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { DataSource } from 'typeorm';
import type { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';
import type { Request, Response } from 'express';
import { StringDecoder } from 'node:string_decoder';
import { to as copyTo } from 'pg-copy-streams';
import type { RequestContext } from '../../context';
import { hasRole, Role } from '../../common/auth';
import { DomainError, ErrorCode, HTTP_STATUS } from '../../common/errors';
import type { Metrics } from '../../common/metrics';

const EXPORT_RETRY_AFTER_SECONDS = 5;

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
  const copy = copyTo(`COPY (${exportSql(withText).replace('$1', `'${datasetId}'`)}) TO STDOUT`) as ReturnType<typeof copyTo> & { callback?: (err?: Error) => void };
  // Tracing (src/common/tracing.ts): the pg instrumentation ends a statement's span through the query's callback, which
  // a COPY stream has not; this one is called once, when the stream ends or fails (a no-op when tracing is off).
  copy.callback = () => undefined;
  const rows: Readable = client.query(copy);
  let settled = false;
  const settle = (err?: Error) => {
    if (!settled) copy.callback?.(err);
    settled = true;
  };
  rows.once('end', () => settle());
  rows.once('error', settle);
  rows.once('close', () => settle());
  // The COPY stream reports the end of its connection even after the export is over (a discarded connection ends while
  // the COPY is still running): that must never be an unhandled 'error' event.
  rows.on('error', () => undefined);
  const lines = unescapeCopyText();
  // Destroying the lines (the client went away) destroys the COPY stream; a COPY error destroys the lines with it.
  pipeline(rows, lines).catch(() => undefined);
  return lines;
}

/**
 * How many exports may hold a database connection at once. An export beyond the budget is refused with 503 BUSY
 * (and Retry-After) rather than queued: queued exports would take the connections every other request needs.
 */
export class ExportBudget {
  private active = 0;
  constructor(readonly limit: number) {}
  /** A slot, or undefined when the budget is spent; the returned function gives the slot back (once). */
  take(): (() => void) | undefined {
    if (this.active >= this.limit) return undefined;
    this.active++;
    let given = false;
    return () => {
      if (!given) this.active--;
      given = true;
    };
  }
}

export class SlowClientError extends Error {}

/**
 * Passes the lines on and ends the export when the client is the bottleneck and takes less than `minBytesPerSecond`
 * over a whole window of `windowMs` (a client that stopped reading, or reads a trickle): its connection goes back.
 */
function slowClientGuard(res: Response, windowMs: number, minBytesPerSecond: number): Transform {
  let passed = 0;
  let atWindowStart = 0;
  const guard = new Transform({
    transform(chunk: Buffer | string, _enc, done) {
      passed += chunk.length;
      done(null, chunk);
    },
  });
  const timer = setInterval(() => {
    const moved = passed - atWindowStart;
    atWindowStart = passed;
    if (res.writableNeedDrain && moved < (minBytesPerSecond * windowMs) / 1000) {
      guard.destroy(new SlowClientError(`the client took ${moved} bytes in ${windowMs} ms`));
    }
  }, windowMs);
  timer.unref();
  guard.on('close', () => clearInterval(timer));
  return guard;
}

/**
 * A pooled connection for the export and the function that gives it back: a replica's when there are replicas and the
 * export carries no text; the primary's for text, so that an erasure holds for what is handed out once it commits.
 */
async function exportConnection(dataSource: DataSource, withText: boolean): Promise<[any, (err?: Error) => void]> {
  const driver = dataSource.driver as PostgresDriver;
  const [client, release] = driver.isReplicated && !withText ? await driver.obtainSlaveConnection() : await driver.obtainMasterConnection();
  return [client, release as (err?: Error) => void];
}

/**
 * GET /datasets/{id}/export.ndjson: streams the members from PostgreSQL through a cursor, with back-pressure, so memory
 * stays constant whatever the size. Tainted or superseded versions are refused: the service never hands out data a
 * person has objected to. Auditors get the same lines without text.
 */
export async function exportDataset(ctx: RequestContext, req: Request, res: Response, budget: ExportBudget, metrics?: Pick<Metrics, 'datasetExportTimer'>): Promise<void> {
  if (!hasRole(ctx.viewer, Role.ML_ENGINEER, Role.AUDITOR)) {
    res.status(403).json({ error: { code: ErrorCode.FORBIDDEN, message: 'export requires ML_ENGINEER or AUDITOR' } });
    return;
  }
  let datasetId: string;
  try {
    datasetId = (await ctx.services.datasets.exportable(ctx, String(req.params.id))).id;
  } catch (err) {
    if (err instanceof DomainError) {
      res.status(HTTP_STATUS[err.code]).json({ error: { code: err.code, message: err.message } });
      return;
    }
    throw err;
  }
  const withText = hasRole(ctx.viewer, Role.ML_ENGINEER);
  const giveBack = budget.take();
  if (!giveBack) {
    res.status(503).setHeader('retry-after', String(EXPORT_RETRY_AFTER_SECONDS));
    res.json({ error: { code: ErrorCode.BUSY, message: `${budget.limit} exports are running; retry later` } });
    return;
  }
  let failure: Error | undefined;
  let release: ((err?: Error) => void) | undefined;
  const observe = metrics?.datasetExportTimer();
  try {
    const [client, giveConnectionBack] = await exportConnection(ctx.dataSource, withText);
    release = giveConnectionBack;
    const { exportIdleTimeoutMs, exportMinBytesPerSecond, exportStatementTimeoutMs } = ctx.config;
    await client.query(`SET statement_timeout = ${Math.round(exportStatementTimeoutMs)}`);
    res.status(200).type('application/x-ndjson');
    res.setHeader('content-disposition', `attachment; filename="${datasetId}.ndjson"`);
    await pipeline(exportStream(client, datasetId, withText), slowClientGuard(res, exportIdleTimeoutMs, exportMinBytesPerSecond), res);
    // Back to the pool's ordinary timeout.
    await client.query('RESET statement_timeout');
  } catch (err) {
    failure = err as Error;
    // Aborted by the client, cut for reading too slowly, or a database error: the response ends there.
    if (res.headersSent) res.destroy();
    else throw err;
  } finally {
    // A connection whose COPY did not run to its end cannot serve anyone else: discard it (the pool opens a new one).
    release?.(failure);
    giveBack();
    observe?.({ format: 'ndjson', outcome: failure ? 'failed' : 'ok' });
  }
}
