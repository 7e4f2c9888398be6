import type { RequestContext } from '../../context';
import { requestDigest } from '../../common/canonical-json';
import { DomainError, ErrorCode, Problems, shown, type UserErrorDetail } from '../../common/errors';
import { ConsentChannel, ConsentEventType, ConsentScope } from '../../common/enums';
import { checkString, isValidInstant, MAX_FREE_TEXT } from '../../common/validate';
import { runAudited, type MutationOutcome } from '../audit';
import { isUuid } from '../../common/ids';
import type { EligibilityService } from '../eligibility';
import type { UserService } from '../users';
import { eachSlice, nextTurn } from '../../common/slices';
import {
  IMPORT_CHUNK,
  MAX_REPORTED,
  RECORDS_PER_TURN,
  type ImportRecord,
  type ImportRecordsOptions,
  type ImportSummary,
} from './consent.import';
import {
  appendLedgerEvent,
  appendObjections,
  decidingEvent,
  decidingEvents,
  eventByIdempotencyKey,
  eventsOf,
  lockPersonLedger,
} from './consent.store';
import {
  ConsentEventRow,
  ConsentState,
  ObjectionImportRow,
  ObjectionInput,
  ObjectionPayload,
  ObjectionsImportPayload,
} from './consent.types';

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
function checkEffective(
  problems: Problems,
  prefix: string,
  effectiveAt: Date | undefined | null,
  reason: string | undefined | null,
  now: Date,
): void {
  if (effectiveAt == null) return;
  if (!isValidInstant(effectiveAt)) problems.add(`${prefix}effectiveAt`, 'effectiveAt is not a valid instant');
  else if (effectiveAt.getTime() > now.getTime() + SKEW_MS) problems.add(`${prefix}effectiveAt`, 'effectiveAt may not be in the future');
  else if (effectiveAt.getTime() < now.getTime() - SKEW_MS && !reason?.trim()) {
    problems.add(`${prefix}reason`, 'a backdated effectiveAt needs a reason');
  }
}

