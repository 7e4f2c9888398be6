import crypto from 'node:crypto';
import type { EntityManager } from 'typeorm';
import type { RequestContext } from '../../context';
import { canonicalJson } from '../../common/canonical-json';
import type { Connection } from '../../common/pagination';
import { eachSlice } from '../../common/slices';
import { Checkpoint, fileCheckpoints, latest, resolveAuditKeys, signatureProblem, signCheckpoint, storeCheckpoint } from './checkpoints';
import { checkLedger, LedgerBinding, ledgerBinding, ledgerIdRanges, takeLedgerRows } from './ledger-binding';
import {
  auditEventCount,
  auditPage,
  chainPage,
  ChainRow,
  databaseCheckpoints,
  eventPosition,
  insertAuditEvent,
  lockAppenders,
  recordToAppend,
  settledHead,
} from './audit.store';

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
  /** 1: hashed over occurred_at in milliseconds (before migration AuditAnchors); 2: in microseconds, with the ledger. */
  hash_version?: number;
  /** The consent-ledger rows the event wrote. */
  ledger?: LedgerBinding | null;
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
  checkedLedgerEvents: number;
  unboundLedgerEventIds: string[];
  checkpoint: Checkpoint | null;
  eventsAfterCheckpoint: number;
  problems: string[];
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

/**
 * What redact gives, letting the event loop turn while it digests a long array (a bulk import's 150,000 rows are
 * hashed 500 at a time): the same value, byte for byte.
 */
export async function redactInSlices(value: unknown): Promise<unknown> {
  if (Array.isArray(value) && value.length > MAX_LISTED) {
    const hash = crypto.createHash('sha256').update('[');
    await eachSlice(value, 500, (slice, offset) => {
      hash.update(`${offset ? ',' : ''}${slice.map((v) => canonicalJson(redact(v) ?? null)).join(',')}`);
    });
    return { $summary: { count: value.length, sha256: hash.update(']').digest('hex') } };
  }
  if (value && typeof value === 'object' && !Array.isArray(value) && !(value instanceof Date)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (v === undefined) continue;
      out[k] = REDACTED_KEYS.has(k) && v !== null ? '[REDACTED]' : await redactInSlices(v);
    }
    return out;
  }
  return redact(value);
}

type EventFields = Pick<AuditRow, 'actor_subject' | 'actor_roles' | 'operation' | 'target_ids' | 'input' | 'request_id'>;

/** An event's fields as the API names them (and as its hash covers them), with `occurredAt` in the given form. */
export function eventFields<T>(e: EventFields, occurredAt: T) {
  return {
    occurredAt,
    actorSubject: e.actor_subject,
    actorRoles: e.actor_roles,
    operation: e.operation,
    targetIds: e.target_ids,
    input: e.input,
    requestId: e.request_id,
  };
}

const chainHash = (prevHash: string, body: unknown) =>
  crypto.createHash('sha256').update(prevHash).update('\n').update(canonicalJson(body)).digest('hex');

/** The hash of a version-1 event (written before migration AuditAnchors): occurred_at in milliseconds. */
export const eventHashV1 = (prevHash: string, e: EventFields & { occurred_at: Date }) => chainHash(prevHash, eventFields(e, e.occurred_at));

/**
 * The record a version-2 hash covers, as the database returns it (AUDIT_RECORD over a row): the writer computes the
 * hash from the very values the verifier will read, so it can never write an event its verifier cannot verify.
 */
export interface AuditRecord extends EventFields {
  occurred_at_us: string;
  ledger: LedgerBinding | null;
}

export const eventHash = (prevHash: string, r: AuditRecord) =>
  chainHash(prevHash, { v: 2, ...eventFields(r, r.occurred_at_us), ledger: r.ledger });

/** The hash an event should have, by its hash version. */
const expectedHash = (prevHash: string, row: AuditRow & AuditRecord & { hash_version: number }) =>
  row.hash_version === 1 ? eventHashV1(prevHash, row) : eventHash(prevHash, row);

/** NUL and lone surrogates cannot be stored in text or jsonb: they become U+FFFD before anything is hashed. */
// eslint-disable-next-line no-control-regex -- NUL is exactly what must not reach the database
const storable = (s: string) => s.replace(/\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
function storableJson(value: unknown): unknown {
  if (typeof value === 'string') return storable(value);
  if (Array.isArray(value)) return value.map(storableJson);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [storable(k), storableJson(v)]));
  return value;
}

/**
 * Appends one event inside the caller's transaction. A transaction-scoped advisory lock serialises appenders, so the
 * chain stays linear however many mutations commit at once; it is taken last, just before commit. The values go
 * through the database once (one statement that also reads the previous hash) and are hashed as it returns them.
 */
