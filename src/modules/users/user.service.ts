import type { RequestContext } from '../../context';
import { DomainError, ErrorCode, Problems, shown } from '../../common/errors';
import { ISO_COUNTRIES } from '../../common/iso-countries';
import { Connection, decodeCursor, lazyTotal, pageSize, toConnection } from '../../common/pagination';
import { inKeyOrder, isUuid } from '../../common/ids';
import { checkBatch, checkEmail, checkNotFuture, checkString, checkUnique, isCalendarDate, MAX_FREE_TEXT } from '../../common/validate';
import { sqlParams } from '../../common/sql';
import type { MutationOutcome } from '../audit/audited-mutation';
import { UserFilter, UserRow, UsersIngestInput, UsersIngestPayload } from './user.types';
import type { ErasureRequestInput, ErasureRequestPayload } from '../consent/consent.types';

export const USER_COLUMNS = `u.id, u.external_id AS "externalId", u.handle, u.email, u.birth_date AS "birthDate", u.country,
  u.erased_at AS "erasedAt", u.deleted_at AS "deletedAt", u.created_at AS "createdAt", u.updated_at AS "updatedAt"`;


/** People: ingest from the platform, reads, and erasure. */
export class UserService {
  /** Users by id, in the order asked (undefined for unknown ids). One statement whatever the count. */
  async byIds(ctx: RequestContext, ids: readonly string[]): Promise<(UserRow | undefined)[]> {
    const valid = ids.filter(isUuid);
    const rows: UserRow[] = valid.length ? await ctx.manager.query(`SELECT ${USER_COLUMNS} FROM users u WHERE u.id = ANY($1::uuid[])`, [valid]) : [];
    return inKeyOrder(ids, rows);
  }

  async get(ctx: RequestContext, id: string): Promise<UserRow> {
    const user = await ctx.loaders.user.load(id);
    if (!user) throw new DomainError(ErrorCode.NOT_FOUND, `No user ${shown(id)}`, 'id');
    return user;
  }

  /** A keyset page of users ordered by id. */
  async list(ctx: RequestContext, filter: UserFilter = {}, first?: number, after?: string): Promise<Connection<UserRow>> {
    const limit = pageSize(first);
    const cursor = decodeCursor(after, ['uuid']);
    const { params, p } = sqlParams();
    const where: string[] = [];
    if (filter.country) where.push(`u.country = ${p(filter.country)}`);
    if (filter.externalId) where.push(`u.external_id = ${p(filter.externalId)}`);
    if (filter.erased != null) where.push(filter.erased ? `u.erased_at IS NOT NULL` : `u.erased_at IS NULL`);
    const countWhere = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const countParams = [...params];
    if (cursor) where.push(`u.id > ${p(String(cursor[0]))}::uuid`);
    const rows: UserRow[] = await ctx.manager.query(
      `SELECT ${USER_COLUMNS} FROM users u ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY u.id LIMIT ${limit + 1}`,
      params,
    );
    const conn = toConnection(rows, limit, (r) => [r.id], (r) => r);
    return lazyTotal(conn, async () => (await ctx.manager.query(`SELECT count(*)::int AS n FROM users u ${countWhere}`, countParams))[0].n);
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
    const values = [sorted.map((r) => r.externalId), sorted.map((r) => r.handle ?? null), sorted.map((r) => r.email ?? null),
      sorted.map((r) => r.birthDate ?? null), sorted.map((r) => r.country), sorted.map((r) => r.deletedAt ?? null)];
    const given = `unnest($1::text[], $2::text[], $3::text[], $4::date[], $5::text[], $6::timestamptz[])
      AS t(external_id, handle, email, birth_date, country, deleted_at)`;
    // The people who exist already are locked before anyone is inserted. On Citus a row lock on the (reference) users
    // table locks its whole shard: two ingests that had both inserted before locking would wait for each other.
    await ctx.manager.query(`SELECT 1 FROM users WHERE external_id = ANY($1::text[]) ORDER BY external_id FOR UPDATE`, [values[0]]);
    const created: { id: string; external_id: string }[] = await ctx.manager.query(
      `INSERT INTO users (external_id, handle, email, birth_date, country, deleted_at) SELECT * FROM ${given}
       ON CONFLICT (external_id) DO NOTHING RETURNING id, external_id`,
      values,
    );
    const createdIds = new Set(created.map((c) => c.external_id));
    // Everyone else is locked (an erasure takes the same lock): an erasure either committed before, and is refused
    // here, or waits until this ingest has committed and then removes what it wrote.
    const existing: { id: string; external_id: string; erased_at: Date | null }[] = await ctx.manager.query(
      `SELECT id, external_id, erased_at FROM users WHERE external_id = ANY($1::text[]) AND NOT (external_id = ANY($2::text[])) ORDER BY id FOR UPDATE`,
      [values[0], [...createdIds]],
    );
    const index = new Map(rows.map((r, i) => [r.externalId, i]));
    for (const e of existing.filter((x) => x.erased_at)) {
      problems.add(`users[${index.get(e.external_id)}].externalId`, `user "${e.external_id}" was erased and cannot be re-ingested`, ErrorCode.ALREADY_ERASED);
    }
    problems.throwIfAny();
    if (existing.length) {
      const existingIds = existing.map((e) => e.id);
      // A correction keeps the version it replaces, with when it was recorded, so that it never rewrites what an
      // earlier build knew. The trigger on users stamps the new version's knowledge.
      await ctx.manager.query(
        `INSERT INTO user_attribute_history (user_id, birth_date, country, recorded_at, recorded_xid)
         SELECT u.id, u.birth_date, u.country, u.attributes_recorded_at, u.attributes_xid FROM users u JOIN ${given} ON t.external_id = u.external_id
         WHERE u.id = ANY($7::uuid[]) AND (u.birth_date IS DISTINCT FROM t.birth_date OR u.country IS DISTINCT FROM t.country)`,
        [...values, existingIds],
      );
      await ctx.manager.query(
        `UPDATE users u SET handle = t.handle, email = t.email, birth_date = t.birth_date, country = t.country,
           deleted_at = coalesce(u.deleted_at, t.deleted_at), updated_at = now()
         FROM ${given} WHERE t.external_id = u.external_id AND u.id = ANY($7::uuid[]) AND u.erased_at IS NULL`,
        [...values, existingIds],
      );
    }
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
    const [user] = await ctx.manager.query(`SELECT id, erased_at FROM users WHERE id = $1 FOR UPDATE`, [input.userId]);
    if (!user) throw new DomainError(ErrorCode.NOT_FOUND, `No user ${shown(input.userId)}`, 'userId');
    if (user.erased_at) throw new DomainError(ErrorCode.ALREADY_ERASED, 'This person was already erased', 'userId');
    await ctx.manager.query(
      `UPDATE users SET email = NULL, handle = NULL, birth_date = NULL, erased_at = now(), erased_by = $2, erasure_reason = $3, updated_at = now() WHERE id = $1`,
      [user.id, ctx.viewer!.subject, input.reason],
    );
    await ctx.manager.query(`UPDATE user_attribute_history SET birth_date = NULL WHERE user_id = $1`, [user.id]);
    const erased: { id: string }[] = await ctx.manager.query(
      `UPDATE content_items SET text = NULL, updated_at = now() WHERE author_id = $1 RETURNING id`,
      [user.id],
    );
    ctx.loaders.user.clear(user.id);
    const [row] = await this.byIds(ctx, [user.id]);
    return { payload: { user: row, erasedContentCount: erased.length, userErrors: [] }, targetIds: [user.id] };
  }
}
