import type { EntityManager } from 'typeorm';
import { assertFactSession } from '../../db/citus';
import { ConsentScope } from '../../common/enums';
import { LOCK_NAMES } from '../../db/locks';
import { lockForTransaction } from '../../db/sql';
import { bindLedgerRows } from '../audit';
import { decidingEventSql, NOW } from '../eligibility';
import { ConsentEventRow } from './consent.types';

/** The consent ledger (consent_events): append-only, its only writer. Every append declares its rows to the audit event. */

/** Columns of a ledger event, over alias `e`. */
export const EVENT_COLUMNS = `e.id, e.user_id AS "userId", e.type, e.scope, e.effective_at AS "effectiveAt", e.recorded_at AS "recordedAt", e.channel, e.actor,
  e.reason, e.idempotency_key AS "idempotencyKey"`;

/** One writer per person at a time: a withdrawal's check and its append see the same ledger. */
export async function lockPersonLedger(db: EntityManager, userId: string): Promise<void> {
  await lockForTransaction(db, LOCK_NAMES.consent(userId));
}

/** The event that decides a person's scope at an instant (none: now; never later than now). */
export async function decidingEvent(
  db: EntityManager,
  userId: string,
  scope: string,
  at: Date | null,
): Promise<{ type: string } | undefined> {
  const [decided] = await db.query(decidingEventSql({ asOf: 'least(coalesce($2::timestamptz, now()), now())' }, '$1::uuid', '$3'), [
    userId,
    at,
    scope,
  ]);
  return decided;
}

/** The deciding event of every scope of a person at an instant (none: now). */
export function decidingEvents(db: EntityManager, userId: string, at: Date | null): Promise<ConsentEventRow[]> {
  return db.query(
    `SELECT d.* FROM unnest($3::text[]) AS s(scope)
       CROSS JOIN LATERAL (${decidingEventSql({ asOf: `coalesce($2::timestamptz, ${NOW.asOf})` }, '$1::uuid', 's.scope', EVENT_COLUMNS)}) d`,
    [userId, at, Object.values(ConsentScope)],
  );
}

/** A ledger event's values. */
export interface LedgerEvent {
  userId: string;
  type: string;
  scope: string;
  effectiveAt: Date | null;
  channel: string;
  actor: string;
  reason: string | null;
  idempotencyKey: string | null;
  requestDigest: string;
}

/** Appends one event (effective now when no instant, never later than now); none when its idempotency key is taken. */
export async function appendLedgerEvent(db: EntityManager, e: LedgerEvent): Promise<ConsentEventRow | undefined> {
  assertFactSession(db);
  const rows: ConsentEventRow[] = await db.query(
    `INSERT INTO consent_events AS e (user_id, type, scope, effective_at, channel, actor, reason, idempotency_key, request_digest)
       VALUES ($1, $2, $3, least(coalesce($4::timestamptz, now()), now()), $5, $6, $7, $8, $9)
       ON CONFLICT (idempotency_key) DO NOTHING
       RETURNING ${EVENT_COLUMNS}`,
    [e.userId, e.type, e.scope, e.effectiveAt, e.channel, e.actor, e.reason, e.idempotencyKey, e.requestDigest],
  );
  bindLedgerRows(
    db,
    rows.map((r) => r.id),
  );
  return rows[0];
}

/** The event recorded under an idempotency key, with the digest of the request that recorded it. */
export async function eventByIdempotencyKey(
  db: EntityManager,
  key: string,
): Promise<(ConsentEventRow & { request_digest: string }) | undefined> {
  const [existing] = await db.query(`SELECT ${EVENT_COLUMNS}, e.request_digest FROM consent_events e WHERE e.idempotency_key = $1`, [key]);
  return existing;
}

/** A slice of imported objections, as arrays. */
export interface ObjectionSlice {
  userIds: string[];
  scopes: string[];
  effectiveAts: (Date | null)[];
  channels: (string | null)[];
  reasons: (string | null)[];
  keys: (string | null)[];
}

/**
 * Appends imported objections in one statement; rows whose idempotency key is in the ledger already (a re-imported file)
 * are skipped, not written twice. Returns how many were written.
 */
export async function appendObjections(db: EntityManager, s: ObjectionSlice, actor: string, reason: string | null): Promise<number> {
  assertFactSession(db);
  const inserted: { id: string }[] = await db.query(
    `INSERT INTO consent_events (user_id, type, scope, effective_at, channel, actor, reason, idempotency_key)
         SELECT user_id, 'OBJECTION', scope, least(coalesce(effective_at, now()), now()), coalesce(channel, 'BULK_IMPORT'), $6, coalesce(reason, $7), key
         FROM unnest($1::uuid[], $2::text[], $3::timestamptz[], $4::text[], $5::text[], $8::text[]) AS t(user_id, scope, effective_at, channel, reason, key)
         ON CONFLICT (idempotency_key) DO NOTHING
         RETURNING id`,
    [s.userIds, s.scopes, s.effectiveAts, s.channels, s.reasons, actor, reason, s.keys],
  );
  bindLedgerRows(
    db,
    inserted.map((r) => r.id),
  );
  return inserted.length;
}

/** Every ledger event of a person, in effective order. */
export function eventsOf(db: EntityManager, userId: string): Promise<ConsentEventRow[]> {
  return db.query(`SELECT ${EVENT_COLUMNS} FROM consent_events e WHERE e.user_id = $1 ORDER BY e.effective_at, e.recorded_at, e.id`, [
    userId,
  ]);
}
