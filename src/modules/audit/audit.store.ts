import type { EntityManager } from 'typeorm';
import type { Connection } from '../../common/pagination';
import { sqlParams } from '../../db/sql';
import { keysetPage } from '../../db/keyset';
import { LOCK_KEYS } from '../../db/locks';
import type { AuditFilter, AuditRecord, AuditRow } from './audit.service';
import type { Checkpoint } from './checkpoints';
import type { LedgerRow } from './ledger-binding';

/**
 * The audit tables (audit_events, audit_checkpoints): their only writer. Also reads the consent ledger's rows in the
 * form that an event's ledger binding covers.
 */

/** Timestamps at full (microsecond) precision, in UTC: the form every hash of this module covers. */
export const utcMicros = (column: string) => `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

/** The columns of AuditRecord over alias `a`: one SQL form shared by the writer and the verifier. */
const AUDIT_RECORD = (
  a: string,
) => `${utcMicros(`${a}.occurred_at`)} AS occurred_at_us, ${a}.actor_subject, ${a}.actor_roles, ${a}.operation,
  ${a}.target_ids, ${a}.input, ${a}.request_id, ${a}.ledger`;

/** Takes the appenders' lock until the transaction ends. */
export async function lockAppenders(db: EntityManager): Promise<void> {
  await db.query(`SELECT pg_advisory_xact_lock(${LOCK_KEYS.AUDIT_APPEND})`);
}

/** The values of an event to append, as the caller prepared them. */
export interface AppendValues {
  actorSubject: unknown;
  actorRoles: unknown[];
  operation: string;
  targetIds: unknown[];
  input: string;
  requestId: unknown;
  ledger: string | null;
}

/**
 * An event's record as the database will store it (its clock, its rounding), with the hash of the chain's head: one
 * statement, so that the values go through the database once and are hashed as they come back.
 */
export async function recordToAppend(db: EntityManager, v: AppendValues): Promise<AuditRecord & { prev_hash: string | null }> {
  const [record] = await db.query(
    `SELECT ${AUDIT_RECORD('v')}, (SELECT hash FROM audit_events ORDER BY id DESC LIMIT 1) AS prev_hash
     FROM (SELECT clock_timestamp() AS occurred_at, $1::text AS actor_subject, $2::text[] AS actor_roles, $3::text AS operation,
                  $4::text[] AS target_ids, $5::jsonb AS input, $6::text AS request_id, $7::jsonb AS ledger) v`,
    [v.actorSubject, v.actorRoles, v.operation, v.targetIds, v.input, v.requestId, v.ledger],
  );
  return record;
}

/** Appends an event (hash version 2); returns its id. */
export async function insertAuditEvent(db: EntityManager, record: AuditRecord, prevHash: string, hash: string): Promise<string> {
  const [row] = await db.query(
    `INSERT INTO audit_events (occurred_at, actor_subject, actor_roles, operation, target_ids, input, request_id, ledger, prev_hash, hash, hash_version)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 2) RETURNING id`,
    [
      record.occurred_at_us,
      record.actor_subject,
      record.actor_roles,
      record.operation,
      record.target_ids,
      JSON.stringify(record.input),
      record.request_id,
      record.ledger && JSON.stringify(record.ledger),
      prevHash,
      hash,
    ],
  );
  return row.id;
}

export type ChainRow = AuditRow & AuditRecord & { hash_version: number };

/** Up to 5,000 events after `afterId` (up to `upToId` when given), in id order, with what their hashes cover. */
export function chainPage(db: EntityManager, afterId: string, upToId?: string): Promise<ChainRow[]> {
  return db.query(
    `SELECT a.id, a.prev_hash, a.hash, a.hash_version, a.occurred_at, ${AUDIT_RECORD('a')} FROM audit_events a
       WHERE a.id > $1 ${upToId ? 'AND a.id <= $2' : ''} ORDER BY a.id LIMIT 5000`,
    upToId ? [afterId, upToId] : [afterId],
  );
}

/** A page of events, newest first, with the count of the filtered events. */
export function auditPage(
  db: EntityManager,
  filter: AuditFilter,
  first: number | undefined,
  after: string | undefined,
): Promise<Connection<AuditRow>> {
  const where: string[] = [];
  const { params, p } = sqlParams();
  if (filter.operation) where.push(`operation = ${p(filter.operation)}`);
  if (filter.actorSubject) where.push(`actor_subject = ${p(filter.actorSubject)}`);
  if (filter.targetId) where.push(`${p(filter.targetId)} = ANY(target_ids)`);
  if (filter.from) where.push(`occurred_at >= ${p(filter.from)}`);
  if (filter.to) where.push(`occurred_at < ${p(filter.to)}`);
  return keysetPage<AuditRow>(db, {
    select: `SELECT * FROM audit_events`,
    count: `SELECT count(*)::int AS n FROM audit_events`,
    where,
    params,
    bind: p,
    first,
    after,
    eagerCount: true,
    key: { columns: ['id'], shape: ['bigint'], descending: true, of: (r) => [r.id] },
  });
}

/** How many events the chain has. */
export async function auditEventCount(db: EntityManager): Promise<number> {
  const [{ n }] = await db.query(`SELECT count(*)::int AS n FROM audit_events`);
  return n;
}

/** The head of the chain once no append is in flight (under the appenders' lock, in a transaction of its own). */
export function settledHead(db: EntityManager): Promise<{ id: string; hash: string } | undefined> {
  return db.transaction(async (m) => {
    await lockAppenders(m);
    const [row] = await m.query(`SELECT id::text AS id, hash FROM audit_events ORDER BY id DESC LIMIT 1`);
    return row as { id: string; hash: string } | undefined;
  });
}

/** An event's hash and its position in the chain (how many events up to it). */
export async function eventPosition(db: EntityManager, id: string): Promise<{ hash: string; n: number } | undefined> {
  const [at] = await db.query(`SELECT hash, (SELECT count(*)::int FROM audit_events WHERE id <= $1) AS n FROM audit_events WHERE id = $1`, [
    id,
  ]);
  return at;
}

const CHECKPOINT_COLUMNS = `last_event_id::text AS "lastEventId", last_hash AS "lastHash", event_count::int AS "eventCount",
  to_char(signed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "signedAt", key_id AS "keyId", signature`;

export async function insertCheckpoint(db: EntityManager, c: Checkpoint): Promise<void> {
  await db.query(
    `INSERT INTO audit_checkpoints (last_event_id, last_hash, event_count, signed_at, key_id, signature) VALUES ($1, $2, $3, $4, $5, $6)`,
    [c.lastEventId, c.lastHash, c.eventCount, c.signedAt, c.keyId, c.signature],
  );
}

/** Every checkpoint in the database, oldest first (or the newest only). */
export function databaseCheckpoints(db: EntityManager, newestOnly = false): Promise<Checkpoint[]> {
  return db.query(`SELECT ${CHECKPOINT_COLUMNS} FROM audit_checkpoints ORDER BY ${newestOnly ? 'id DESC LIMIT 1' : 'id'}`);
}

/**
 * The content of a ledger row that its binding covers, over alias `e`. Columns added to consent_events later are not
 * covered by bindings of version 1.
 */
const LEDGER_ROW_COLUMNS = `e.id::text AS id, e.user_id::text AS user_id, e.type, e.scope, ${utcMicros('e.effective_at')} AS effective_at,
  ${utcMicros('e.recorded_at')} AS recorded_at, e.channel, e.actor, e.reason, e.idempotency_key, e.request_digest`;

/** Up to `limit` ledger rows in the id ranges, after `after`, in id order. */
export function ledgerRowsInRanges(db: EntityManager, ranges: [string, string][], after: string, limit: number): Promise<LedgerRow[]> {
  return db.query(
    `SELECT ${LEDGER_ROW_COLUMNS} FROM unnest($1::bigint[], $2::bigint[]) AS r(a, b) JOIN consent_events e ON e.id BETWEEN r.a AND r.b
       WHERE e.id > $3::bigint ORDER BY e.id LIMIT ${limit}`,
    [ranges.map((r) => r[0]), ranges.map((r) => r[1]), after],
  );
}

/** Up to 5,000 ledger rows after `after`, in id order. */
export function ledgerRowsAfter(db: EntityManager, after: string): Promise<LedgerRow[]> {
  return db.query(`SELECT ${LEDGER_ROW_COLUMNS} FROM consent_events e WHERE e.id > $1 ORDER BY e.id LIMIT 5000`, [after]);
}
