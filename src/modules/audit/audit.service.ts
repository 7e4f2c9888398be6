import crypto from 'node:crypto';
import type { EntityManager } from 'typeorm';
import type { RequestContext } from '../../context';
import { canonicalJson } from '../../common/canonical-json';
import { Connection, decodeCursor, pageSize, toConnection } from '../../common/pagination';
import { sqlParams } from '../../common/sql';

export const GENESIS_HASH = '0'.repeat(64);

/** Keys whose values are PII or content text: never stored in the audit log. */
const REDACTED_KEYS = new Set(['email', 'birthDate', 'birth_date', 'handle', 'text']);
/** Long lists (bulk imports) are summarised by count and digest instead of copied into the log. */
const MAX_LISTED = 50;

export interface AuditRow {
  id: string;
  occurred_at: Date;
  actor_subject: string;
  actor_roles: string[];
  operation: string;
  target_ids: string[];
  input: unknown;
  request_id: string;
  prev_hash: string;
  hash: string;
}

export interface AuditFilter {
  operation?: string;
  actorSubject?: string;
  targetId?: string;
  from?: Date;
  to?: Date;
}

export interface ChainVerification {
  valid: boolean;
  checkedEvents: number;
  firstBrokenEventId: string | null;
}

/** Replaces PII and content text by a marker, and long arrays by a count and digest. */
export function redact(value: unknown): unknown {
  if (Array.isArray(value)) {
    const items = value.map(redact);
    if (items.length <= MAX_LISTED) return items;
    return { $summary: { count: items.length, sha256: crypto.createHash('sha256').update(canonicalJson(items)).digest('hex') } };
  }
  if (value instanceof Date) return value.toISOString();
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (v === undefined) continue;
      out[k] = REDACTED_KEYS.has(k) && v !== null ? '[REDACTED]' : redact(v);
    }
    return out;
  }
  return value;
}

/** The hash of one event: it covers the previous event's hash and this event's canonical JSON. */
export function eventHash(prevHash: string, event: Omit<AuditRow, 'id' | 'hash' | 'prev_hash'>): string {
  const body = canonicalJson({
    occurredAt: event.occurred_at,
    actorSubject: event.actor_subject,
    actorRoles: event.actor_roles,
    operation: event.operation,
    targetIds: event.target_ids,
    input: event.input,
    requestId: event.request_id,
  });
  return crypto.createHash('sha256').update(prevHash).update('\n').update(body).digest('hex');
}

/** The audit log: an append-only, hash-chained record of every mutation. */
export class AuditService {
  /**
   * Appends one event inside the caller's transaction. A transaction-scoped advisory lock serialises appenders, so
   * the chain stays linear however many mutations commit at once; it is taken last, just before commit.
   */
  async append(manager: EntityManager, ctx: RequestContext, operation: string, input: unknown, targetIds: string[]): Promise<string> {
    await manager.query(`SELECT pg_advisory_xact_lock(8211311)`);
    const [last] = await manager.query(`SELECT hash FROM audit_events ORDER BY id DESC LIMIT 1`);
    const prevHash: string = last?.hash ?? GENESIS_HASH;
    const event = {
      occurred_at: new Date(),
      actor_subject: ctx.viewer?.subject ?? 'anonymous',
      actor_roles: ctx.viewer?.roles ?? [],
      operation,
      target_ids: [...new Set(targetIds)].slice(0, 10000),
      input: JSON.parse(canonicalJson(redact(input ?? {}))),
      request_id: ctx.requestId,
    };
    const hash = eventHash(prevHash, event);
    const [row] = await manager.query(
      `INSERT INTO audit_events (occurred_at, actor_subject, actor_roles, operation, target_ids, input, request_id, prev_hash, hash)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
      [event.occurred_at, event.actor_subject, event.actor_roles, operation, event.target_ids, JSON.stringify(event.input), event.request_id, prevHash, hash],
    );
    return row.id;
  }

  /** A page of events, newest first. */
  async list(ctx: RequestContext, filter: AuditFilter, first: number | undefined, after: string | undefined): Promise<Connection<AuditRow>> {
    const limit = pageSize(first);
    const cursor = decodeCursor(after, 1);
    const where: string[] = [];
    const { params, p } = sqlParams();
    if (filter.operation) where.push(`operation = ${p(filter.operation)}`);
    if (filter.actorSubject) where.push(`actor_subject = ${p(filter.actorSubject)}`);
    if (filter.targetId) where.push(`${p(filter.targetId)} = ANY(target_ids)`);
    if (filter.from) where.push(`occurred_at >= ${p(filter.from)}`);
    if (filter.to) where.push(`occurred_at < ${p(filter.to)}`);
    const filterSql = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const pageWhere = [...where];
    if (cursor) pageWhere.push(`id < ${p(String(cursor[0]))}`);
    const rows: AuditRow[] = await ctx.manager.query(
      `SELECT * FROM audit_events ${pageWhere.length ? `WHERE ${pageWhere.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ${limit + 1}`,
      params,
    );
    const countParams = params.slice(0, cursor ? params.length - 1 : params.length);
    const [{ count }] = await ctx.manager.query(`SELECT count(*)::int AS count FROM audit_events ${filterSql}`, countParams);
    return toConnection(rows, limit, (r) => [r.id], (r) => r, count);
  }

  /** Walks the whole chain in id order, recomputing every hash; reports the first event that does not match. */
  async verifyChain(ctx: RequestContext): Promise<ChainVerification> {
    let prevHash = GENESIS_HASH;
    let lastId = '0';
    let checked = 0;
    for (;;) {
      const rows: AuditRow[] = await ctx.manager.query(`SELECT * FROM audit_events WHERE id > $1 ORDER BY id LIMIT 5000`, [lastId]);
      if (rows.length === 0) return { valid: true, checkedEvents: checked, firstBrokenEventId: null };
      for (const row of rows) {
        checked++;
        if (row.prev_hash !== prevHash || eventHash(prevHash, row) !== row.hash) {
          return { valid: false, checkedEvents: checked, firstBrokenEventId: row.id };
        }
        prevHash = row.hash;
        lastId = row.id;
      }
    }
  }
}
