import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import type { Config } from '../config';
import { DomainError, ERROR_BOUNDARY, ErrorCode, isConnectionLost, RateLimitedError, type UserErrorDetail, type WireCode } from './errors';

/**
 * The one error boundary: how every transport answers an error, from the table ERROR_BOUNDARY (src/common/errors.ts).
 *
 * - GraphQL: `formatError` (below) maps domain errors to their codes and masks everything unexpected; the status a
 *   refusal takes comes from its `extensions` (errorExtensions).
 * - HTTP routes beside /graphql: a problem document `{ error: { code, message } }` with the code's status
 *   (src/common/http.ts sendProblem, sendRefusal).
 * - The CLI: `error: message [code]` and exit 1 (src/cli/index.ts).
 */

/** A refusal as the routes and the CLI answer it; undefined for an unexpected error (never shown: logged, 500). */
export interface Problem {
  code: WireCode;
  status: number;
  message: string;
  details: UserErrorDetail[];
  /** When the same request may succeed later (BUSY, RATE_LIMITED): the `Retry-After` of the answer. */
  retryAfterSeconds?: number;
}

export function problemOf(err: unknown): Problem | undefined {
  if (!(err instanceof DomainError)) return undefined;
  const retryAfterSeconds = (err as DomainError & { retryAfterSeconds?: number }).retryAfterSeconds;
  return { code: err.code, status: ERROR_BOUNDARY[err.code].status, message: err.message, details: err.details, retryAfterSeconds };
}

/** Maps domain errors to their codes and masks everything unexpected (no stack, SQL or internal message leaks). */
export function formatError(config: Config) {
  const format = maskErrors(config);
  if (!config.production) return format;
  // In production no message suggests names of the schema: validation (Apollo's hideSchemaDetailsFromClientErrors),
  // but also variable coercion ("Field "x" is not defined by type …", enum values), which it does not cover.
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const result = format(formatted, error);
    return { ...result, message: result.message.replace(/\s*Did you mean [^?]*\?/g, '') };
  };
}

function maskErrors(config: Config) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const original = error instanceof GraphQLError ? error.originalError : error;
    if (original instanceof DomainError) {
      const retry = original instanceof RateLimitedError ? { retryAfterSeconds: original.retryAfterSeconds } : {};
      return {
        message: original.message,
        locations: formatted.locations,
        path: formatted.path,
        extensions: { code: original.code, field: original.details[0]?.field, ...retry },
      };
    }
    // A document limit (armor's rules run in validation, which labels its errors GRAPHQL_VALIDATION_FAILED).
    if (original instanceof GraphQLError && original.extensions?.limit) {
      const { limit: _limit, http: _http, ...extensions } = original.extensions;
      return { message: original.message, extensions };
    }
    const code = formatted.extensions?.code;
    if (code && code !== ErrorCode.INTERNAL_SERVER_ERROR) {
      const { stacktrace: _drop, ...extensions } = formatted.extensions ?? {};
      return { ...formatted, extensions: config.production ? { code } : extensions };
    }
    const pgCode = (original as { code?: string } | undefined)?.code;
    if (pgCode === '57014') {
      const message =
        'The operation took longer than its time limit and was stopped; nothing was changed. Ask for less (smaller pages, fewer ids)';
      return { message, path: formatted.path, extensions: { code: ErrorCode.TIMEOUT } };
    }
    if (isConnectionLost(original)) {
      return {
        message: 'The database connection was lost; retry the request',
        path: formatted.path,
        extensions: { code: ErrorCode.SERVICE_UNAVAILABLE, retryable: true },
      };
    }
    return { message: 'Internal server error', path: formatted.path, extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR } };
  };
}
