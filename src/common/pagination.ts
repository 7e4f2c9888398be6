import { ClassType, Field, Int, ObjectType, ArgsType } from 'type-graphql';
import { DomainError, ErrorCode } from './errors';
import { isUuid } from './ids';
import { isCalendarDate } from './validate';

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 500;

@ObjectType({ description: 'Relay page information.' })
export class PageInfo {
  @Field({ description: 'True when more items follow this page.' })
  hasNextPage: boolean;

  @Field({ description: 'Always false: pagination runs forwards only.' })
  hasPreviousPage: boolean;

  @Field(() => String, { nullable: true, description: 'Cursor of the first edge of this page.' })
  startCursor: string | null;

  @Field(() => String, { nullable: true, description: 'Cursor of the last edge; pass it as `after` for the next page.' })
  endCursor: string | null;
}

@ArgsType()
export class PageArgs {
  @Field(() => Int, { nullable: true, description: `Page size, 1 to ${MAX_PAGE_SIZE} (default ${DEFAULT_PAGE_SIZE}).` })
  first?: number;

  @Field(() => String, { nullable: true, description: 'Opaque cursor: return the items after it.' })
  after?: string;
}

export interface Edge<T> {
  cursor: string;
  node: T;
}

export interface Connection<T> {
  edges: Edge<T>[];
  pageInfo: PageInfo;
  totalCount?: number;
}

/** Builds a Relay connection type for a node class (type-graphql generic type). */
export function ConnectionType<T extends object>(nodeClass: ClassType<T>, name: string) {
  @ObjectType(`${name}Edge`, { description: `An edge in a ${name} connection.` })
  class EdgeClass {
    @Field({ description: 'Opaque cursor of this edge.' })
    cursor: string;

    @Field(() => nodeClass, { description: 'The item at the end of the edge.' })
    node: T;
  }

  @ObjectType(`${name}Connection`, { description: `A page of ${name} items.` })
  class ConnectionClass {
    @Field(() => [EdgeClass], { description: 'The items of this page with their cursors.' })
    edges: EdgeClass[];

    @Field(() => PageInfo, { description: 'Where this page sits.' })
    pageInfo: PageInfo;

    @Field(() => Int, { nullable: true, description: 'Number of items across all pages.' })
    totalCount?: number;
  }
  return ConnectionClass;
}

/** Validated page size. */
export function pageSize(first: number | undefined | null): number {
  if (first == null) return DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(first) || first < 1 || first > MAX_PAGE_SIZE) {
    throw new DomainError(ErrorCode.BAD_USER_INPUT, `first must be between 1 and ${MAX_PAGE_SIZE}`, 'first');
  }
  return first;
}

/** Keyset cursors: the sort key of the last row, base64url-encoded JSON. Opaque to clients. */
export function encodeCursor(key: unknown[]): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

/**
 * What one part of a cursor's sort key is: a UUID, a bigint id (as decimal text), or an instant as UTC ISO text with up
 * to microseconds. Each list declares its key's shape, and every decoded part is checked against it before it reaches
 * SQL, so a tampered cursor is a BAD_USER_INPUT, never a failed cast.
 */
export type CursorPart = 'uuid' | 'bigint' | 'timestamp';

const INSTANT = /^(\d{4}-\d{2}-\d{2})T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{1,6})?Z$/;
const PART: Record<CursorPart, (v: string) => boolean> = {
  uuid: isUuid,
  bigint: (v) => /^\d{1,19}$/.test(v) && BigInt(v) <= 9223372036854775807n,
  timestamp: (v) => INSTANT.test(v) && isCalendarDate(v.slice(0, 10)),
};
/** Longer than any cursor the service hands out (two parts of at most 36 characters, base64url). */
const MAX_CURSOR = 200;

/** Decodes an `after` cursor of the given shape (undefined when there is none); anything else is BAD_USER_INPUT. */
export function decodeCursor(cursor: string | undefined | null, shape: readonly CursorPart[]): string[] | undefined {
  if (cursor == null) return undefined;
  if (cursor.length <= MAX_CURSOR && /^[A-Za-z0-9_-]+$/.test(cursor)) {
    try {
      const key: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
      if (Array.isArray(key) && key.length === shape.length && key.every((k, i) => typeof k === 'string' && PART[shape[i]](k)))
        return key as string[];
    } catch {
      // not JSON: fall through
    }
  }
  throw new DomainError(ErrorCode.BAD_USER_INPUT, 'after is not a cursor of this list (pass a cursor this list returned)', 'after');
}

/** Turns `limit + 1` fetched rows into a connection page. */
export function toConnection<R, T>(
  rows: R[],
  limit: number,
  key: (row: R) => unknown[],
  node: (row: R) => T,
  totalCount?: number,
): Connection<T> {
  const hasNextPage = rows.length > limit;
  const page = hasNextPage ? rows.slice(0, limit) : rows;
  const edges = page.map((row) => ({ cursor: encodeCursor(key(row)), node: node(row) }));
  return {
    edges,
    pageInfo: {
      hasNextPage,
      hasPreviousPage: false,
      startCursor: edges[0]?.cursor ?? null,
      endCursor: edges[edges.length - 1]?.cursor ?? null,
    },
    totalCount,
  };
}

/** Adds a `totalCount` that is computed only if the client asks for it (counting a large table is not free). */
export function lazyTotal<T>(conn: Connection<T>, count: () => Promise<number>): Connection<T> {
  let pending: Promise<number> | undefined;
  Object.defineProperty(conn, 'totalCount', { enumerable: true, get: () => (pending ??= count()) });
  return conn;
}
