import type { EntityManager } from 'typeorm';
import { assertFactSession } from '../../db/citus';
import { inKeyOrder, isUuid } from '../../common/ids';
import type { Connection } from '../../common/pagination';
import { LOCK_NAMES } from '../../db/locks';
import { lockForTransaction, sqlParams } from '../../db/sql';
import { byId, keysetPage } from '../../db/keyset';
import { ContentFilter, ContentRow, VisibilityChange } from './content.types';

/** Content items, their visibility history and label history: the only writer of those tables. */

export const CONTENT_COLUMNS = `c.id, c.external_id AS "externalId", c.author_id AS "authorId", c.platform, c.kind, c.text, c.language,
  c.content_hash AS "contentHash", c.created_at AS "createdAt", c.labels, c.deleted_at AS "deletedAt"`;

/**
 * Builds the WHERE clauses of a content filter over alias `c`; `p` binds a parameter. A client's filter is checked
 * first by its caller (checkContentFilter).
 */
export function contentFilterSql(filter: ContentFilter | undefined, p: (v: unknown) => string): string[] {
  const where: string[] = [];
  if (!filter) return where;
  if (filter.authorId) where.push(`c.author_id = ${p(filter.authorId)}::uuid`);
  if (filter.platforms?.length) where.push(`c.platform = ANY(${p(filter.platforms)}::text[])`);
  if (filter.kinds?.length) where.push(`c.kind = ANY(${p(filter.kinds)}::text[])`);
  if (filter.languages?.length) where.push(`c.language = ANY(${p(filter.languages)}::text[])`);
  if (filter.createdFrom) where.push(`c.created_at >= ${p(filter.createdFrom)}`);
  if (filter.createdTo) where.push(`c.created_at < ${p(filter.createdTo)}`);
  return where;
}

/**
 * Content's unique key is (external_id, author_id), so that it can be sharded by author; that an external id names one
 * item of one author is checked by its writers (ingest, the synthetic seed) under this lock, one writer at a time.
 */
export async function lockContentIdentity(db: EntityManager): Promise<void> {
  await lockForTransaction(db, LOCK_NAMES.CONTENT_IDENTITY);
}

/** Items by id in the order asked; one statement whatever the count. */
export async function contentByIds(db: EntityManager, ids: readonly string[]): Promise<(ContentRow | undefined)[]> {
  const valid = ids.filter(isUuid);
  const rows: ContentRow[] = valid.length
    ? await db.query(`SELECT ${CONTENT_COLUMNS} FROM content_items c WHERE c.id = ANY($1::uuid[])`, [valid])
    : [];
  return inKeyOrder(ids, rows);
}

/** A keyset page of items ordered by id (the filter checked by the caller). */
export function contentPage(
  db: EntityManager,
  filter: ContentFilter | undefined,
  first?: number,
  after?: string,
): Promise<Connection<ContentRow>> {
  const { params, p } = sqlParams();
  return keysetPage<ContentRow>(db, {
    select: `SELECT ${CONTENT_COLUMNS} FROM content_items c`,
    count: `SELECT count(*)::int AS n FROM content_items c`,
    where: contentFilterSql(filter, p),
    params,
    bind: p,
    key: byId('c.id'),
    first,
    after,
  });
}

/** Current visibility of many items (latest change at or before now); one statement. */
export async function currentVisibility(db: EntityManager, ids: readonly string[]): Promise<(string | null)[]> {
  const rows: { item_id: string; visibility: string }[] = await db.query(
    `SELECT DISTINCT ON (item_id) item_id, visibility FROM visibility_changes
       WHERE item_id = ANY($1::uuid[]) AND changed_at <= now() ORDER BY item_id, changed_at DESC, id DESC`,
    [ids.filter(isUuid)],
  );
  const byItem = new Map(rows.map((r) => [r.item_id, r.visibility]));
  return ids.map((id) => byItem.get(id) ?? null);
}

/** Visibility histories of many items, oldest first; one statement. */
export async function visibilityHistory(db: EntityManager, ids: readonly string[]): Promise<VisibilityChange[][]> {
  const rows: (VisibilityChange & { itemId: string })[] = await db.query(
    `SELECT item_id AS "itemId", visibility, changed_at AS "changedAt", recorded_at AS "recordedAt" FROM visibility_changes
       WHERE item_id = ANY($1::uuid[]) ORDER BY item_id, changed_at, id`,
    [ids.filter(isUuid)],
  );
  const byItem = new Map<string, VisibilityChange[]>();
  for (const r of rows) {
    const list = byItem.get(r.itemId) ?? [];
    list.push(r);
    byItem.set(r.itemId, list);
  }
  return ids.map((id) => byItem.get(id) ?? []);
}

/** Item counts per author; one statement. */
export async function countByAuthors(db: EntityManager, authorIds: readonly string[]): Promise<number[]> {
  const rows: { author_id: string; n: number }[] = await db.query(
    `SELECT author_id, count(*)::int AS n FROM content_items WHERE author_id = ANY($1::uuid[]) GROUP BY author_id`,
    [authorIds.filter(isUuid)],
  );
  const byAuthor = new Map(rows.map((r) => [r.author_id, r.n]));
  return authorIds.map((id) => byAuthor.get(id) ?? 0);
}

/**
 * The authors of an ingest, locked against erasure (which locks them exclusively) until the ingest commits: an erasure
 * either committed before, and is refused, or waits and then removes the text written.
 */
export function lockAuthors(
  db: EntityManager,
  externalIds: string[],
): Promise<{ id: string; external_id: string; erased_at: Date | null }[]> {
  return db.query(`SELECT id, external_id, erased_at FROM users WHERE external_id = ANY($1::text[]) ORDER BY id FOR SHARE`, [externalIds]);
}

