import type { RequestContext } from '../../context';
import { requestDigest } from '../../common/canonical-json';
import { DomainError, ErrorCode, Problems, shown } from '../../common/errors';
import { ConsentChannel, ConsentEventType, ConsentScope } from '../../common/enums';
import { checkString, isValidInstant, MAX_FREE_TEXT } from '../../common/validate';
import type { MutationOutcome } from '../audit/audited-mutation';
import { decidingEventSql, NOW } from '../eligibility/eligibility.rules';
import { isUuid } from '../../common/ids';
import { lockForTransaction } from '../../common/sql';
import { bindLedgerRows } from '../audit/ledger-binding';
import { eachSlice } from '../../common/slices';
import { ConsentEventRow, ConsentState, ObjectionImportRow, ObjectionInput, ObjectionPayload, ObjectionsImportPayload } from './consent.types';

/** Columns of a ledger event, over alias `e`. */
export const EVENT_COLUMNS = `e.id, e.user_id AS "userId", e.type, e.scope, e.effective_at AS "effectiveAt", e.recorded_at AS "recordedAt", e.channel, e.actor,
  e.reason, e.idempotency_key AS "idempotencyKey"`;

export const MAX_IMPORT_ROWS = 200000;
/**
 * Rows validated, and rows written by one statement, between two turns of the event loop: a 200,000-row import never
 * holds the loop for more than a few milliseconds at a time (it all stays one transaction: every row or none).
 */
const VALIDATE_SLICE = 1000;
const INSERT_SLICE = 2000;

export interface ImportOptions {
  /** Reason for rows that give none. */
  reason?: string;
  /** How errors name a row of this chunk (default `rows[i]`). */
  rowLabel?: (i: number) => string;
  /** Per-row idempotency keys: a row whose key the ledger holds already is not written again (not counted). */
  idempotencyKeys?: (string | null)[];
}
/** Clock tolerance: an effective-at this close to now counts as now (not backdated, not future). */
const SKEW_MS = 1000;

const SCOPES = new Set<string>(Object.values(ConsentScope));
const CHANNELS = new Set<string>(Object.values(ConsentChannel));

/** Problems with an effective-at and its reason: never in the future; in the past only with a reason. */
function checkEffective(problems: Problems, prefix: string, effectiveAt: Date | undefined | null, reason: string | undefined | null, now: Date): void {
  if (effectiveAt == null) return;
  if (!isValidInstant(effectiveAt)) problems.add(`${prefix}effectiveAt`, 'effectiveAt is not a valid instant');
  else if (effectiveAt.getTime() > now.getTime() + SKEW_MS) problems.add(`${prefix}effectiveAt`, 'effectiveAt may not be in the future');
  else if (effectiveAt.getTime() < now.getTime() - SKEW_MS && !reason?.trim()) {
    problems.add(`${prefix}reason`, 'a backdated effectiveAt needs a reason');
  }
}

/** The consent ledger: objections, withdrawals, bulk imports, history and state. Append-only. */
export class ConsentService {
  /** Records an objection (idempotent with a key). */
  recordObjection(ctx: RequestContext, input: ObjectionInput): Promise<MutationOutcome<ObjectionPayload>> {
    return this.append(ctx, ConsentEventType.OBJECTION, input);
  }

  /** Withdraws an objection in force for the scope; NOTHING_TO_WITHDRAW when there is none. */
  withdrawObjection(ctx: RequestContext, input: ObjectionInput): Promise<MutationOutcome<ObjectionPayload>> {
    return this.append(ctx, ConsentEventType.OBJECTION_WITHDRAWN, input);
  }

