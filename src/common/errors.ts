import { QueryRunnerProviderAlreadyReleasedError } from 'typeorm';

/** Every error code a client can see, in `extensions.code` or in a payload's `userErrors`. */
export enum ErrorCode {
  UNAUTHENTICATED = 'UNAUTHENTICATED',
  FORBIDDEN = 'FORBIDDEN',
  BAD_USER_INPUT = 'BAD_USER_INPUT',
  NOT_FOUND = 'NOT_FOUND',
  CONFLICT = 'CONFLICT',
  NOTHING_TO_WITHDRAW = 'NOTHING_TO_WITHDRAW',
  POLICY_NOT_ENFORCED = 'POLICY_NOT_ENFORCED',
  ALREADY_ERASED = 'ALREADY_ERASED',
  DATASET_TAINTED = 'DATASET_TAINTED',
  DATASET_SUPERSEDED = 'DATASET_SUPERSEDED',
  INTERNAL_SERVER_ERROR = 'INTERNAL_SERVER_ERROR',
  SERVICE_UNAVAILABLE = 'SERVICE_UNAVAILABLE',
  /** Too much of this kind of work is running (exports beyond their connection budget); retry after a while. */
  BUSY = 'BUSY',
  /**
   * Too many whole-corpus evaluations of the caller's role (or of the service) are running (CORPUS_CONCURRENCY_PER_ROLE,
   * CORPUS_CONCURRENCY): refused at once with HTTP 429, `Retry-After` and `retryAfterSeconds`, never queued.
   */
  RATE_LIMITED = 'RATE_LIMITED',
  /** A statement ran past the timeout of its kind of work (STATEMENT_TIMEOUT_SECONDS and friends); nothing was changed. */
  TIMEOUT = 'TIMEOUT',
}

/**
 * Codes that only the HTTP edge answers, about a request it could not read (before any rule ran): not members of
 * ErrorCode, which is the schema's list of what operations report.
 */
export enum TransportCode {
  BAD_REQUEST = 'BAD_REQUEST',
  PAYLOAD_TOO_LARGE = 'PAYLOAD_TOO_LARGE',
  UNSUPPORTED_MEDIA_TYPE = 'UNSUPPORTED_MEDIA_TYPE',
  REQUEST_TIMEOUT = 'REQUEST_TIMEOUT',
}

/** Every code an answer can carry, whatever the transport. */
export type WireCode = ErrorCode | TransportCode;

/** How every transport answers one code (src/common/error-boundary.ts applies it). */
export interface ErrorAnswer {
  /** The HTTP status of a problem document (routes beside /graphql) and of a GraphQL answer that takes one. */
  status: number;
  /**
   * True when a GraphQL answer carrying the code takes `status` too (`extensions.http`): a refusal of the request as a
   * whole (no token, malformed input, rate limit). Otherwise it stays 200, beside whatever data the rest resolved.
   */
  graphqlStatus: boolean;
}

/**
 * The error boundary's table: one row per code, a Record so that a new code does not compile until every transport
 * knows how to answer it (GraphQL's formatError and extensions, the HTTP routes' problem documents, the CLI).
 */
export const ERROR_BOUNDARY: Record<WireCode, ErrorAnswer> = {
  [ErrorCode.UNAUTHENTICATED]: { status: 401, graphqlStatus: true },
  [ErrorCode.FORBIDDEN]: { status: 403, graphqlStatus: false },
  [ErrorCode.BAD_USER_INPUT]: { status: 400, graphqlStatus: true },
  [ErrorCode.NOT_FOUND]: { status: 404, graphqlStatus: false },
  [ErrorCode.CONFLICT]: { status: 409, graphqlStatus: false },
  [ErrorCode.NOTHING_TO_WITHDRAW]: { status: 409, graphqlStatus: false },
  [ErrorCode.POLICY_NOT_ENFORCED]: { status: 409, graphqlStatus: false },
  [ErrorCode.ALREADY_ERASED]: { status: 409, graphqlStatus: false },
  [ErrorCode.DATASET_TAINTED]: { status: 409, graphqlStatus: false },
  [ErrorCode.DATASET_SUPERSEDED]: { status: 409, graphqlStatus: false },
  [ErrorCode.INTERNAL_SERVER_ERROR]: { status: 500, graphqlStatus: false },
  [ErrorCode.SERVICE_UNAVAILABLE]: { status: 503, graphqlStatus: false },
  [ErrorCode.BUSY]: { status: 503, graphqlStatus: false },
  [ErrorCode.RATE_LIMITED]: { status: 429, graphqlStatus: true },
  [ErrorCode.TIMEOUT]: { status: 503, graphqlStatus: false },
  [TransportCode.BAD_REQUEST]: { status: 400, graphqlStatus: true },
  [TransportCode.PAYLOAD_TOO_LARGE]: { status: 413, graphqlStatus: true },
  [TransportCode.UNSUPPORTED_MEDIA_TYPE]: { status: 415, graphqlStatus: true },
  [TransportCode.REQUEST_TIMEOUT]: { status: 408, graphqlStatus: true },
};