export async function appendEvent(
  manager: EntityManager,
  actor: { subject: unknown; roles: string[]; requestId: string },
  operation: string,
  input: unknown,
  targetIds: string[],
  ledger: LedgerBinding | null,
): Promise<string> {
  await lockAppenders(manager);
  const text = (v: unknown) => (typeof v === 'string' ? storable(v) : v);
  const record = await recordToAppend(manager, {
    actorSubject: text(actor.subject),
    actorRoles: actor.roles.map(text),
    operation: storable(operation),
    targetIds: [...new Set(targetIds)].slice(0, 10000).map(text),
    input: canonicalJson(storableJson(redact(input ?? {}))),
    requestId: text(actor.requestId),
    ledger: ledger && JSON.stringify(ledger),
  });
  const prevHash = record.prev_hash ?? GENESIS_HASH;
  const hash = eventHash(prevHash, record);
  return insertAuditEvent(manager, record, prevHash, hash);
}

/**
 * Walks the chain in id order from the event after `afterId`, recomputing every hash, and calls `onEvent` with each
 * event and whether its link and hash hold. Later events are checked against their stored predecessors, so one broken
 * event does not hide another. Returns the number of events walked.
 */
async function walkChain(
  manager: EntityManager,
  from: { afterId: string; prevHash: string; upToId?: string },
  onEvent: (row: ChainRow, intact: boolean, problem?: string) => void,
): Promise<number> {
  let { afterId, prevHash } = from;
  let walked = 0;
  let seenV2 = false;
  for (;;) {
    const rows = await chainPage(manager, afterId, from.upToId);
    if (rows.length === 0) return walked;
    for (const row of rows) {
      walked++;
      const downgraded = seenV2 && row.hash_version === 1;
      seenV2 ||= row.hash_version === 2;
      const intact = !downgraded && row.prev_hash === prevHash && expectedHash(prevHash, row) === row.hash;
      onEvent(
        row,
        intact,
        intact
          ? undefined
          : downgraded
            ? `event ${row.id} claims hash version 1 after version 2 events`
            : `event ${row.id}'s hash or link does not match`,
      );
      prevHash = row.hash;
      afterId = row.id;
    }
  }
}

export interface CheckpointOutcome {
  created: boolean;
  checkpoint: Checkpoint | null;
  file?: string;
}

/** The audit log: an append-only, hash-chained record of every mutation, anchored by signed checkpoints. */
/** Appends the event of a mutation inside its transaction, binding the ledger rows the transaction declared. */
export async function appendMutationEvent(
  manager: EntityManager,
  ctx: RequestContext,
  operation: string,
  input: unknown,
  targetIds: string[],
): Promise<string> {
  const ledger = await ledgerBinding(manager, ledgerIdRanges(takeLedgerRows(manager)));
  const actor = { subject: ctx.viewer?.subject ?? 'anonymous', roles: ctx.viewer?.roles ?? [], requestId: ctx.requestId };
  // Redacted (and long lists digested) here, a slice at a time, before the append lock is taken; appendEvent's own
  // redaction of the result changes nothing.
  return appendEvent(manager, actor, operation, await redactInSlices(input), targetIds, ledger);
}

export class AuditService {
  /** A page of events, newest first. */
  /** How many events the chain has (the CLI's progress bar of a verification). */
  eventCount(ctx: RequestContext): Promise<number> {
    return auditEventCount(ctx.manager);
  }

  list(ctx: RequestContext, filter: AuditFilter, first: number | undefined, after: string | undefined): Promise<Connection<AuditRow>> {
    return auditPage(ctx.manager, filter, first, after);
  }

  /**
   * Verifies the whole chain: every hash and link; the latest signed checkpoint found in the database or the checkpoint
   * file (every checkpoint's signature, and every checkpoint of the file present in the database); and the consent
   * ledger against the rows each event bound. Everything is read from one snapshot (REPEATABLE READ): a mutation
   * committing between two reads would otherwise show its ledger row without its audit event.
   */
  async verifyChain(ctx: RequestContext, onEvent?: (checked: number) => void): Promise<ChainVerification> {
    return ctx.dataSource.transaction('REPEATABLE READ', async (manager) => {
      const outer = ctx.manager;
      ctx.manager = manager;
      try {
        return await this.verifyChainInSnapshot(ctx, onEvent);
      } finally {
        ctx.manager = outer;
      }
    });
  }

