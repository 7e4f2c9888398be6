import crypto from 'node:crypto';
import { Transform } from 'node:stream';
import type express from 'express';
import type { ConcurrencyBudget } from '../common/budget';
import { closeIfBig, sendProblem, viewerOf } from '../common/http';
import { ErrorCode, isConnectionLost, Problems, TransportCode, type WireCode } from '../common/errors';
import { checkString, MAX_FREE_TEXT } from '../common/validate';
import { createContext, type AppDeps } from '../context';
import { csvField, csvRecords, MAX_IMPORT_ROWS, ndjsonRecords, type ImportRecord } from '../modules/consent';

/**
 * POST /objections/import: bulk objections as a streamed upload, `text/csv` (the CLI's columns) or
 * `application/x-ndjson` (one `objectionsImport` row a line). The token and role are checked before the body is read
 * (src/common/http.ts authorizeFirst); the body is parsed as it arrives, bounded by IMPORT_BODY_LIMIT_MB and
 * MAX_IMPORT_ROWS, and written through the same code as the CLI (consent.import.ts): one transaction with its audit
 * event, every row or none. The transport's part (media types, limits, idle client, answers) is here; the import's
 * rules are the consent module's (ConsentService.importRecords).
 */

export const UPLOAD_TYPES = ['text/csv', 'application/x-ndjson'];

class UploadTooLarge extends Error {}
class UploadIdle extends Error {}
class ClientGone extends Error {}

/** Counts and hashes the bytes passing through; more than `limit` fails with UploadTooLarge. */
function limiter(limit: number) {
  const hash = crypto.createHash('sha256');
  let bytes = 0;
  const stream = new Transform({
    transform(chunk: Buffer, _enc, done) {
      bytes += chunk.length;
      if (bytes > limit) return done(new UploadTooLarge());
      hash.update(chunk);
      done(null, chunk);
    },
  });
  return { stream, bytes: () => bytes, digest: () => hash.digest('hex') };
}

/**
 * The records, noting while the import waits for the client (not while it writes): `idle()` tells how long the
 * current wait has lasted.
 */
function watched(source: AsyncIterable<ImportRecord>) {
  let waitingSince = 0;
  async function* records(): AsyncGenerator<ImportRecord> {
    const it = source[Symbol.asyncIterator]();
    try {
      for (;;) {
        waitingSince = Date.now();
        const next = await it.next();
        waitingSince = 0;
        if (next.done) return;
        yield next.value;
      }
    } finally {
      waitingSince = 0;
      await it.return?.();
    }
  }
  return { records: records(), idle: () => (waitingSince ? Date.now() - waitingSince : 0) };
}

