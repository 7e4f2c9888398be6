import type { RequestContext } from '../../context';
import { DomainError, ErrorCode, Problems, shown } from '../../common/errors';
import { ISO_COUNTRIES } from '../../common/iso-countries';
import type { Connection } from '../../common/pagination';
import { isUuid } from '../../common/ids';
import { checkBatch, checkEmail, checkNotFuture, checkString, checkUnique, isCalendarDate, MAX_FREE_TEXT } from '../../common/validate';
import type { MutationOutcome } from '../audit';
import { ErasureRequestInput, ErasureRequestPayload, UserFilter, UserRow, UsersIngestInput, UsersIngestPayload } from './user.types';
import {
  eraseUser,
  insertNewUsers,
  lockExistingUsers,
  lockUserForErasure,
  updateUsers,
  UserBatch,
  userIdsByExternal,
  userPage,
  usersByIds,
} from './user.store';

/**
 * What erasure needs of the content module, which owns content_items (createServices passes ContentService): declared
 * here so that the users module does not import the content module, which imports it (ContentItem.author).
 */
export interface AuthoredContent {
  /** Removes the text of every item of the person, inside the erasure's transaction; returns how many items. */
  eraseTextOf(ctx: RequestContext, authorId: string): Promise<number>;
}

/** People: ingest from the platform, reads, and erasure. */
export class UserService {
  constructor(private readonly content: AuthoredContent) {}

  /** Users by id, in the order asked (undefined for unknown ids). One statement whatever the count. */
  byIds(ctx: RequestContext, ids: readonly string[]): Promise<(UserRow | undefined)[]> {
    return usersByIds(ctx.manager, ids);
  }

  /** The ids of people by external id (unknown ones absent); one statement. */
  idsByExternal(ctx: RequestContext, externalIds: readonly string[]): Promise<Map<string, string>> {
    return userIdsByExternal(ctx.manager, externalIds);
  }

  async get(ctx: RequestContext, id: string): Promise<UserRow> {
    const user = await ctx.loaders.user.load(id);
    if (!user) throw new DomainError(ErrorCode.NOT_FOUND, `No user ${shown(id)}`, 'id');
    return user;
  }

  /** A keyset page of users ordered by id. */
  list(ctx: RequestContext, filter: UserFilter = {}, first?: number, after?: string): Promise<Connection<UserRow>> {
    return userPage(ctx.manager, filter, first, after);
  }

  /** Creates or updates users by externalId, all or nothing, in one set-based statement. */
  async ingest(ctx: RequestContext, input: UsersIngestInput): Promise<MutationOutcome<UsersIngestPayload>> {
    const rows = input.users;
    const problems = new Problems();
    checkBatch(problems, 'users', rows);
    rows.forEach((r, i) => {
      const f = `users[${i}]`;
      checkString(problems, `${f}.externalId`, r.externalId, { required: true, max: 200 });
      checkString(problems, `${f}.handle`, r.handle, { max: 200 });
      checkEmail(problems, `${f}.email`, r.email);
      if (!ISO_COUNTRIES.has(r.country)) problems.add(`${f}.country`, `country "${shown(r.country)}" is not an ISO 3166-1 alpha-2 code`);
      if (r.birthDate != null) {
        if (!isCalendarDate(r.birthDate)) problems.add(`${f}.birthDate`, 'birthDate is not a calendar date (YYYY-MM-DD)');
        else if (r.birthDate > ctx.now.toISOString().slice(0, 10)) problems.add(`${f}.birthDate`, 'birthDate is in the future');
        else if (r.birthDate < '1880-01-01') problems.add(`${f}.birthDate`, 'birthDate is before 1880');
      }
      checkNotFuture(problems, `${f}.deletedAt`, r.deletedAt, ctx.now);
    });
    checkUnique(problems, 'users', rows, (r) => r.externalId, 'externalId');
    problems.throwIfAny();

    // Written in external-id order, so that two batches sharing people lock them in the same order.
    const sorted = [...rows].sort((x, y) => (x.externalId < y.externalId ? -1 : x.externalId > y.externalId ? 1 : 0));
    const batch: UserBatch = {
      externalIds: sorted.map((r) => r.externalId),
      handles: sorted.map((r) => r.handle ?? null),
      emails: sorted.map((r) => r.email ?? null),
      birthDates: sorted.map((r) => r.birthDate ?? null),
      countries: sorted.map((r) => r.country),
      deletedAts: sorted.map((r) => r.deletedAt ?? null),
    };
    // The people who exist already are locked before anyone is inserted (see insertNewUsers).
    const created = await insertNewUsers(ctx.manager, batch);
    const createdIds = new Set(created.map((c) => c.external_id));
    // Everyone else is locked (an erasure takes the same lock): an erasure either committed before, and is refused
    // here, or waits until this ingest has committed and then removes what it wrote.
    const existing = await lockExistingUsers(ctx.manager, batch.externalIds, [...createdIds]);
    const index = new Map(rows.map((r, i) => [r.externalId, i]));
    for (const e of existing.filter((x) => x.erased_at)) {
      problems.add(
        `users[${index.get(e.external_id)}].externalId`,
        `user "${e.external_id}" was erased and cannot be re-ingested`,
        ErrorCode.ALREADY_ERASED,
      );
    }
    problems.throwIfAny();
    if (existing.length)
      await updateUsers(
        ctx.manager,
        batch,
        existing.map((e) => e.id),
      );
    const written = [...created, ...existing];
    const idByExternal = new Map(written.map((w) => [w.external_id, w.id]));
    const ids = rows.map((r) => idByExternal.get(r.externalId)!);
    const users = (await this.byIds(ctx, ids)) as UserRow[];
    return { payload: { users, createdCount: created.length, updatedCount: existing.length, userErrors: [] }, targetIds: ids };
  }

  /**
   * Erases a person (GDPR Art. 17): PII and content text are removed; ids, country and content hashes stay so that
   * lineage and footprints still work. Their content is ineligible (AUTHOR_ERASED) from now on.
   */
  async erase(ctx: RequestContext, input: ErasureRequestInput): Promise<MutationOutcome<ErasureRequestPayload>> {
    const problems = new Problems();
    if (!isUuid(input.userId)) problems.add('userId', 'userId is not a valid id');
    checkString(problems, 'reason', input.reason, { required: true, max: MAX_FREE_TEXT });
    problems.throwIfAny();
    // The row lock orders the erasure against every ingest of this person and of their content (they lock it too).
    const user = await lockUserForErasure(ctx.manager, input.userId);
    if (!user) throw new DomainError(ErrorCode.NOT_FOUND, `No user ${shown(input.userId)}`, 'userId');
    if (user.erased_at) throw new DomainError(ErrorCode.ALREADY_ERASED, 'This person was already erased', 'userId');
    await eraseUser(ctx.manager, user.id, ctx.viewer!.subject, input.reason);
    const erasedContentCount = await this.content.eraseTextOf(ctx, user.id);
    ctx.loaders.user.clear(user.id);
    const [row] = await this.byIds(ctx, [user.id]);
    return { payload: { user: row, erasedContentCount, userErrors: [] }, targetIds: [user.id] };
  }
}
