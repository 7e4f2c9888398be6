import type { EntityManager } from 'typeorm';
import { assertFactSession } from '../../db/citus';
import { inKeyOrder, isUuid } from '../../common/ids';
import type { Connection } from '../../common/pagination';
import { sqlParams } from '../../db/sql';
import { byId, keysetPage } from '../../db/keyset';
import { UserFilter, UserRow } from './user.types';

/** The users table: people of the platform, their attribute history, and erasure. Its only writer. */

export const USER_COLUMNS = `u.id, u.external_id AS "externalId", u.handle, u.email, u.birth_date AS "birthDate", u.country,
  u.erased_at AS "erasedAt", u.deleted_at AS "deletedAt", u.created_at AS "createdAt", u.updated_at AS "updatedAt"`;

/** Users by id, in the order asked (undefined for unknown ids). One statement whatever the count. */
export async function usersByIds(db: EntityManager, ids: readonly string[]): Promise<(UserRow | undefined)[]> {
  const valid = ids.filter(isUuid);
  const rows: UserRow[] = valid.length ? await db.query(`SELECT ${USER_COLUMNS} FROM users u WHERE u.id = ANY($1::uuid[])`, [valid]) : [];
  return inKeyOrder(ids, rows);
}

/** The ids of people by external id (unknown ones absent). */
export async function userIdsByExternal(db: EntityManager, externalIds: readonly string[]): Promise<Map<string, string>> {
  const users: { external_id: string; id: string }[] = await db.query(
    `SELECT external_id, id FROM users WHERE external_id = ANY($1::text[])`,
    [[...new Set(externalIds)]],
  );
  return new Map(users.map((u) => [u.external_id, u.id]));
}

/** A keyset page of users ordered by id. */
export function userPage(db: EntityManager, filter: UserFilter, first?: number, after?: string): Promise<Connection<UserRow>> {
  const { params, p } = sqlParams();
  const where: string[] = [];
  if (filter.country) where.push(`u.country = ${p(filter.country)}`);
  if (filter.externalId) where.push(`u.external_id = ${p(filter.externalId)}`);
  if (filter.erased != null) where.push(filter.erased ? `u.erased_at IS NOT NULL` : `u.erased_at IS NULL`);
  return keysetPage<UserRow>(db, {
    select: `SELECT ${USER_COLUMNS} FROM users u`,
    count: `SELECT count(*)::int AS n FROM users u`,
    where,
    params,
    bind: p,
    key: byId('u.id'),
    first,
    after,
  });
}

/** The rows of an ingest batch, as arrays in external-id order. */
export interface UserBatch {
  externalIds: string[];
  handles: (string | null)[];
  emails: (string | null)[];
  birthDates: (string | null)[];
  countries: string[];
  deletedAts: (Date | null)[];
}
const values = (b: UserBatch) => [b.externalIds, b.handles, b.emails, b.birthDates, b.countries, b.deletedAts];
const GIVEN = `unnest($1::text[], $2::text[], $3::text[], $4::date[], $5::text[], $6::timestamptz[])
      AS t(external_id, handle, email, birth_date, country, deleted_at)`;

/**
 * Inserts the people of a batch who are new, having first locked those who exist already (in external-id order). On
 * Citus a row lock on the (reference) users table locks its whole shard: two ingests that had both inserted before
 * locking would wait for each other. Returns the people created.
 */
export async function insertNewUsers(db: EntityManager, batch: UserBatch): Promise<{ id: string; external_id: string }[]> {
  assertFactSession(db);
  await db.query(`SELECT 1 FROM users WHERE external_id = ANY($1::text[]) ORDER BY external_id FOR UPDATE`, [batch.externalIds]);
  return db.query(
    `INSERT INTO users (external_id, handle, email, birth_date, country, deleted_at) SELECT * FROM ${GIVEN}
       ON CONFLICT (external_id) DO NOTHING RETURNING id, external_id`,
    values(batch),
  );
}

/** Locks the people of a batch who were not just created (an erasure takes the same lock), with their erasure. */
export function lockExistingUsers(
  db: EntityManager,
  externalIds: string[],
  created: string[],
): Promise<{ id: string; external_id: string; erased_at: Date | null }[]> {
  return db.query(
    `SELECT id, external_id, erased_at FROM users WHERE external_id = ANY($1::text[]) AND NOT (external_id = ANY($2::text[])) ORDER BY id FOR UPDATE`,
    [externalIds, created],
  );
}

/**
 * Updates existing people from a batch. A correction keeps the version it replaces, with when it was recorded, so that
 * it never rewrites what an earlier build knew; the trigger on users stamps the new version's knowledge.
 */
export async function updateUsers(db: EntityManager, batch: UserBatch, ids: string[]): Promise<void> {
  assertFactSession(db);
  await db.query(
    `INSERT INTO user_attribute_history (user_id, birth_date, country, recorded_at, recorded_xid)
         SELECT u.id, u.birth_date, u.country, u.attributes_recorded_at, u.attributes_xid FROM users u JOIN ${GIVEN} ON t.external_id = u.external_id
         WHERE u.id = ANY($7::uuid[]) AND (u.birth_date IS DISTINCT FROM t.birth_date OR u.country IS DISTINCT FROM t.country)`,
    [...values(batch), ids],
  );
  await db.query(
    `UPDATE users u SET handle = t.handle, email = t.email, birth_date = t.birth_date, country = t.country,
           deleted_at = coalesce(u.deleted_at, t.deleted_at), updated_at = now()
         FROM ${GIVEN} WHERE t.external_id = u.external_id AND u.id = ANY($7::uuid[]) AND u.erased_at IS NULL`,
    [...values(batch), ids],
  );
}

/** Locks a person for erasure (every ingest of them and of their content locks them too). */
export async function lockUserForErasure(db: EntityManager, id: string): Promise<{ id: string; erased_at: Date | null } | undefined> {
  const [user] = await db.query(`SELECT id, erased_at FROM users WHERE id = $1 FOR UPDATE`, [id]);
  return user;
}

/** Removes a person's PII (ids and country stay), recording who erased them and why. */
export async function eraseUser(db: EntityManager, id: string, erasedBy: string, reason: string): Promise<void> {
  assertFactSession(db);
  await db.query(
    `UPDATE users SET email = NULL, handle = NULL, birth_date = NULL, erased_at = now(), erased_by = $2, erasure_reason = $3, updated_at = now() WHERE id = $1`,
    [id, erasedBy, reason],
  );
  await db.query(`UPDATE user_attribute_history SET birth_date = NULL WHERE user_id = $1`, [id]);
}
