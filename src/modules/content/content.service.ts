import type { EntityManager } from 'typeorm';
import type { RequestContext } from '../../context';
import { forbidden, hasRole, Role } from '../../common/auth';
import { DomainError, ErrorCode, Problems, shown } from '../../common/errors';
import { Connection, decodeCursor, lazyTotal, pageSize, toConnection } from '../../common/pagination';
import { checkBatch, checkLanguages, checkNotFuture, checkString, checkUnique, LANGUAGE, MAX_TEXT } from '../../common/validate';
import type { MutationOutcome } from '../audit/audited-mutation';
import { inKeyOrder, isUuid } from '../../common/ids';
import { lockForTransaction, sqlParams } from '../../common/sql';
import {
  ContentChangePayload, ContentDeleteInput, ContentFilter, ContentIngestInput, ContentIngestPayload, ContentRow,
  ContentVisibilityChangeInput, VisibilityChange,
} from './content.types';

export const CONTENT_COLUMNS = `c.id, c.external_id AS "externalId", c.author_id AS "authorId", c.platform, c.kind, c.text, c.language,
  c.content_hash AS "contentHash", c.created_at AS "createdAt", c.labels, c.deleted_at AS "deletedAt"`;

const LABEL = /^[A-Z0-9_]{1,64}$/;

/** Refuses a content filter a client sent that no item could match for being malformed (BAD_USER_INPUT on `filter.…`). */
export function checkContentFilter(filter: ContentFilter | undefined, field = 'filter'): void {
  if (!filter) return;
  const problems = new Problems();
  if (filter.authorId && !isUuid(filter.authorId)) problems.add(`${field}.authorId`, 'authorId is not a valid id');
  checkLanguages(problems, `${field}.languages`, filter.languages);
  problems.throwIfAny();
}

/**
 * Builds the WHERE clauses of a content filter over alias `c`; `p` binds a parameter. A client's filter is checked
 * first (checkContentFilter); `checked` skips that for filters the service stored itself (a dataset's spec).
 */
