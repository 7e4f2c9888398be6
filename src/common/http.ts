import express from 'express';
import { Kind, visit, type DocumentNode, type OperationDefinitionNode } from 'graphql';
import type { Config } from '../config';
import { authenticate, AuthenticationError, hasRole, type Role, type Viewer } from './auth';
import type { Problem } from './error-boundary';
import { ERROR_BOUNDARY, ErrorCode, TransportCode, type WireCode } from './errors';

/**
 * The HTTP edge: who the caller is before anything expensive, body limits per route, and one error shape.
 *
 * - `/graphql` answers errors as GraphQL over HTTP: `{ errors: [{ message, extensions: { code } }] }` with a 4xx.
 * - Every other route answers a small JSON problem document: `{ error: { code, message } }`.
 * - The status is the code's (ERROR_BOUNDARY in src/common/errors.ts) unless a caller has a more precise one.
 * - Never Express's HTML page, never a stack, never the request body (in the answer or in the log).
 */

/** Largest body accepted without a token: enough for the IDE's introspection query (2 KB), too small to cost anything. */
export const ANONYMOUS_BODY_LIMIT = 32 * 1024;
/**
 * A refused body up to this size is read and discarded (without parsing: cheap), so that the client, which is usually
 * still sending, reliably gets its answer; a bigger or unannounced one ends the connection after the answer.
 */
export const DRAIN_LIMIT = 16 * 1024 * 1024;

/** Closes the connection after the answer when the unread rest of the body is too big to drain. */
function closeIfBig(req: express.Request, res: express.Response): void {
  const length = Number(req.headers['content-length'] ?? 0);
  if (length > DRAIN_LIMIT || req.headers['transfer-encoding'] !== undefined) res.set('connection', 'close');
}

export const AUTHENTICATION_REQUIRED = 'Authentication required: send "Authorization: Bearer <token>"';

/** The small problem document of the routes beside /graphql (`extra`: more members of `error`, e.g. userErrors). */
export function sendProblem(
  res: express.Response,
  code: WireCode,
  message: string,
  extra: Record<string, unknown> = {},
  status = ERROR_BOUNDARY[code].status,
): void {
  res
    .status(status)
    .type('application/json')
    .send(JSON.stringify({ error: { code, message, ...extra } }));
}

/** A refusal (a DomainError, see problemOf) as a problem document, with `Retry-After` when it may succeed later. */
export function sendRefusal(res: express.Response, problem: Problem): void {
  if (problem.retryAfterSeconds !== undefined) res.setHeader('retry-after', String(problem.retryAfterSeconds));
  sendProblem(res, problem.code, problem.message);
}

/** A GraphQL-over-HTTP error answer (no data: the request never reached execution). */
export function sendGraphQLError(res: express.Response, code: WireCode, message: string, status = ERROR_BOUNDARY[code].status): void {
  res
    .status(status)
    .type('application/json')
    .send(JSON.stringify({ errors: [{ message, extensions: { code } }] }));
}

/** The caller authenticated by `authenticateFirst` (undefined: no token). */
export const viewerOf = (res: express.Response): Viewer | undefined => res.locals.viewer as Viewer | undefined;

/**
 * Verifies the bearer token before the body is read: a bad token is refused at once, whatever follows; a request
 * without a token may only send a small body (introspection for the IDE), anything bigger is refused with 401 unread.
 */
export function authenticateFirst(secret: Uint8Array, config: Pick<Config, 'tokenMaxLifetimeSeconds'>): express.RequestHandler {
  return async (req, res, next) => {
    const refuse = (message: string) => {
      closeIfBig(req, res);
      sendGraphQLError(res, ErrorCode.UNAUTHENTICATED, message);
    };
    let viewer: Viewer | undefined;
    try {
      viewer = await authenticate(secret, req.headers.authorization, config.tokenMaxLifetimeSeconds);
    } catch (err) {
      if (!(err instanceof AuthenticationError)) return next(err);
      return refuse(err.message);
    }
    res.locals.viewer = viewer;
    if (!viewer && Number(req.headers['content-length'] ?? 0) > ANONYMOUS_BODY_LIMIT) {
      return refuse(
        `${AUTHENTICATION_REQUIRED} (without a token only introspection, in at most ${ANONYMOUS_BODY_LIMIT / 1024} KB, is answered)`,
      );
    }
    next();
  };
}

/**
 * For an upload route beside /graphql: verifies the bearer token and the role before the body is read, refusing with
 * a problem document (401 without a valid token, 403 without one of `roles`) and ending the connection after the
 * answer when the unread body is big. The caller is then `viewerOf(res)`.
 */
export function authorizeFirst(
  secret: Uint8Array,
  config: Pick<Config, 'tokenMaxLifetimeSeconds'>,
  roles: Role[],
  what: string,
): express.RequestHandler {
  return async (req, res, next) => {
    let viewer: Viewer | undefined;
    try {
      viewer = await authenticate(secret, req.headers.authorization, config.tokenMaxLifetimeSeconds);
    } catch (err) {
      if (!(err instanceof AuthenticationError)) return next(err);
      closeIfBig(req, res);
      return sendProblem(res, ErrorCode.UNAUTHENTICATED, err.message);
    }
    if (!viewer) {
      closeIfBig(req, res);
      return sendProblem(res, ErrorCode.UNAUTHENTICATED, AUTHENTICATION_REQUIRED);
    }
    if (!hasRole(viewer, ...roles)) {
      closeIfBig(req, res);
      return sendProblem(res, ErrorCode.FORBIDDEN, `${what} requires one of: ${roles.join(', ')}`);
    }
    res.locals.viewer = viewer;
    next();
  };
}