/** The `extensions` of a GraphQL error with this code: the status when the code's answer takes one (ERROR_BOUNDARY). */
export function errorExtensions(
  code: WireCode,
  extensions: Record<string, unknown> = {},
  headers?: Map<string, string>,
): Record<string, unknown> {
  const { status, graphqlStatus } = ERROR_BOUNDARY[code];
  return { code, ...extensions, ...(graphqlStatus ? { http: { status, ...(headers ? { headers } : {}) } } : {}) };
}

/** One problem with the input, pointing at the offending field (for batches: `users[3].country`). */
export interface UserErrorDetail {
  code: ErrorCode;
  message: string;
  field?: string;
}

/**
 * A refusal by the rules (bad input, conflict, nothing to do). Mutations report it in `userErrors` after rolling back;
 * queries raise it as a GraphQL error with the same code.
 */
export class DomainError extends Error {
  readonly details: UserErrorDetail[];
  constructor(
    readonly code: ErrorCode,
    message: string,
    field?: string,
    details?: UserErrorDetail[],
  ) {
    super(message);
    this.details = details ?? [{ code, message, field }];
  }

  /**
   * A malformed value raised by a query (tampered cursor, NUL, lone surrogate, over-long string, unknown language…)
   * answers HTTP 400, as refusals before execution do: the client gets a 4xx (Apollo Server reads `extensions.http`).
   * Other refusals (NOT_FOUND, CONFLICT…) keep 200 (ERROR_BOUNDARY); mutations report theirs in `userErrors`.
   */
  get extensions(): Record<string, unknown> | undefined {
    return ERROR_BOUNDARY[this.code].graphqlStatus ? errorExtensions(this.code) : undefined;
  }

  static invalid(details: UserErrorDetail[]): DomainError {
    const first = details[0];
    const more = details.length > 1 ? ` (and ${details.length - 1} more)` : '';
    return new DomainError(first.code, `${first.message}${more}`, first.field, details);
  }
}

/**
 * A refusal because too much of a kind of work is running: nothing was done, the same request may succeed later. Its
 * `extensions.http` gives GraphQL answers status 429 and a `Retry-After` header (Apollo Server reads them).
 */
export class RateLimitedError extends DomainError {
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(ErrorCode.RATE_LIMITED, message);
  }
  override get extensions(): Record<string, unknown> {
    return errorExtensions(this.code, {}, new Map([['retry-after', String(this.retryAfterSeconds)]]));
  }
}

/** A refusal because too much of this kind of work is running (exports beyond their budget): retry after a while. */
export class BusyError extends DomainError {
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(ErrorCode.BUSY, message);
  }
}

/** Collects validation problems so that a batch reports every bad row, not only the first. */
export class Problems {
  readonly list: UserErrorDetail[] = [];
  constructor(private readonly limit = 1000) {}
  add(field: string, message: string, code: ErrorCode = ErrorCode.BAD_USER_INPUT): void {
    if (this.list.length < this.limit) this.list.push({ code, message, field });
  }
  get any(): boolean {
    return this.list.length > 0;
  }
  throwIfAny(): void {
    if (this.any) throw DomainError.invalid(this.list);
  }
}

/** A client's value as a message repeats it: cut after `max` characters, so that an error never echoes a huge input. */
export const shown = (value: string, max = 100): string =>
  value.length > max ? `${value.slice(0, max)}… (${value.length} characters)` : value;

/** SQLSTATEs of a connection that is gone: the server shut it (admin, crash, shutdown) or it failed. */
const CONNECTION_LOST_CODES = new Set(['57P01', '57P02', '57P03', '08000', '08003', '08006']);

/**
 * True when an error means the database connection was lost under the request (nothing it did committed, so the client
 * may retry it as a whole): a connection-failure SQLSTATE, the pg driver's "Connection terminated", or TypeORM's
 * QueryRunnerProviderAlreadyReleasedError, which is what the next statement of a transaction meets when its connection
 * died between two statements (the query runner releases itself on the connection's 'error' event).
 */
export function isConnectionLost(err: unknown): boolean {
  if (err instanceof QueryRunnerProviderAlreadyReleasedError) return true;
  const e = err as { code?: unknown; message?: unknown } | null | undefined;
  if (typeof e?.code === 'string' && CONNECTION_LOST_CODES.has(e.code)) return true;
  return typeof e?.message === 'string' && /Connection terminated|connection error and is not queryable/.test(e.message);
}