export function contentFilterSql(filter: ContentFilter | undefined, p: (v: unknown) => string, checked = false): string[] {
  const where: string[] = [];
  if (!filter) return where;
  if (!checked) checkContentFilter(filter);
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
export async function lockContentIdentity(manager: EntityManager): Promise<void> {
  await lockForTransaction(manager, 'content-identity');
}

/** Content items: ingest from the platform, visibility history, deletion, reads. */
export class ContentService {
  /**
   * The text a viewer may read of an item, whatever path reached it: PRIVACY_OFFICER always (null once erased); an
   * ML_ENGINEER only while the item is eligible now under the default policy's latest ENFORCE version (null otherwise;
   * rows that eligibleContent returns are known eligible, `textCleared`); any other role is refused.
   */
  async textFor(ctx: RequestContext, item: ContentRow): Promise<string | null> {
    if (hasRole(ctx.viewer, Role.PRIVACY_OFFICER)) return item.text;
    if (!hasRole(ctx.viewer, Role.ML_ENGINEER)) throw forbidden('ContentItem.text: PRIVACY_OFFICER or ML_ENGINEER (eligible items) only');
    if (item.textCleared) return item.text;
    return (await ctx.loaders.eligibleNow.load(item.id)) ? item.text : null;
  }

  /** Items by id in the order asked; one statement whatever the count. */
  async byIds(ctx: RequestContext, ids: readonly string[]): Promise<(ContentRow | undefined)[]> {
    const valid = ids.filter(isUuid);
    const rows: ContentRow[] = valid.length ? await ctx.manager.query(`SELECT ${CONTENT_COLUMNS} FROM content_items c WHERE c.id = ANY($1::uuid[])`, [valid]) : [];
    return inKeyOrder(ids, rows);
  }

  /** A keyset page of items ordered by id. */
  async list(ctx: RequestContext, filter: ContentFilter | undefined, first?: number, after?: string): Promise<Connection<ContentRow>> {
    const limit = pageSize(first);
    const cursor = decodeCursor(after, ['uuid']);
    const { params, p } = sqlParams();
    const where = contentFilterSql(filter, p);
    const countWhere = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const countParams = [...params];
    if (cursor) where.push(`c.id > ${p(String(cursor[0]))}::uuid`);
    const rows: ContentRow[] = await ctx.manager.query(
      `SELECT ${CONTENT_COLUMNS} FROM content_items c ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY c.id LIMIT ${limit + 1}`,
      params,
    );
    const conn = toConnection(rows, limit, (r) => [r.id], (r) => r);
    return lazyTotal(conn, async () => (await ctx.manager.query(`SELECT count(*)::int AS n FROM content_items c ${countWhere}`, countParams))[0].n);
  }

  /** Current visibility of many items (latest change at or before now); one statement. */
  async currentVisibility(ctx: RequestContext, ids: readonly string[]): Promise<(string | null)[]> {
    const rows: { item_id: string; visibility: string }[] = await ctx.manager.query(
      `SELECT DISTINCT ON (item_id) item_id, visibility FROM visibility_changes
       WHERE item_id = ANY($1::uuid[]) AND changed_at <= now() ORDER BY item_id, changed_at DESC, id DESC`,
      [ids.filter(isUuid)],
    );
    const byId = new Map(rows.map((r) => [r.item_id, r.visibility]));
    return ids.map((id) => byId.get(id) ?? null);
  }

  /** Visibility histories of many items, oldest first; one statement. */
  async visibilityHistory(ctx: RequestContext, ids: readonly string[]): Promise<VisibilityChange[][]> {
    const rows: (VisibilityChange & { itemId: string })[] = await ctx.manager.query(
      `SELECT item_id AS "itemId", visibility, changed_at AS "changedAt", recorded_at AS "recordedAt" FROM visibility_changes
       WHERE item_id = ANY($1::uuid[]) ORDER BY item_id, changed_at, id`,
      [ids.filter(isUuid)],
    );
    const byId = new Map<string, VisibilityChange[]>();
    for (const r of rows) {
      const list = byId.get(r.itemId) ?? [];
      list.push(r);
      byId.set(r.itemId, list);
    }
    return ids.map((id) => byId.get(id) ?? []);
  }

  /** Item counts per author; one statement. */
  async countByAuthors(ctx: RequestContext, authorIds: readonly string[]): Promise<number[]> {
    const rows: { author_id: string; n: number }[] = await ctx.manager.query(
      `SELECT author_id, count(*)::int AS n FROM content_items WHERE author_id = ANY($1::uuid[]) GROUP BY author_id`,
      [authorIds.filter(isUuid)],
    );
    const byId = new Map(rows.map((r) => [r.author_id, r.n]));
    return authorIds.map((id) => byId.get(id) ?? 0);
  }

  /** Creates or updates items by externalId, all or nothing: one statement writes the items and their first visibility. */
  async ingest(ctx: RequestContext, input: ContentIngestInput): Promise<MutationOutcome<ContentIngestPayload>> {
    const rows = input.items;
    const problems = new Problems();
    checkBatch(problems, 'items', rows);
    rows.forEach((r, i) => {
      const f = `items[${i}]`;
      checkString(problems, `${f}.externalId`, r.externalId, { required: true, max: 200 });
      checkString(problems, `${f}.authorExternalId`, r.authorExternalId, { required: true, max: 200 });
      if (r.text == null) problems.add(`${f}.text`, 'text is required');
      else if (r.text.length > MAX_TEXT) problems.add(`${f}.text`, `text is longer than ${MAX_TEXT} characters`);
      checkString(problems, `${f}.language`, r.language, { required: true, max: 3, pattern: LANGUAGE, what: 'an ISO 639 code in lower case' });
      checkNotFuture(problems, `${f}.createdAt`, r.createdAt, ctx.now);
      r.labels.forEach((l, j) => {
        if (!LABEL.test(l)) problems.add(`${f}.labels[${j}]`, 'labels are UPPER_SNAKE_CASE, at most 64 characters');
      });
    });
    checkUnique(problems, 'items', rows, (r) => r.externalId, 'externalId');
    problems.throwIfAny();

    // The identity lock comes first: on Citus a row lock on the (reference) users table locks its whole shard, and two
    // ingests holding their authors FOR SHARE while waiting for each other's identity lock would deadlock.
    await lockContentIdentity(ctx.manager);
    // The authors are locked against erasure (which locks them exclusively) until this ingest commits: an erasure
    // either committed before, and is refused here, or waits and then removes the text written here.
    const authors: { id: string; external_id: string; erased_at: Date | null }[] = await ctx.manager.query(
      `SELECT id, external_id, erased_at FROM users WHERE external_id = ANY($1::text[]) ORDER BY id FOR SHARE`,
      [[...new Set(rows.map((r) => r.authorExternalId))]],
    );
    const authorByExternal = new Map(authors.map((a) => [a.external_id, a]));
    const existing: { external_id: string; author_id: string; platform: string; kind: string }[] = await ctx.manager.query(
      `SELECT external_id, author_id, platform, kind FROM content_items WHERE external_id = ANY($1::text[])`,
      [rows.map((r) => r.externalId)],
    );
    const existingByExternal = new Map(existing.map((e) => [e.external_id, e]));
    rows.forEach((r, i) => {
      const author = authorByExternal.get(r.authorExternalId);
      if (!author) problems.add(`items[${i}].authorExternalId`, `no user "${shown(r.authorExternalId)}"`, ErrorCode.NOT_FOUND);
      else if (author.erased_at) problems.add(`items[${i}].authorExternalId`, `user "${r.authorExternalId}" was erased`, ErrorCode.ALREADY_ERASED);
      const old = existingByExternal.get(r.externalId);
      if (old && author && (old.author_id !== author.id || old.platform !== r.platform || old.kind !== r.kind)) {
        problems.add(`items[${i}].externalId`, `item "${r.externalId}" exists with another author, platform or kind`, ErrorCode.CONFLICT);
      }
    });
    problems.throwIfAny();

    const written: { id: string; external_id: string; created: boolean }[] = await ctx.manager.query(
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
      [rows.map((r) => r.externalId), rows.map((r) => authorByExternal.get(r.authorExternalId)!.id), rows.map((r) => r.platform), rows.map((r) => r.kind),
        rows.map((r) => r.text), rows.map((r) => r.language), rows.map((r) => r.createdAt), rows.map((r) => JSON.stringify([...new Set(r.labels)])),
        rows.map((r) => r.visibility)],
    );
    const idByExternal = new Map(written.map((w) => [w.external_id, w.id]));
    const ids = rows.map((r) => idByExternal.get(r.externalId)!);
    const items = (await this.byIds(ctx, ids)) as ContentRow[];
    const createdCount = written.filter((w) => w.created).length;
    return { payload: { items, createdCount, updatedCount: written.length - createdCount, userErrors: [] }, targetIds: ids };
  }

  /** Resolves externalIds of items to rows, reporting unknown ones on `listField[i].externalId`. */
  private async resolveItems(ctx: RequestContext, problems: Problems, listField: string, externalIds: string[]) {
    const found: { id: string; external_id: string; author_id: string; created_at: Date }[] = await ctx.manager.query(
      `SELECT id, external_id, author_id, created_at FROM content_items WHERE external_id = ANY($1::text[])`,
      [externalIds],
    );
    const byExternal = new Map(found.map((f) => [f.external_id, f]));
    externalIds.forEach((e, i) => {
      if (!byExternal.has(e)) problems.add(`${listField}[${i}].externalId`, `no content item "${shown(e)}"`, ErrorCode.NOT_FOUND);
    });
    return byExternal;
  }

  /** Appends visibility changes, all or nothing. */
  async changeVisibility(ctx: RequestContext, input: ContentVisibilityChangeInput): Promise<MutationOutcome<ContentChangePayload>> {
    const rows = input.changes;
    const problems = new Problems();
    checkBatch(problems, 'changes', rows);
    rows.forEach((r, i) => checkNotFuture(problems, `changes[${i}].changedAt`, r.changedAt, ctx.now));
    problems.throwIfAny();
    const items = await this.resolveItems(ctx, problems, 'changes', rows.map((r) => r.externalId));
    rows.forEach((r, i) => {
      const item = items.get(r.externalId);
      if (item && r.changedAt && r.changedAt < item.created_at) problems.add(`changes[${i}].changedAt`, 'changedAt is before the item was created');
    });
    problems.throwIfAny();
    const ids = rows.map((r) => items.get(r.externalId)!.id);
    await ctx.manager.query(
      `INSERT INTO visibility_changes (item_id, author_id, visibility, changed_at)
       SELECT item_id, author_id, visibility, least(coalesce(changed_at, now()), now())
       FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::timestamptz[]) AS t(item_id, author_id, visibility, changed_at)`,
      [ids, rows.map((r) => items.get(r.externalId)!.author_id), rows.map((r) => r.visibility), rows.map((r) => r.changedAt ?? null)],
    );
    return { payload: { items: (await this.byIds(ctx, ids)) as ContentRow[], userErrors: [] }, targetIds: ids };
  }

  /** Marks items deleted, all or nothing; an item already deleted keeps its first deletion. */
  async delete(ctx: RequestContext, input: ContentDeleteInput): Promise<MutationOutcome<ContentChangePayload>> {
    const rows = input.items;
    const problems = new Problems();
    checkBatch(problems, 'items', rows);
    rows.forEach((r, i) => checkNotFuture(problems, `items[${i}].deletedAt`, r.deletedAt, ctx.now));
    checkUnique(problems, 'items', rows, (r) => r.externalId, 'externalId');
    problems.throwIfAny();
    const items = await this.resolveItems(ctx, problems, 'items', rows.map((r) => r.externalId));
    problems.throwIfAny();
    const ids = rows.map((r) => items.get(r.externalId)!.id);
    // The trigger on content_items stamps when the deletion became known (and keeps its instant no later than that).
    await ctx.manager.query(
      // The deletion instants are computed in a CTE: Citus takes no STABLE function inside COALESCE in the SET of an
      // UPDATE on a distributed table (and evaluates the CTE, now() included, on the coordinator).
      `WITH t AS MATERIALIZED (
         SELECT item_id, author_id, coalesce(deleted_at, now()) AS deleted_at
         FROM unnest($1::uuid[], $2::uuid[], $3::timestamptz[]) AS t(item_id, author_id, deleted_at))
       UPDATE content_items c SET deleted_at = t.deleted_at, deletion_recorded_at = now(), updated_at = now()
       FROM t
       WHERE c.id = t.item_id AND c.author_id = t.author_id AND c.deleted_at IS NULL`,
      [ids, rows.map((r) => items.get(r.externalId)!.author_id), rows.map((r) => r.deletedAt ?? null)],
    );
    return { payload: { items: (await this.byIds(ctx, ids)) as ContentRow[], userErrors: [] }, targetIds: ids };
  }
}