/** The consent ledger: objections, withdrawals, bulk imports, history and state. Append-only. */
export class ConsentService {
  constructor(
    private readonly eligibility: EligibilityService,
    private readonly users: UserService,
  ) {}

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
    await lockPersonLedger(ctx.manager, user.id);
    const effectiveAt = input.effectiveAt ?? null;
    if (type === ConsentEventType.OBJECTION_WITHDRAWN) {
      const decided = await decidingEvent(ctx.manager, user.id, input.scope, effectiveAt);
      if (decided?.type !== ConsentEventType.OBJECTION) {
        throw new DomainError(
          ErrorCode.NOTHING_TO_WITHDRAW,
          `No ${input.scope} objection is in force for this person at that instant`,
          'scope',
        );
      }
    }
    const event = await appendLedgerEvent(ctx.manager, {
      userId: user.id,
      type,
      scope: input.scope,
      effectiveAt,
      channel: input.channel,
      actor: ctx.viewer!.subject,
      reason: input.reason ?? null,
      idempotencyKey: input.idempotencyKey ?? null,
      requestDigest: digest,
    });
    if (!event) {
      // A concurrent request with the same key committed first.
      const replay = await this.replay(ctx, input.idempotencyKey!, digest);
      if (replay) return replay;
    }
    return { payload: { event: event!, replayed: false, userErrors: [] }, targetIds: [event!.id, user.id] };
  }

  private async replay(ctx: RequestContext, key: string, digest: string): Promise<MutationOutcome<ObjectionPayload> | undefined> {
    const existing = await eventByIdempotencyKey(ctx.manager, key);
    if (!existing) return undefined;
    if (existing.request_digest !== digest) {
      throw new DomainError(ErrorCode.CONFLICT, 'idempotencyKey was already used with a different input', 'idempotencyKey');
    }
    const { request_digest: _digest, ...event } = existing;
    return { payload: { event, replayed: true, userErrors: [] }, targetIds: [event.id, event.userId] };
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
        if (r.channel != null && !CHANNELS.has(r.channel))
          problems.add(`${at}.channel`, `channel must be one of ${[...CHANNELS].join(', ')}`);
        checkEffective(problems, `${at}.`, r.effectiveAt, r.reason ?? options.reason, ctx.now);
        checkString(problems, `${at}.reason`, r.reason, { max: MAX_FREE_TEXT });
        const key = `${r.externalUserId}\u0000${r.scope}\u0000${r.effectiveAt?.getTime?.() ?? ''}`;
        const dup = seen.get(key);
        if (dup !== undefined) problems.add(`${at}.externalUserId`, `duplicates ${label(dup)}`);
        else seen.set(key, j);
      });
      // Look people up even when some rows are malformed, so that one pass reports every kind of problem.
      const externalIds = slice.map((r) => r.externalUserId);
      const idByExternal = await this.users.idsByExternal(ctx, externalIds);
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
      written += await appendObjections(
        ctx.manager,
        {
          userIds: slice.map((i) => userIds[i]),
          scopes: at.map((r) => r.scope),
          effectiveAts: at.map((r) => r.effectiveAt ?? null),
          channels: at.map((r) => r.channel ?? null),
          reasons: at.map((r) => r.reason ?? null),
          keys: slice.map((i) => keys?.[i] ?? null),
        },
        ctx.viewer!.subject,
        options.reason ?? null,
      );
    });
    return written;
  }

  /** objectionsImport: every row or none; at most `maxRows` (through GraphQL fewer: MAX_GRAPHQL_IMPORT_ROWS). */
  async importObjections(
    ctx: RequestContext,
    rows: ObjectionImportRow[],
    reason?: string,
    maxRows = MAX_IMPORT_ROWS,
  ): Promise<MutationOutcome<ObjectionsImportPayload>> {
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
    return eventsOf(ctx.manager, userId);
  }

  /** Which scopes are objected for a person at an instant, each with the event that decides it. */
  async state(ctx: RequestContext, userId: string, asOfInput?: Date | null): Promise<ConsentState> {
    const asOf = this.eligibility.asOf(ctx, asOfInput);
    const user = isUuid(userId) ? await ctx.loaders.user.load(userId) : undefined;
    if (!user) throw new DomainError(ErrorCode.NOT_FOUND, `No user ${shown(userId)}`, 'userId');
    const decided = await decidingEvents(ctx.manager, user.id, asOfInput ?? null);
    const scopes = Object.values(ConsentScope).map((scope) => {
      const event = decided.find((d) => d.scope === scope) ?? null;
      return { scope, objected: event?.type === ConsentEventType.OBJECTION, decidedBy: event };
    });
    return { userId: user.id, asOf, objectedScopes: scopes.filter((s) => s.objected).map((s) => s.scope), scopes };
  }

  /**
   * Writes the records in chunks of IMPORT_CHUNK rows, inside one transaction with the `objectionsImport` audit event (every
   * row or none). After the first bad row the rest is still validated, without writing, so that one pass reports up to
   * MAX_REPORTED problems; then everything rolls back. Rows imported before (same idempotency key) are not written again
   * and are counted as already in force. Refusals are returned as `errors`; anything else (the source failing, the
   * client leaving) is thrown, also after rolling back.
   */
  async importRecords(ctx: RequestContext, records: AsyncIterable<ImportRecord>, options: ImportRecordsOptions): Promise<ImportSummary> {
    const show = options.field ?? ((f: string) => f);
    let rows = 0;
    let imported = 0;
    const errors: UserErrorDetail[] = [];
    const auditInput: Record<string, unknown> = {};
    try {
      await runAudited(ctx, 'objectionsImport', auditInput, async (tx) => {
        let chunk: ObjectionImportRow[] = [];
        let lines: number[] = [];
        let keys: (string | null)[] = [];
        const flush = async () => {
          if (chunk.length === 0) return;
          const at = lines;
          const opts = { reason: options.reason, rowLabel: (j: number) => `line ${at[j]}`, idempotencyKeys: keys };
          try {
            if (errors.length === 0) imported += await this.importChunk(tx, chunk, opts);
            else await this.validateChunk(tx, chunk, opts);
          } catch (err) {
            if (!(err instanceof DomainError)) throw err;
            errors.push(...err.details.map((d) => ({ ...d, field: d.field === undefined ? undefined : show(d.field) })));
          }
          chunk = [];
          lines = [];
          keys = [];
          options.onChunk?.();
        };
        for await (const r of records) {
          rows++;
          // A source's records arrive many to a turn (a 64 kB piece of CSV is about 1,000 rows): the event loop turns
          // every RECORDS_PER_TURN of them, so that other requests wait for a few milliseconds of parsing, not a piece's.
          if (rows % RECORDS_PER_TURN === 0) await nextTurn();
          if (options.maxRows !== undefined && rows > options.maxRows) {
            throw new DomainError(ErrorCode.BAD_USER_INPUT, `at most ${options.maxRows} rows per import`, 'rows');
          }
          if ('problem' in r) errors.push(r.problem);
          else {
            lines.push(r.line);
            keys.push(r.key);
            chunk.push(r.row);
            if (chunk.length >= IMPORT_CHUNK) await flush();
          }
          if (errors.length >= MAX_REPORTED) break;
        }
        await flush();
        if (rows === 0) throw new DomainError(ErrorCode.BAD_USER_INPUT, 'the file holds no rows', 'file');
        if (errors.length) throw DomainError.invalid(errors.slice(0, MAX_REPORTED));
        Object.assign(auditInput, options.auditInput(rows));
        return { payload: undefined, targetIds: [] };
      });
    } catch (err) {
      if (err instanceof DomainError) return { rows, imported: 0, alreadyInForce: 0, errors: err.details };
      throw err;
    }
    return { rows, imported, alreadyInForce: rows - imported, errors: [] };
  }
}
