import type { EntityManager } from 'typeorm';
import { inKeyOrder, isUuid } from '../../common/ids';
import { LOCK_NAMES } from '../../db/locks';
import { lockForTransaction } from '../../db/sql';
import { Policy, PolicyValues } from './policy.types';

/** The policies table: immutable versions, its only writer. */

const COLUMNS = `id, key, version, purpose, legal_basis AS "legalBasis", description, minimum_age AS "minimumAge", regions, platforms, kinds,
  window_start AS "windowStart", window_end AS "windowEnd", excluded_labels AS "excludedLabels", mode, created_at AS "createdAt", created_by AS "createdBy"`;
/** The latest version of a key ($1), whatever its mode. */
export const LATEST_POLICY_SQL = `SELECT ${COLUMNS} FROM policies WHERE key = $1 ORDER BY version DESC LIMIT 1`;

/** A version of a key, or its latest version (undefined when there is none). */
export async function policyVersion(db: EntityManager, key: string, version?: number | null): Promise<Policy | undefined> {
  const rows: Policy[] = version
    ? await db.query(`SELECT ${COLUMNS} FROM policies WHERE key = $1 AND version = $2`, [key, version])
    : await db.query(LATEST_POLICY_SQL, [key]);
  return rows[0];
}

/** The latest ENFORCE version of a key (undefined when it has none). */
export async function latestEnforcedPolicy(db: EntityManager, key: string): Promise<Policy | undefined> {
  const rows: Policy[] = await db.query(
    `SELECT ${COLUMNS} FROM policies WHERE key = $1 AND mode = 'ENFORCE' ORDER BY version DESC LIMIT 1`,
    [key],
  );
  return rows[0];
}

/** Policy versions by id, in the order asked; one statement whatever the count. */
export async function policiesByIds(db: EntityManager, ids: readonly string[]): Promise<(Policy | undefined)[]> {
  const rows: Policy[] = await db.query(`SELECT ${COLUMNS} FROM policies WHERE id = ANY($1::uuid[])`, [ids.filter(isUuid)]);
  return inKeyOrder(ids, rows);
}

/** Every version of every policy (or the latest of each key), newest first within a key. */
export function listPolicies(db: EntityManager, latestOnly: boolean): Promise<Policy[]> {
  const sql = latestOnly
    ? `SELECT DISTINCT ON (key) ${COLUMNS} FROM policies ORDER BY key, version DESC`
    : `SELECT ${COLUMNS} FROM policies ORDER BY key, version DESC`;
  return db.query(sql);
}

/** A new version's values: the rules' (PolicyValues) and the rest. */
export interface PolicyVersionRow extends PolicyValues {
  key: string;
  purpose: string;
  legalBasis: string;
  description: string | null;
  mode: string;
  createdBy: string;
}

/**
 * Inserts the next version of a key; publishers of one key are serialised (a lock per key) so that version numbers are
 * dense and never collide. Returns its id.
 */
export async function insertPolicyVersion(db: EntityManager, v: PolicyVersionRow): Promise<string> {
  await lockForTransaction(db, LOCK_NAMES.policy(v.key));
  const [row] = await db.query(
    `INSERT INTO policies (key, version, purpose, legal_basis, description, minimum_age, regions, platforms, kinds, window_start, window_end, excluded_labels, mode, created_by)
       SELECT $1, coalesce(max(version), 0) + 1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13 FROM policies WHERE key = $1
       RETURNING id`,
    [
      v.key,
      v.purpose,
      v.legalBasis,
      v.description,
      v.minimumAge,
      v.regions,
      v.platforms,
      v.kinds,
      v.windowStart,
      v.windowEnd,
      v.excludedLabels,
      v.mode,
      v.createdBy,
    ],
  );
  return row.id;
}
