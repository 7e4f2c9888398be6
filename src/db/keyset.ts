import type { EntityManager } from 'typeorm';
import { Connection, CursorPart, decodeCursor, lazyTotal, pageSize, toConnection } from '../common/pagination';

/** How one part of a cursor's key is cast when it is bound back into SQL. */
const CAST: Record<CursorPart, string> = { uuid: 'uuid', bigint: 'bigint', timestamp: 'timestamptz' };

/**
 * The sort key of a list: its columns (unique together), the shape of each part in a cursor, the direction, and how to
 * read a row's key. A timestamp part must come from a column of text with microseconds (JSON keeps no more than ms).
 */
export interface KeysetKey<R> {
  columns: readonly string[];
  shape: readonly CursorPart[];
  descending?: boolean;
  of(row: R): string[];
}

/** The common key: one uuid column, ascending. */
export const byId = <R extends { id: string }>(column: string): KeysetKey<R> => ({ columns: [column], shape: ['uuid'], of: (r) => [r.id] });

export interface KeysetPage<R, T> {
  /**
   * `SELECT … FROM …` of the page without WHERE (its conditions are `where`), or a function placing the WHERE clause it
   * is given (` WHERE …` or nothing) where it belongs (inside a relation, say).
   */
  select: Statement;
  /** `SELECT count(*)::int AS n FROM …` over the same rows, as `select`; none (and no `total`): no totalCount. */
  count?: Statement;
  /** The totalCount when the list knows it without counting (a dataset's member count), instead of `count`. */
  total?: () => Promise<number>;
  /** The list's filter, bound with `bind` into `params`; the cursor's condition is added here. */
  where: string[];
  params: unknown[];
  bind: (value: unknown) => string;
  key: KeysetKey<R>;
  first?: number | null;
  after?: string | null;
  /** The node of a row (default the row). */
  node?: (row: R) => T;
  /** Runs the page's statement (default: on `db`); serialPlan, say. */
  run?: (db: EntityManager, sql: string, params: unknown[]) => Promise<R[]>;
  /** Wraps the count when the client asks for it (the corpus gate, say). */
  counting?: (count: () => Promise<number>) => Promise<number>;
  /** Count now, with the page, instead of when the client asks for totalCount. */
  eagerCount?: boolean;
}

type Statement = string | ((where: string) => string);
const clause = (conds: readonly string[]) => (conds.length ? ` WHERE ${conds.join(' AND ')}` : '');
const render = (statement: Statement, conds: readonly string[]) =>
  typeof statement === 'string' ? `${statement}${clause(conds)}` : statement(clause(conds));

/**
 * One keyset page of a list (every connection of the API): validates `first` and `after` (a cursor of another list or
 * a tampered one is BAD_USER_INPUT), fetches `first + 1` rows past the cursor in key order, and adds a totalCount that
 * counts the filtered rows, cursor aside, only when asked for.
 */
export async function keysetPage<R, T = R>(db: EntityManager, page: KeysetPage<R, T>): Promise<Connection<T>> {
  const limit = pageSize(page.first);
  const cursor = decodeCursor(page.after, page.key.shape);
  const countWhere = [...page.where];
  const countParams = [...page.params];
  const where = [...page.where];
  const { columns, shape, descending } = page.key;
  if (cursor) {
    const values = cursor.map((v, i) => `${page.bind(v)}::${CAST[shape[i]]}`);
    where.push(`(${columns.join(', ')}) ${descending ? '<' : '>'} (${values.join(', ')})`);
  }
  const order = columns.map((c) => `${c}${descending ? ' DESC' : ''}`).join(', ');
  const sql = `${render(page.select, where)} ORDER BY ${order} LIMIT ${limit + 1}`;
  const rows = page.run ? await page.run(db, sql, page.params) : ((await db.query(sql, page.params)) as R[]);
  const node = page.node ?? ((r: R) => r as unknown as T);
  const conn = toConnection(rows, limit, (r) => page.key.of(r), node);
  const countSql = page.count;
  const total =
    page.total ??
    (countSql ? async () => ((await db.query(render(countSql, countWhere), countParams)) as { n: number }[])[0].n : undefined);
  if (!total) return conn;
  const counted = () => (page.counting ? page.counting(total) : total());
  if (page.eagerCount) return { ...conn, totalCount: await counted() };
  return lazyTotal(conn, counted);
}