  private async append(ctx: RequestContext, type: ConsentEventType, input: ObjectionInput): Promise<MutationOutcome<ObjectionPayload>> {
    const problems = new Problems();
    if (!isUuid(input.userId)) problems.add('userId', 'userId is not a valid id');
    checkEffective(problems, '', input.effectiveAt, input.reason, ctx.now);
    checkString(problems, 'reason', input.reason, { max: MAX_FREE_TEXT });
    checkString(problems, 'idempotencyKey', input.idempotencyKey, { max: 200 });
    problems.throwIfAny();
    const user = await ctx.loaders.user.load(input.userId);
    if (!user) throw new DomainError(ErrorCode.NOT_FOUND, `No user ${shown(input.userId)}`, 'userId');

    const digest = requestDigest({ type, ...input, userId: input.userId.toLowerCase() });
    if (input.idempotencyKey) {
      const replay = await this.replay(ctx, input.idempotencyKey, digest);
      if (replay) return replay;
    }
    // One writer per person at a time: the withdrawal check and the append must see the same ledger.
    await lockForTransaction(ctx.manager, `consent:${user.id}`);
    const effectiveAt = input.effectiveAt ?? null;
    if (type === ConsentEventType.OBJECTION_WITHDRAWN) {
      const [decided] = await ctx.manager.query(
        decidingEventSql({ asOf: 'least(coalesce($2::timestamptz, now()), now())' }, '$1::uuid', '$3'),
        [user.id, effectiveAt, input.scope],
      );
      if (decided?.type !== ConsentEventType.OBJECTION) {
        throw new DomainError(ErrorCode.NOTHING_TO_WITHDRAW, `No ${input.scope} objection is in force for this person at that instant`, 'scope');
      }
    }
    const rows: ConsentEventRow[] = await ctx.manager.query(
      `INSERT INTO consent_events AS e (user_id, type, scope, effective_at, channel, actor, reason, idempotency_key, request_digest)
       VALUES ($1, $2, $3, least(coalesce($4::timestamptz, now()), now()), $5, $6, $7, $8, $9)
       ON CONFLICT (idempotency_key) DO NOTHING
       RETURNING ${EVENT_COLUMNS}`,
      [user.id, type, input.scope, effectiveAt, input.channel, ctx.viewer!.subject, input.reason ?? null, input.idempotencyKey ?? null, digest],
    );
    bindLedgerRows(ctx.manager, rows.map((r) => r.id));
    if (!rows[0]) {
      // A concurrent request with the same key committed first.
      const replay = await this.replay(ctx, input.idempotencyKey!, digest);
      if (replay) return replay;
    }
    return { payload: { event: rows[0], replayed: false, userErrors: [] }, targetIds: [rows[0].id, user.id] };
  }

  private async replay(ctx: RequestContext, key: string, digest: string): Promise<MutationOutcome<ObjectionPayload> | undefined> {
    const [existing] = await ctx.manager.query(`SELECT ${EVENT_COLUMNS}, e.request_digest FROM consent_events e WHERE e.idempotency_key = $1`, [key]);
    if (!existing) return undefined;
    if (existing.request_digest !== digest) {
      throw new DomainError(ErrorCode.CONFLICT, 'idempotencyKey was already used with a different input', 'idempotencyKey');
    }
    delete existing.request_digest;
    return { payload: { event: existing, replayed: true, userErrors: [] }, targetIds: [existing.id, existing.userId] };
  }

  /**
   * Validates imported objections (rows numbered by `rowLabel`, default `rows[i]`); throws a DomainError listing every
   * bad row (up to 200), duplicates across the whole list included. Returns the user id of each row. Works in slices of
   * VALIDATE_SLICE rows, one people lookup each, letting the event loop turn in between.
   */
  async validateChunk(ctx: RequestContext, rows: ObjectionImportRow[], options: ImportOptions = {}): Promise<string[]> {
    const label = options.rowLabel ?? ((i: number) => `rows[${i}]`);
    const problems = new Problems(200);
    checkString(problems, 'reason', options.reason, { max: MAX_FREE_TEXT });
    const seen = new Map<string, number>();
    const userIds: string[] = new Array(rows.length);
    await eachSlice(rows, VALIDATE_SLICE, async (slice, offset) => {
      slice.forEach((r, k) => {
        const j = offset + k;
        const at = label(j);
        checkString(problems, `${at}.externalUserId`, r.externalUserId, { required: true, max: 200 });
        if (!SCOPES.has(r.scope)) problems.add(`${at}.scope`, `scope must be one of ${[...SCOPES].join(', ')}`);
        if (r.channel != null && !CHANNELS.has(r.channel)) problems.add(`${at}.channel`, `channel must be one of ${[...CHANNELS].join(', ')}`);
        checkEffective(problems, `${at}.`, r.effectiveAt, r.reason ?? options.reason, ctx.now);
        checkString(problems, `${at}.reason`, r.reason, { max: MAX_FREE_TEXT });
        const key = `${r.externalUserId}\u0000${r.scope}\u0000${r.effectiveAt?.getTime?.() ?? ''}`;
        const dup = seen.get(key);
        if (dup !== undefined) problems.add(`${at}.externalUserId`, `duplicates ${label(dup)}`);
        else seen.set(key, j);
      });
      // Look people up even when some rows are malformed, so that one pass reports every kind of problem.
      const externalIds = slice.map((r) => r.externalUserId);
      const users: { external_id: string; id: string }[] = await ctx.manager.query(
        `SELECT external_id, id FROM users WHERE external_id = ANY($1::text[])`,
        [[...new Set(externalIds)]],
      );
      const idByExternal = new Map(users.map((u) => [u.external_id, u.id]));
      externalIds.forEach((e, k) => {
        const id = idByExternal.get(e);
        if (id) userIds[offset + k] = id;
        else if (e) problems.add(`${label(offset + k)}.externalUserId`, `no user "${shown(e)}"`, ErrorCode.NOT_FOUND);
      });
    });
    problems.throwIfAny();
    return userIds;
  }