/** Items that exist by external id, with what may not change. */
export function existingItems(
  db: EntityManager,
  externalIds: string[],
): Promise<{ external_id: string; author_id: string; platform: string; kind: string }[]> {
  return db.query(`SELECT external_id, author_id, platform, kind FROM content_items WHERE external_id = ANY($1::text[])`, [externalIds]);
}

/** Items resolved by external id. */
export function itemsByExternal(
  db: EntityManager,
  externalIds: string[],
): Promise<{ id: string; external_id: string; author_id: string; created_at: Date }[]> {
  return db.query(`SELECT id, external_id, author_id, created_at FROM content_items WHERE external_id = ANY($1::text[])`, [externalIds]);
}

/** The columns of an ingest batch (labels as JSON arrays). */
export interface ContentBatch {
  externalIds: string[];
  authorIds: string[];
  platforms: string[];
  kinds: string[];
  texts: string[];
  languages: string[];
  createdAts: Date[];
  labels: string[];
  visibilities: string[];
}

/** Creates or updates items by external id, in one statement that also writes new items' first visibility. */
export function upsertContent(db: EntityManager, b: ContentBatch): Promise<{ id: string; external_id: string; created: boolean }[]> {
  assertFactSession(db);
  return db.query(
    `WITH input AS (
         SELECT external_id, author_id, platform, kind, text, language, created_at, ARRAY(SELECT jsonb_array_elements_text(labels::jsonb)) AS labels, visibility
         FROM unnest($1::text[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[], $8::text[], $9::text[])
           AS t(external_id, author_id, platform, kind, text, language, created_at, labels, visibility)
       ), corrected AS (
         -- A correction of labels keeps the version it replaces (the trigger on content_items stamps the new one).
         INSERT INTO content_label_history (item_id, author_id, labels, recorded_at, recorded_xid)
         SELECT c.id, c.author_id, c.labels, c.labels_recorded_at, c.labels_xid
         FROM content_items c JOIN input i ON i.external_id = c.external_id AND i.author_id = c.author_id
         WHERE c.labels IS DISTINCT FROM i.labels
       ), written AS (
         -- updated_at is now() for new and updated rows alike; it comes through EXCLUDED because Citus takes only
         -- IMMUTABLE functions in DO UPDATE SET on a distributed table.
         INSERT INTO content_items (external_id, author_id, platform, kind, text, language, content_hash, created_at, labels, updated_at)
         SELECT external_id, author_id, platform, kind, text, language, encode(sha256(convert_to(text, 'UTF8')), 'hex'), created_at, labels, now()
         FROM input
         ON CONFLICT (external_id, author_id) DO UPDATE SET text = EXCLUDED.text, language = EXCLUDED.language, content_hash = EXCLUDED.content_hash,
           labels = EXCLUDED.labels, updated_at = EXCLUDED.updated_at
         RETURNING id, external_id, author_id, (xmax = 0) AS created
       ), first_visibility AS (
         INSERT INTO visibility_changes (item_id, author_id, visibility, changed_at)
         SELECT w.id, w.author_id, i.visibility, least(i.created_at, now()) FROM written w JOIN input i USING (external_id) WHERE w.created
       )
       SELECT id, external_id, created FROM written`,
    [b.externalIds, b.authorIds, b.platforms, b.kinds, b.texts, b.languages, b.createdAts, b.labels, b.visibilities],
  );
}

/** Appends visibility changes (an instant in the future, or none, is now). */
export async function insertVisibilityChanges(
  db: EntityManager,
  ids: string[],
  authorIds: string[],
  visibilities: string[],
  changedAts: (Date | null)[],
): Promise<void> {
  assertFactSession(db);
  await db.query(
    `INSERT INTO visibility_changes (item_id, author_id, visibility, changed_at)
       SELECT item_id, author_id, visibility, least(coalesce(changed_at, now()), now())
       FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::timestamptz[]) AS t(item_id, author_id, visibility, changed_at)`,
    [ids, authorIds, visibilities, changedAts],
  );
}

/**
 * Marks items deleted; an item already deleted keeps its first deletion. The trigger on content_items stamps when the
 * deletion became known (and keeps its instant no later than that).
 */
export async function markDeleted(db: EntityManager, ids: string[], authorIds: string[], deletedAts: (Date | null)[]): Promise<void> {
  assertFactSession(db);
  await db.query(
    // The deletion instants are computed in a CTE: Citus takes no STABLE function inside COALESCE in the SET of an
    // UPDATE on a distributed table (and evaluates the CTE, now() included, on the coordinator).
    `WITH t AS MATERIALIZED (
         SELECT item_id, author_id, coalesce(deleted_at, now()) AS deleted_at
         FROM unnest($1::uuid[], $2::uuid[], $3::timestamptz[]) AS t(item_id, author_id, deleted_at))
       UPDATE content_items c SET deleted_at = t.deleted_at, deletion_recorded_at = now(), updated_at = now()
       FROM t
       WHERE c.id = t.item_id AND c.author_id = t.author_id AND c.deleted_at IS NULL`,
    [ids, authorIds, deletedAts],
  );
}

/** Removes the text of every item of an author (erasure); returns how many items. */
export async function eraseTextOf(db: EntityManager, authorId: string): Promise<number> {
  assertFactSession(db);
  const erased: { id: string }[] = await db.query(
    `UPDATE content_items SET text = NULL, updated_at = now() WHERE author_id = $1 RETURNING id`,
    [authorId],
  );
  return erased.length;
}
