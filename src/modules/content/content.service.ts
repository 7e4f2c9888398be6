import type { RequestContext } from '../../context';
import { forbidden, hasRole, Role } from '../../common/auth';
import { ErrorCode, Problems, shown } from '../../common/errors';
import type { Connection } from '../../common/pagination';
import { checkBatch, checkLanguages, checkNotFuture, checkString, checkUnique, LANGUAGE, MAX_TEXT } from '../../common/validate';
import type { MutationOutcome } from '../audit';
import { isUuid } from '../../common/ids';
import {
  ContentChangePayload,
  ContentDeleteInput,
  ContentFilter,
  ContentIngestInput,
  ContentIngestPayload,
  ContentRow,
  ContentVisibilityChangeInput,
  VisibilityChange,
} from './content.types';
import {
  contentByIds,
  contentPage,
  countByAuthors,
  currentVisibility,
  eraseTextOf,
  existingItems,
  insertVisibilityChanges,
  itemsByExternal,
  lockAuthors,
  lockContentIdentity,
  markDeleted,
  upsertContent,
  visibilityHistory,
} from './content.store';

const LABEL = /^[A-Z0-9_]{1,64}$/;

/** Refuses a content filter a client sent that no item could match for being malformed (BAD_USER_INPUT on `filter.…`). */
export function checkContentFilter(filter: ContentFilter | undefined, field = 'filter'): void {
  if (!filter) return;
  const problems = new Problems();
  if (filter.authorId && !isUuid(filter.authorId)) problems.add(`${field}.authorId`, 'authorId is not a valid id');
  checkLanguages(problems, `${field}.languages`, filter.languages);
  problems.throwIfAny();
}

/** Content items: ingest from the platform, visibility history, deletion, reads. */
export class ContentService {
  /**
   * The text a viewer may read of an item, whatever path reached it (the one text rule: ContentItem.text routes here):
   * PRIVACY_OFFICER always (null once erased); an ML_ENGINEER only while the item is eligible now under the default
   * policy's latest ENFORCE version (null otherwise), as the request's `eligibleNow` loader answers it (eligibleContent
   * primes that loader with the rows it found eligible now under that very version); any other role is refused.
   */
  async textFor(ctx: RequestContext, item: ContentRow): Promise<string | null> {
    if (hasRole(ctx.viewer, Role.PRIVACY_OFFICER)) return item.text;
    if (!hasRole(ctx.viewer, Role.ML_ENGINEER)) throw forbidden('ContentItem.text: PRIVACY_OFFICER or ML_ENGINEER (eligible items) only');
    return (await ctx.loaders.eligibleNow.load(item.id)) ? item.text : null;
  }

  /** Items by id in the order asked; one statement whatever the count. */
  byIds(ctx: RequestContext, ids: readonly string[]): Promise<(ContentRow | undefined)[]> {
    return contentByIds(ctx.manager, ids);
  }

  /** A keyset page of items ordered by id. */
  list(ctx: RequestContext, filter: ContentFilter | undefined, first?: number, after?: string): Promise<Connection<ContentRow>> {
    checkContentFilter(filter);
    return contentPage(ctx.manager, filter, first, after);
  }

  /** Current visibility of many items (latest change at or before now); one statement. */
  currentVisibility(ctx: RequestContext, ids: readonly string[]): Promise<(string | null)[]> {
    return currentVisibility(ctx.manager, ids);
  }

  /** Visibility histories of many items, oldest first; one statement. */
  visibilityHistory(ctx: RequestContext, ids: readonly string[]): Promise<VisibilityChange[][]> {
    return visibilityHistory(ctx.manager, ids);
  }

  /** Item counts per author; one statement. */
  countByAuthors(ctx: RequestContext, authorIds: readonly string[]): Promise<number[]> {
    return countByAuthors(ctx.manager, authorIds);
  }