  /**
   * Validates and writes imported objections, INSERT_SLICE rows per set-based statement (the event loop turns between
   * two), inside the caller's transaction; returns the rows written.
   */
  async importChunk(ctx: RequestContext, rows: ObjectionImportRow[], options: ImportOptions = {}): Promise<number> {
    const userIds = await this.validateChunk(ctx, rows, options);
    const keys = options.idempotencyKeys;
    // Rows grouped by person: each statement's trigger refreshes the current state of the people it wrote (migration
    // CurrentState), so a person spread over every slice would be refreshed once per slice.
    const order = rows.map((_, i) => i).sort((a, b) => (userIds[a] < userIds[b] ? -1 : userIds[a] > userIds[b] ? 1 : a - b));
    let written = 0;
    await eachSlice(order, INSERT_SLICE, async (slice) => {
      const at = slice.map((i) => rows[i]);
      // Rows whose idempotency key is in the ledger already (a re-imported file) are skipped, not written twice.
      const inserted: { id: string }[] = await ctx.manager.query(
        `INSERT INTO consent_events (user_id, type, scope, effective_at, channel, actor, reason, idempotency_key)
         SELECT user_id, 'OBJECTION', scope, least(coalesce(effective_at, now()), now()), coalesce(channel, 'BULK_IMPORT'), $6, coalesce(reason, $7), key
         FROM unnest($1::uuid[], $2::text[], $3::timestamptz[], $4::text[], $5::text[], $8::text[]) AS t(user_id, scope, effective_at, channel, reason, key)
         ON CONFLICT (idempotency_key) DO NOTHING
         RETURNING id`,
        [slice.map((i) => userIds[i]), at.map((r) => r.scope), at.map((r) => r.effectiveAt ?? null), at.map((r) => r.channel ?? null),
          at.map((r) => r.reason ?? null), ctx.viewer!.subject, options.reason ?? null, slice.map((i) => keys?.[i] ?? null)],
      );
      bindLedgerRows(ctx.manager, inserted.map((r) => r.id));
      written += inserted.length;
    });
    return written;
  }

  /** objectionsImport: every row or none; at most `maxRows` (through GraphQL fewer: MAX_GRAPHQL_IMPORT_ROWS). */
  async importObjections(ctx: RequestContext, rows: ObjectionImportRow[], reason?: string, maxRows = MAX_IMPORT_ROWS): Promise<MutationOutcome<ObjectionsImportPayload>> {
    if (rows.length === 0) throw new DomainError(ErrorCode.BAD_USER_INPUT, 'rows must not be empty', 'rows');
    if (rows.length > maxRows) {
      const bigger = maxRows < MAX_IMPORT_ROWS ? '; send bigger batches to POST /objections/import' : '';
      throw new DomainError(ErrorCode.BAD_USER_INPUT, `at most ${maxRows.toLocaleString('en')} rows per call${bigger}`, 'rows');
    }
    const importedCount = await this.importChunk(ctx, rows, { reason });
    return { payload: { importedCount, userErrors: [] }, targetIds: [] };
  }

  /** Every ledger event of a person, in effective order. */
  async history(ctx: RequestContext, userId: string): Promise<ConsentEventRow[]> {
    if (!isUuid(userId)) throw new DomainError(ErrorCode.BAD_USER_INPUT, 'userId is not a valid id', 'userId');
    return ctx.manager.query(`SELECT ${EVENT_COLUMNS} FROM consent_events e WHERE e.user_id = $1 ORDER BY e.effective_at, e.recorded_at, e.id`, [userId]);
  }

  /** Which scopes are objected for a person at an instant, each with the event that decides it. */
  async state(ctx: RequestContext, userId: string, asOfInput?: Date | null): Promise<ConsentState> {
    const asOf = ctx.services.eligibility.asOf(ctx, asOfInput);
    const user = isUuid(userId) ? await ctx.loaders.user.load(userId) : undefined;
    if (!user) throw new DomainError(ErrorCode.NOT_FOUND, `No user ${shown(userId)}`, 'userId');
    const decided: ConsentEventRow[] = await ctx.manager.query(
      `SELECT d.* FROM unnest($3::text[]) AS s(scope)
       CROSS JOIN LATERAL (${decidingEventSql({ asOf: `coalesce($2::timestamptz, ${NOW.asOf})` }, '$1::uuid', 's.scope', EVENT_COLUMNS)}) d`,
      [user.id, asOfInput ?? null, Object.values(ConsentScope)],
    );
    const scopes = Object.values(ConsentScope).map((scope) => {
      const event = decided.find((d) => d.scope === scope) ?? null;
      return { scope, objected: event?.type === ConsentEventType.OBJECTION, decidedBy: event };
    });
    return { userId: user.id, asOf, objectedScopes: scopes.filter((s) => s.objected).map((s) => s.scope), scopes };
  }
}
