import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { StringDecoder } from 'node:string_decoder';
import { to as copyTo } from 'pg-copy-streams';

/** The export's statements: the members' NDJSON lines streamed by COPY, and the session timeout of its connection. */

export type Client = { query: (q: any, params?: unknown[]) => any };

/**
 * One export line per member, rendered by PostgreSQL (Node only forwards text): `id`, `contentHash`, `text`,
 * `language`, `platform`, `kind`, `createdAt`, in that order, sorted by id.
 */
export const exportSql = (
  withText: boolean,
) => `SELECT json_build_object('id', m.item_id, 'contentHash', m.content_hash, 'text', ${withText ? 'c.text' : 'NULL'},
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
export function exportStream(client: Client, datasetId: string, withText: boolean): Readable {
  if (!/^[0-9a-f-]{36}$/.test(datasetId)) throw new Error('dataset id must be a uuid');
  const rows = copyOut(client, exportSql(withText).replace('$1', `'${datasetId}'`));
  // The COPY stream reports the end of its connection even after the export is over (a discarded connection ends while
  // the COPY is still running): that must never be an unhandled 'error' event.
  rows.on('error', () => undefined);
  const lines = unescapeCopyText();
  // Destroying the lines (the client went away) destroys the COPY stream; a COPY error destroys the lines with it.
  pipeline(rows, lines).catch(() => undefined);
  return lines;
}

/** The raw bytes of `COPY (query) TO STDOUT` on the given connection, streamed with back-pressure. */
export function copyOut(client: Client, query: string): Readable {
  const copy = copyTo(`COPY (${query}) TO STDOUT`) as ReturnType<typeof copyTo> & { callback?: (err?: Error) => void };
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
  return rows;
}

/** Bounds the export's statements on its own connection (a session setting: COPY runs outside a transaction). */
export async function setSessionTimeout(client: Client, ms: number): Promise<void> {
  await client.query(`SET statement_timeout = ${Math.round(ms)}`);
}

/** Back to the pool's ordinary timeout. */
export async function resetSessionTimeout(client: Client): Promise<void> {
  await client.query('RESET statement_timeout');
}