  /** Removes the text of every item of a person being erased (inside the erasure's transaction); returns how many items. */
  eraseTextOf(ctx: RequestContext, authorId: string): Promise<number> {
    return eraseTextOf(ctx.manager, authorId);
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
      checkString(problems, `${f}.language`, r.language, {
        required: true,
        max: 3,
        pattern: LANGUAGE,
        what: 'an ISO 639 code in lower case',
      });
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
    // The authors are locked against erasure until this ingest commits (see lockAuthors).
    const authors = await lockAuthors(ctx.manager, [...new Set(rows.map((r) => r.authorExternalId))]);
    const authorByExternal = new Map(authors.map((a) => [a.external_id, a]));
    const existing = await existingItems(
      ctx.manager,
      rows.map((r) => r.externalId),
    );
    const existingByExternal = new Map(existing.map((e) => [e.external_id, e]));
    rows.forEach((r, i) => {
      const author = authorByExternal.get(r.authorExternalId);
      if (!author) problems.add(`items[${i}].authorExternalId`, `no user "${shown(r.authorExternalId)}"`, ErrorCode.NOT_FOUND);
      else if (author.erased_at)
        problems.add(`items[${i}].authorExternalId`, `user "${r.authorExternalId}" was erased`, ErrorCode.ALREADY_ERASED);
      const old = existingByExternal.get(r.externalId);
      if (old && author && (old.author_id !== author.id || old.platform !== r.platform || old.kind !== r.kind)) {
        problems.add(`items[${i}].externalId`, `item "${r.externalId}" exists with another author, platform or kind`, ErrorCode.CONFLICT);
      }
    });
    problems.throwIfAny();

    const written = await upsertContent(ctx.manager, {
      externalIds: rows.map((r) => r.externalId),
      authorIds: rows.map((r) => authorByExternal.get(r.authorExternalId)!.id),
      platforms: rows.map((r) => r.platform),
      kinds: rows.map((r) => r.kind),
      texts: rows.map((r) => r.text),
      languages: rows.map((r) => r.language),
      createdAts: rows.map((r) => r.createdAt),
      labels: rows.map((r) => JSON.stringify([...new Set(r.labels)])),
      visibilities: rows.map((r) => r.visibility),
    });
    const idByExternal = new Map(written.map((w) => [w.external_id, w.id]));
    const ids = rows.map((r) => idByExternal.get(r.externalId)!);
    const items = (await this.byIds(ctx, ids)) as ContentRow[];
    const createdCount = written.filter((w) => w.created).length;
    return { payload: { items, createdCount, updatedCount: written.length - createdCount, userErrors: [] }, targetIds: ids };
  }

  /** Resolves externalIds of items to rows, reporting unknown ones on `listField[i].externalId`. */
  private async resolveItems(ctx: RequestContext, problems: Problems, listField: string, externalIds: string[]) {
    const found = await itemsByExternal(ctx.manager, externalIds);
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
    const items = await this.resolveItems(
      ctx,
      problems,
      'changes',
      rows.map((r) => r.externalId),
    );
    rows.forEach((r, i) => {
      const item = items.get(r.externalId);
      if (item && r.changedAt && r.changedAt < item.created_at)
        problems.add(`changes[${i}].changedAt`, 'changedAt is before the item was created');
    });
    problems.throwIfAny();
    const ids = rows.map((r) => items.get(r.externalId)!.id);
    await insertVisibilityChanges(
      ctx.manager,
      ids,
      rows.map((r) => items.get(r.externalId)!.author_id),
      rows.map((r) => r.visibility),
      rows.map((r) => r.changedAt ?? null),
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
    const items = await this.resolveItems(
      ctx,
      problems,
      'items',
      rows.map((r) => r.externalId),
    );
    problems.throwIfAny();
    const ids = rows.map((r) => items.get(r.externalId)!.id);
    await markDeleted(
      ctx.manager,
      ids,
      rows.map((r) => items.get(r.externalId)!.author_id),
      rows.map((r) => r.deletedAt ?? null),
    );
    return { payload: { items: (await this.byIds(ctx, ids)) as ContentRow[], userErrors: [] }, targetIds: ids };
  }
}
