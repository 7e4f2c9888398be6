import { Role } from '../../src/common/auth';
import { ok, TestApp } from '../helpers';
import { World } from '../world';

/** One page of a connection as a test reads it. */
export interface Page {
  totalCount?: number | null;
  edges: { cursor: string; node: any }[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}

/**
 * Walks a list page by page, passing each page's endCursor as `after` until hasNextPage is false; `query` takes
 * `$after` (and `variables`), `pick` finds the connection in the answer. Stops at 100 pages so a loop fails, not hangs.
 */
export async function walk(
  t: TestApp,
  query: string,
  pick: (data: any) => Page,
  as: Role,
  variables: Record<string, unknown> = {},
): Promise<Page[]> {
  const pages: Page[] = [];
  let after: string | null = null;
  for (let i = 0; i < 100; i++) {
    const page = pick(ok(await t.gql(query, { ...variables, after }, as)));
    pages.push(page);
    if (!page.pageInfo.hasNextPage) return pages;
    expect(page.pageInfo.endCursor).toBe(page.edges[page.edges.length - 1].cursor);
    after = page.pageInfo.endCursor;
  }
  throw new Error('more than 100 pages: the walk does not end');
}

/** The error code of a top-level error. */
export const codeOf = (res: { errors?: { extensions?: Record<string, any> }[] }) => res.errors?.[0]?.extensions?.code;

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

/** Tampered versions of a real cursor: a changed character, each part replaced by something of the wrong kind, a part more, one less. */
export function tampered(cursor: string): string[] {
  const key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as string[];
  // The first character carries the opening bracket's high bits: any other makes the text no JSON array.
  const flipped = (cursor[0] === 'W' ? 'X' : 'W') + cursor.slice(1);
  return [
    flipped,
    `${cursor}!`,
    ...key.map((_, i) => b64(key.map((k, j) => (i === j ? `${k}x` : k)))),
    b64([...key, key[0]]),
    b64(key.slice(1)),
    b64(key.map(() => 1)),
  ];
}

/** A cursor of the users list (a uuid key), with a user of its own so that the list is not empty. */
export async function usersCursor(t: TestApp): Promise<string> {
  await new World(t).user();
  const cursor = ok(await t.gql(`{ users(first: 1) { pageInfo { endCursor } } }`, {}, Role.PRIVACY_OFFICER)).users.pageInfo.endCursor;
  expect(cursor).toBeTruthy();
  return cursor;
}