/** For a bodiless route beside /graphql (GET): the caller of the bearer token, or undefined once refused with 401. */
export function bearerViewer(secret: Uint8Array, config: Pick<Config, 'tokenMaxLifetimeSeconds'>) {
  return async (req: express.Request, res: express.Response): Promise<Viewer | undefined> => {
    try {
      const viewer = await authenticate(secret, req.headers.authorization, config.tokenMaxLifetimeSeconds);
      if (!viewer) sendProblem(res, ErrorCode.UNAUTHENTICATED, AUTHENTICATION_REQUIRED);
      return viewer;
    } catch (err) {
      if (!(err instanceof AuthenticationError)) throw err;
      sendProblem(res, ErrorCode.UNAUTHENTICATED, err.message);
      return undefined;
    }
  };
}

/** Ends the connection after the answer when the request's unread body is too big to drain (see DRAIN_LIMIT). */
export { closeIfBig };

/** The JSON body parser of /graphql: BODY_LIMIT_MB for an authenticated caller, ANONYMOUS_BODY_LIMIT otherwise. */
export function graphqlBody(config: Pick<Config, 'bodyLimit'>): express.RequestHandler {
  const authenticated = express.json({ limit: config.bodyLimit });
  const anonymous = express.json({ limit: ANONYMOUS_BODY_LIMIT });
  return (req, res, next) => (viewerOf(res) ? authenticated : anonymous)(req, res, next);
}

/** True when the document aliases a field anywhere (a caller without a token may not multiply even `__typename`). */
export function hasAlias(document: DocumentNode): boolean {
  let found = false;
  visit(document, {
    Field(node) {
      if (node.alias) found = true;
    },
  });
  return found;
}

/** True when every root field of the operation is introspection (allowed without a token, so the IDE can load docs). */
export function introspectionOnly(op: OperationDefinitionNode): boolean {
  return op.selectionSet.selections.every((s) => s.kind === Kind.FIELD && s.name.value.startsWith('__'));
}

interface BodyParserError extends Error {
  type?: string;
  status?: number;
  statusCode?: number;
  expose?: boolean;
  limit?: number;
}

/** What a refused body means to the client; never its message (JSON.parse quotes the body in it). */
function classify(err: BodyParserError): { status: number; code: WireCode; message: string } {
  const status = err.status ?? err.statusCode ?? 500;
  const refusal = (code: WireCode, message: string) => ({ status: ERROR_BOUNDARY[code].status, code, message });
  switch (err.type) {
    case 'entity.parse.failed':
      return refusal(TransportCode.BAD_REQUEST, 'The request body is not valid JSON (an object is expected)');
    case 'entity.too.large':
      return refusal(TransportCode.PAYLOAD_TOO_LARGE, `The request body is larger than the limit of ${err.limit ?? '?'} bytes`);
    case 'charset.unsupported':
    case 'encoding.unsupported':
      return refusal(
        TransportCode.UNSUPPORTED_MEDIA_TYPE,
        'Unsupported charset or content encoding: send UTF-8 JSON (gzip or deflate allowed)',
      );
    case 'request.aborted':
    case 'request.size.invalid':
      return refusal(TransportCode.BAD_REQUEST, 'The request body was incomplete');
    default:
      // Another 4xx of the body parser keeps its own status.
      if (status >= 400 && status < 500 && err.expose)
        return { status, code: TransportCode.BAD_REQUEST, message: 'The request could not be read' };
      return refusal(ErrorCode.INTERNAL_SERVER_ERROR, 'Internal server error');
  }
}

/**
 * The last error handler: one shape per route family, logged as one JSON line by kind (for a 5xx, the error's name,
 * code and message; for a refused body, only its kind: never the body).
 */
export function errorHandler(): express.ErrorRequestHandler {
  return (err: BodyParserError, req, res, _next) => {
    const refusal = classify(err);
    const log = req.log;
    if (refusal.status >= 500)
      log?.error({ err: { name: err.name, code: (err as { code?: string }).code, message: err.message } }, 'request failed');
    else log?.info({ refusal: { type: err.type ?? 'bad request', status: refusal.status } }, 'request refused');
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (refusal.status === 413) closeIfBig(req, res);
    const graphql = req.originalUrl.split('?')[0].replace(/\/+$/, '') === '/graphql';
    // A caller without a token learns that it needs one, not how big a body may be.
    if (graphql && refusal.status === 413 && !viewerOf(res))
      return sendGraphQLError(res, ErrorCode.UNAUTHENTICATED, AUTHENTICATION_REQUIRED);
    if (graphql) sendGraphQLError(res, refusal.code, refusal.message, refusal.status);
    else sendProblem(res, refusal.code, refusal.message, {}, refusal.status);
  };
}

/** Unknown routes: a JSON 404 naming what exists. */
export function notFound(): express.RequestHandler {
  return (req, res) => {
    res.locals.route = 'unmatched';
    sendProblem(res, ErrorCode.NOT_FOUND, `No route ${req.method} ${req.path.slice(0, 200)}: see GET / for what this service offers`);
  };
}