/** The route's handler, after authorizeFirst. */
export function objectionsUpload(deps: Omit<AppDeps, 'log'>, budget: ConcurrencyBudget): express.RequestHandler {
  const { config } = deps;
  return async (req, res, next) => {
    const refuse = (code: WireCode, message: string, extra: Record<string, unknown> = {}) => {
      closeIfBig(req, res);
      sendProblem(res, code, message, extra);
    };
    const type = req.is(UPLOAD_TYPES);
    const charset = /;\s*charset="?([\w-]+)/i.exec(req.headers['content-type'] ?? '')?.[1];
    const encoding = req.headers['content-encoding'];
    if (type === null) return refuse(TransportCode.BAD_REQUEST, 'The upload is empty');
    if (!type || (charset && !/^utf-?8$/i.test(charset)) || (encoding && encoding !== 'identity')) {
      return refuse(TransportCode.UNSUPPORTED_MEDIA_TYPE, `Send the objections as ${UPLOAD_TYPES.join(' or ')} in UTF-8, uncompressed`);
    }
    const given = req.query.reason ?? req.headers['x-import-reason'];
    const problems = new Problems();
    if (given !== undefined && typeof given !== 'string') problems.add('reason', 'give one reason');
    const reason = typeof given === 'string' && given !== '' ? given : undefined;
    checkString(problems, 'reason', reason, { max: MAX_FREE_TEXT });
    if (problems.any) return refuse(ErrorCode.BAD_USER_INPUT, problems.list[0].message, { userErrors: problems.list });
    if (Number(req.headers['content-length'] ?? 0) > config.importBodyLimit) {
      return refuse(
        TransportCode.PAYLOAD_TOO_LARGE,
        `The upload is larger than the limit of ${config.importBodyLimit} bytes (IMPORT_BODY_LIMIT_MB)`,
      );
    }
    const release = budget.take();
    if (!release) {
      res.set('retry-after', '5');
      return refuse(ErrorCode.BUSY, `${config.importConcurrency} uploads are running (IMPORT_CONCURRENCY); retry later`);
    }

    const body = limiter(config.importBodyLimit);
    // The request's own errors (the client leaving) end the parse; a refusal of ours leaves the request alone, so
    // that the client still gets its answer.
    req.pipe(body.stream);
    req.on('error', () => body.stream.destroy(new ClientGone()));
    req.on('close', () => {
      if (!req.complete) body.stream.destroy(new ClientGone());
    });
    const source = type === 'text/csv' ? csvRecords(body.stream) : ndjsonRecords(body.stream);
    const watch = watched(source);
    const idleTimer = setInterval(
      () => {
        if (watch.idle() > config.importIdleTimeoutMs) body.stream.destroy(new UploadIdle());
      },
      Math.min(1000, config.importIdleTimeoutMs),
    );
    idleTimer.unref();
    // Whatever the client still sends after an answer of ours is read and discarded, so that it gets the answer.
    const stopReading = () => {
      req.unpipe(body.stream);
      if (!req.complete) req.resume();
    };
    const ctx = createContext({ ...deps, log: req.log }, viewerOf(res), String(req.id));
    try {
      const summary = await ctx.services.consent.importRecords(ctx, watch.records, {
        reason,
        maxRows: MAX_IMPORT_ROWS,
        field: type === 'text/csv' ? csvField : undefined,
        auditInput: (rows) => ({ upload: type, reason, rows, bytes: body.bytes(), sha256: body.digest() }),
      });
      stopReading();
      if (summary.errors.length) {
        const n = summary.errors.length;
        return refuse(ErrorCode.BAD_USER_INPUT, `${n} problem(s) in ${summary.rows} rows read; nothing was written`, {
          userErrors: summary.errors,
        });
      }
      res.json({ importedCount: summary.imported, rows: summary.rows, alreadyInForce: summary.alreadyInForce });
    } catch (err) {
      const gone = err instanceof ClientGone || req.destroyed;
      req.log?.info(
        { refusal: { type: gone ? 'client gone' : (err as Error).constructor.name } },
        'upload ended early; nothing was written',
      );
      if (gone || res.headersSent) return;
      stopReading();
      if (err instanceof UploadTooLarge) {
        res.set('connection', 'close');
        return refuse(
          TransportCode.PAYLOAD_TOO_LARGE,
          `The upload is larger than the limit of ${config.importBodyLimit} bytes (IMPORT_BODY_LIMIT_MB)`,
        );
      }
      if (err instanceof UploadIdle) {
        res.set('connection', 'close');
        return refuse(
          TransportCode.REQUEST_TIMEOUT,
          `The upload sent nothing for ${config.importIdleTimeoutMs / 1000} s (IMPORT_IDLE_TIMEOUT_SECONDS); nothing was written`,
        );
      }
      if ((err as { code?: string }).code === '57014') {
        return refuse(
          ErrorCode.TIMEOUT,
          'The import took longer than its time limit (BUILD_STATEMENT_TIMEOUT_SECONDS) and was stopped; nothing was written',
        );
      }
      if (isConnectionLost(err))
        return refuse(ErrorCode.SERVICE_UNAVAILABLE, 'The database connection was lost; nothing was written; retry the upload');
      next(err);
    } finally {
      clearInterval(idleTimer);
      release();
    }
  };
}