  private async verifyChainInSnapshot(ctx: RequestContext, onEvent?: (checked: number) => void): Promise<ChainVerification> {
    const problems: string[] = [];
    const keys = resolveAuditKeys(ctx.config);
    const inDb = await databaseCheckpoints(ctx.manager);
    const inFile = fileCheckpoints(ctx.config);
    const valid: Checkpoint[] = [];
    const where = { db: 'in the database', file: `in ${ctx.config.auditCheckpointDir}` };
    for (const [list, place] of [
      [inDb, where.db],
      [inFile, where.file],
    ] as const) {
      for (const c of list) {
        const bad = signatureProblem(keys, c);
        if (bad) problems.push(`checkpoint of event ${c.lastEventId} signed at ${c.signedAt} ${place} ${bad}`);
        else valid.push(c);
      }
    }
    const signatures = new Set(inDb.map((c) => c.signature));
    for (const c of inFile) {
      if (!signatures.has(c.signature))
        problems.push(`checkpoint of event ${c.lastEventId} (${c.eventCount} events) signed at ${c.signedAt} is missing from the database`);
    }
    const anchor = latest(valid);
    let firstBroken: bigint | null = null;
    const broken = (id: string, problem: string) => {
      problems.push(problem);
      if (firstBroken === null || BigInt(id) < firstBroken) firstBroken = BigInt(id);
    };
    const bindings = new Map<string, LedgerBinding>();
    let count = 0;
    let anchorSeen = false;
    const checked = await walkChain(ctx.manager, { afterId: '0', prevHash: GENESIS_HASH }, (row, intact, problem) => {
      count++;
      onEvent?.(count);
      if (!intact) broken(row.id, problem!);
      if (row.ledger) bindings.set(row.id, row.ledger);
      if (anchor && row.id === anchor.lastEventId) {
        anchorSeen = true;
        if (row.hash !== anchor.lastHash || count !== anchor.eventCount) {
          broken(
            row.id,
            `event ${row.id} differs from the checkpoint signed at ${anchor.signedAt} (hash or position): the chain up to it was rewritten`,
          );
        }
      }
    });
    if (anchor && !anchorSeen) {
      broken(
        anchor.lastEventId,
        `the checkpoint signed at ${anchor.signedAt} covers ${anchor.eventCount} events up to event ${anchor.lastEventId}, which is gone: events were deleted`,
      );
    }
    const ledger = await checkLedger(ctx.manager, bindings);
    for (const m of ledger.mismatched) broken(m.eventId, `ledger rows of audit event ${m.eventId}: ${m.problem}`);
    if (ledger.unboundCount) {
      problems.push(
        `${ledger.unboundCount} consent ledger row(s) are bound to no audit event (written behind the service's back): ${ledger.unbound.join(', ')}`,
      );
    }
    return {
      valid: problems.length === 0,
      checkedEvents: checked,
      firstBrokenEventId: firstBroken === null ? null : String(firstBroken),
      checkedLedgerEvents: ledger.checkedRows,
      unboundLedgerEventIds: ledger.unbound,
      checkpoint: anchor,
      eventsAfterCheckpoint: anchor && anchorSeen ? Math.max(0, checked - anchor.eventCount) : checked,
      problems,
    };
  }

  /**
   * Signs a checkpoint of the chain's head, after checking every event since the latest checkpoint (so that a rewritten
   * chain is never signed). Returns created: false when the head is already checkpointed or the chain is empty.
   */
  async checkpoint(ctx: RequestContext): Promise<CheckpointOutcome> {
    const keys = resolveAuditKeys(ctx.config);
    // Under the appenders' lock no event is in flight: every id up to the head is committed.
    const head = await settledHead(ctx.dataSource.manager);
    const candidates = [...(await databaseCheckpoints(ctx.manager, true)), ...fileCheckpoints(ctx.config).slice(-1)];
    for (const c of candidates) {
      const bad = signatureProblem(keys, c);
      if (bad) throw new Error(`refusing to checkpoint: the latest checkpoint of event ${c.lastEventId} ${bad}`);
    }
    const anchor = latest(candidates);
    if (!head) return { created: false, checkpoint: null };
    if (anchor?.lastEventId === head.id && anchor.lastHash === head.hash) return { created: false, checkpoint: anchor };
    let from = { afterId: '0', prevHash: GENESIS_HASH, count: 0 };
    if (anchor) {
      const at = await eventPosition(ctx.manager, anchor.lastEventId);
      if (!at || at.hash !== anchor.lastHash || at.n !== anchor.eventCount) {
        throw new Error(
          `refusing to checkpoint: event ${anchor.lastEventId} no longer matches the checkpoint signed at ${anchor.signedAt}`,
        );
      }
      from = { afterId: anchor.lastEventId, prevHash: anchor.lastHash, count: anchor.eventCount };
    }
    let lastHash = from.prevHash;
    const walked = await walkChain(ctx.manager, { ...from, upToId: head.id }, (row, intact, problem) => {
      if (!intact) throw new Error(`refusing to checkpoint: ${problem}`);
      lastHash = row.hash;
    });
    const checkpoint = signCheckpoint(keys, { lastEventId: head.id, lastHash, eventCount: from.count + walked });
    const file = await storeCheckpoint(ctx.manager, ctx.config, checkpoint);
    return { created: true, checkpoint, file };
  }
}
