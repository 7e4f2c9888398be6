import type { RequestContext } from '../../context';
import { DomainError, ErrorCode, Problems } from '../../common/errors';
import { ISO_COUNTRIES } from '../../common/iso-countries';
import { Connection, decodeCursor, lazyTotal, pageSize, toConnection } from '../../common/pagination';
import { inKeyOrder, isUuid } from '../../common/ids';
import { checkBatch, checkEmail, checkNotFuture, checkString, checkUnique, isCalendarDate } from '../../common/validate';
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
    if (!user) throw new DomainError(ErrorCode.NOT_FOUND, `No user ${id}`, 'id');
    return user;
  }

  /** A keyset page of users ordered by id. */
  async list(ctx: RequestContext, filter: UserFilter = {}, first?: number, after?: string): Promise<Connection<UserRow>> {
    const limit = pageSize(first);
    const cursor = decodeCursor(after, 1);
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
      if (!ISO_COUNTRIES.has(r.country)) problems.add(`${f}.country`, `country "${r.country}" is not an ISO 3166-1 alpha-2 code`);
      if (r.birthDate != null) {
        if (!isCalendarDate(r.birthDate)) problems.add(`${f}.birthDate`, 'birthDate is not a calendar date (YYYY-MM-DD)');
        else if (r.birthDate > ctx.now.toISOString().slice(0, 10)) problems.add(`${f}.birthDate`, 'birthDate is in the future');
        else if (r.birthDate < '1880-01-01') problems.add(`${f}.birthDate`, 'birthDate is before 1880');
      }
      checkNotFuture(problems, `${f}.deletedAt`, r.deletedAt, ctx.now);
    });
    checkUnique(problems, 'users', rows, (r) => r.externalId, 'externalId');
    problems.throwIfAny();

    const externalIds = rows.map((r) => r.externalId);
    const erased: { external_id: string }[] = await ctx.manager.query(
      `SELECT external_id FROM users WHERE external_id = ANY($1::text[]) AND erased_at IS NOT NULL`,
      [externalIds],
    );
    if (erased.length) {
      const index = new Map(externalIds.map((id, i) => [id, i]));
      for (const e of erased) problems.add(`users[${index.get(e.external_id)}].externalId`, `user "${e.external_id}" was erased and cannot be re-ingested`, ErrorCode.ALREADY_ERASED);
      problems.throwIfAny();
    }
    await ctx.services.eligibility.recordingFacts(ctx);
    const written: { id: string; external_id: string; created: boolean }[] = await ctx.manager.query(
      `INSERT INTO users (external_id, handle, email, birth_date, country, deleted_at)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::date[], $5::text[], $6::timestamptz[])
       ON CONFLICT (external_id) DO UPDATE SET
         handle = EXCLUDED.handle, email = EXCLUDED.email, birth_date = EXCLUDED.birth_date, country = EXCLUDED.country,
         deleted_at = coalesce(users.deleted_at, EXCLUDED.deleted_at), updated_at = now()
       RETURNING id, external_id, (xmax = 0) AS created`,
      [externalIds, rows.map((r) => r.handle ?? null), rows.map((r) => r.email ?? null), rows.map((r) => r.birthDate ?? null),
        rows.map((r) => r.country), rows.map((r) => r.deletedAt ?? null)],
    );
    const idByExternal = new Map(written.map((w) => [w.external_id, w.id]));
    const ids = externalIds.map((e) => idByExternal.get(e)!);
    const users = (await this.byIds(ctx, ids)) as UserRow[];
    const createdCount = written.filter((w) => w.created).length;
    return { payload: { users, createdCount, updatedCount: written.length - createdCount, userErrors: [] }, targetIds: ids };
  }

  /**
   * Erases a person (GDPR Art. 17): PII and content text are removed; ids, country and content hashes stay so that
   * lineage and footprints still work. Their content is ineligible (AUTHOR_ERASED) from now on.
   */
  async erase(ctx: RequestContext, input: ErasureRequestInput): Promise<MutationOutcome<ErasureRequestPayload>> {
    const problems = new Problems();
    if (!isUuid(input.userId)) problems.add('userId', 'userId is not a valid id');
    checkString(problems, 'reason', input.reason, { required: true, max: 2000 });
    problems.throwIfAny();
    await ctx.services.eligibility.recordingFacts(ctx);
    const [user] = await ctx.manager.query(`SELECT id, erased_at FROM users WHERE id = $1 FOR UPDATE`, [input.userId]);
    if (!user) throw new DomainError(ErrorCode.NOT_FOUND, `No user ${input.userId}`, 'userId');
    if (user.erased_at) throw new DomainError(ErrorCode.ALREADY_ERASED, 'This person was already erased', 'userId');
    await ctx.manager.query(
      `UPDATE users SET email = NULL, handle = NULL, birth_date = NULL, erased_at = now(), erased_by = $2, erasure_reason = $3, updated_at = now() WHERE id = $1`,
      [user.id, ctx.viewer!.subject, input.reason],
    );
    const erased: { id: string }[] = await ctx.manager.query(
      `UPDATE content_items SET text = NULL, updated_at = now() WHERE author_id = $1 RETURNING id`,
      [user.id],
    );
    ctx.loaders.user.clear(user.id);
    const [row] = await this.byIds(ctx, [user.id]);
    return { payload: { user: row, erasedContentCount: erased.length, userErrors: [] }, targetIds: [user.id] };
  }
}
