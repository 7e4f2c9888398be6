import type { RequestContext } from '../../context';
import { hasRole, Role } from '../../common/auth';
import { DomainError, ErrorCode } from '../../common/errors';
import { PolicyMode, ReasonCode } from '../../common/enums';
import { Connection, decodeCursor, lazyTotal, pageSize, toConnection } from '../../common/pagination';
import { CONTENT_COLUMNS, contentFilterSql } from '../content/content.service';
import { ContentFilter, ContentRow } from '../content/content.types';
import { isUuid } from '../../common/ids';
import { serialPlan, sqlParams } from '../../common/sql';
import { Policy } from '../policies/policy.types';
import { eligibleSql, EvaluationSql, evaluationFromSql, NOW, reasonsSql, RuleTimes } from './eligibility.rules';
import { EligibilityReport, EligibilityVerdict } from './eligibility.types';

export const MAX_ELIGIBILITY_IDS = 1000;

/** The instant bound to $2, or now (eligibility.rules NOW) when it is NULL; with everything the statement sees. */
const AT_PARAM_2: RuleTimes = { asOf: `coalesce($2::timestamptz, ${NOW.asOf})` };

/**
 * The times of a bulk evaluation: NOW (the current state the database keeps) when no instant is asked for, else the
 * instant bound to $2 (the history). The explain path (verdicts) always reads the history, so the property tests
 * compare the two renderings.
 */
const bulkTimes = (asOf: Date | null | undefined): RuleTimes => (asOf == null ? NOW : AT_PARAM_2);
/** Their parameters: $1 the policy id, and $2 the instant when there is one. */
const bulkParams = (policy: Policy, asOf: Date | null | undefined): unknown[] => (asOf == null ? [policy.id] : [policy.id, asOf]);

/** The verdicts of the explain path: $1 the policy id, $2 the instant (NULL: now), $3 the item ids; reasons per found id. */
export const VERDICTS_SQL = `SELECT c.id, ${reasonsSql(AT_PARAM_2)} AS reasons
  FROM ${evaluationFromSql({ items: `(SELECT * FROM content_items WHERE id = ANY($3::uuid[]))`, policyId: '$1::uuid', times: AT_PARAM_2 })}`;

/** Items that are eligible under `policyId` at the given times, as a relation with content_items' columns. */
export function eligibleItemsSql(items: string, policyId: string, times: RuleTimes, policy?: EvaluationSql['policy']): string {
  return `(SELECT c.* FROM ${evaluationFromSql({ items, policyId, times, policy })} WHERE ${eligibleSql(times)})`;
}

/** Eligibility: verdicts with reasons, eligible-content pages and reports, all rendered from eligibility.rules. */
export class EligibilityService {
  /** Validates an as-of instant: defaults to the request's now, never in the future. */
  asOf(ctx: RequestContext, asOf: Date | undefined | null): Date {
    if (asOf == null) return ctx.now;
    if (Number.isNaN(asOf.getTime())) throw new DomainError(ErrorCode.BAD_USER_INPUT, 'asOf is not a valid instant', 'asOf');
    if (asOf.getTime() > ctx.now.getTime()) throw new DomainError(ErrorCode.BAD_USER_INPUT, 'asOf may not be in the future', 'asOf');
    return asOf;
  }

  /** One verdict per id, in request order, with every reason that applies. Two statements whatever the count. */
  async verdicts(ctx: RequestContext, itemIds: string[], policyKey: string, asOfInput?: Date | null, policyVersion?: number | null): Promise<EligibilityVerdict[]> {
    if (itemIds.length > MAX_ELIGIBILITY_IDS) {
      throw new DomainError(ErrorCode.BAD_USER_INPUT, `at most ${MAX_ELIGIBILITY_IDS} item ids per call`, 'itemIds');
    }
    const asOf = this.asOf(ctx, asOfInput);
    const policy = await ctx.services.policies.get(ctx, policyKey, policyVersion);
    const ids = [...new Set(itemIds.filter(isUuid).map((id) => id.toLowerCase()))];
    const rows: { id: string; reasons: ReasonCode[] }[] = ids.length
      ? await ctx.manager.query(
          VERDICTS_SQL,
          [policy.id, asOfInput ?? null, ids],
        )
      : [];
    const byId = new Map(rows.map((r) => [r.id, r.reasons]));
    return itemIds.map((itemId) => {
      const reasons = byId.get(itemId.toLowerCase());
      const eligible = reasons !== undefined && reasons.length === 0;
      return {
        itemId,
        found: reasons !== undefined,
        eligible,
        excluded: reasons !== undefined && !eligible && policy.mode === PolicyMode.ENFORCE,
        reasons: reasons ?? [],
        policy,
        asOf,
      };
    });
  }

  /**
   * Eligible items, keyset-paginated by id. Handing content out is processing now: an ML engineer asking about a past
   * instant gets the items eligible then AND now (DESIGN.md §3), and a DRY_RUN policy hands out nothing.
   */
  async eligibleContent(ctx: RequestContext, policyKey: string, asOfInput: Date | undefined | null, filter: ContentFilter | undefined, first?: number, after?: string): Promise<Connection<ContentRow>> {
    const asOf = this.asOf(ctx, asOfInput);
    const policy = await this.enforcedPolicy(ctx, policyKey);
    const limit = pageSize(first);
    const cursor = decodeCursor(after, ['uuid']);
    const { params, p } = sqlParams(...bulkParams(policy, asOfInput));
    // The policy's values are bound once, first, and shared by the page and the count.
    const bound = new Map<unknown, string>();
    const values = { values: policy, bind: (v: unknown) => bound.get(v) ?? (bound.set(v, p(v)), bound.get(v)!) };
    eligibleItemsSql('content_items', '$1::uuid', NOW, values);
    const where = contentFilterSql(filter, p);
    const countParams = [...params];
    const countWhere = [...where];
    if (cursor) where.push(`c.id > ${p(String(cursor[0]))}::uuid`);
    const relation = (conds: string[]) => {
      const base = `(SELECT * FROM content_items c${conds.length ? ` WHERE ${conds.join(' AND ')}` : ''})`;
      const narrowed = hasRole(ctx.viewer, Role.ML_ENGINEER) && asOfInput != null;
      return eligibleItemsSql(narrowed ? eligibleItemsSql(base, '$1::uuid', NOW, values) : base, '$1::uuid', bulkTimes(asOfInput), values);
    };
    const rows: ContentRow[] = await serialPlan(ctx.manager, (m) => m.query(`SELECT ${CONTENT_COLUMNS} FROM ${relation(where)} c ORDER BY c.id LIMIT ${limit + 1}`, params));
    // Every row here is eligible now under this policy, so its text may go to an ML engineer.
    const conn = toConnection(rows, limit, (r) => [r.id], (r) => ({ ...r, textCleared: true }));
    // The count evaluates the rules over every item the filter lets through: whole-corpus work (see CorpusGate).
    return lazyTotal(conn, () => ctx.services.corpus.run(ctx, async () => (await ctx.manager.query(`SELECT count(*)::int AS n FROM ${relation(countWhere)} c`, countParams))[0].n));
  }

  /**
   * The latest ENFORCE version of a key: what builds, derivations, remediations and eligibleContent use (a later DRY_RUN
   * version changes none of them). A key with no ENFORCE version is refused with POLICY_NOT_ENFORCED.
   */
  async enforcedPolicy(ctx: RequestContext, policyKey: string): Promise<Policy> {
    const policy = await ctx.services.policies.latestEnforced(ctx, policyKey);
    if (policy) return policy;
    const latest = await ctx.services.policies.get(ctx, policyKey);
    const message = `Policy ${latest.key} has no ENFORCE version (v${latest.version} is DRY_RUN): it reports, it never hands out content`;
    throw new DomainError(ErrorCode.POLICY_NOT_ENFORCED, message, 'policyKey');
  }

  /**
   * Counts of eligible and excluded items, by reason, over the filtered items: one statement. Whole-corpus work: refused
   * with RATE_LIMITED before any database work when the caller's role runs too many already (CorpusGate).
   */
  report(ctx: RequestContext, policyKey: string, asOfInput: Date | undefined | null, filter: ContentFilter | undefined, policyVersion?: number | null): Promise<EligibilityReport> {
    return ctx.services.corpus.run(ctx, () => this.evaluateReport(ctx, policyKey, asOfInput, filter, policyVersion));
  }

  private async evaluateReport(ctx: RequestContext, policyKey: string, asOfInput: Date | undefined | null, filter: ContentFilter | undefined, policyVersion?: number | null): Promise<EligibilityReport> {
    const asOf = this.asOf(ctx, asOfInput);
    const policy = await ctx.services.policies.get(ctx, policyKey, policyVersion);
    const { params, p } = sqlParams(...bulkParams(policy, asOfInput));
    const where = contentFilterSql(filter, p);
    const times = bulkTimes(asOfInput);
    const items = `(SELECT * FROM content_items c${where.length ? ` WHERE ${where.join(' AND ')}` : ''})`;
    const [row] = await ctx.manager.query(
      `WITH r AS MATERIALIZED (SELECT ${reasonsSql(times)} AS reasons FROM ${evaluationFromSql({ items, policyId: '$1::uuid', times, policy: { values: policy, bind: p } })})
       SELECT (SELECT count(*)::int FROM r) AS evaluated,
              (SELECT count(*)::int FROM r WHERE cardinality(reasons) = 0) AS eligible,
              (SELECT coalesce(json_agg(json_build_object('reason', reason, 'count', n) ORDER BY n DESC, reason), '[]'::json)
                 FROM (SELECT reason, count(*)::int AS n FROM r, unnest(reasons) AS reason GROUP BY reason) x) AS reasons`,
      params,
    );
    const wouldExclude = row.evaluated - row.eligible;
    return {
      policy,
      mode: policy.mode,
      asOf,
      evaluated: row.evaluated,
      eligible: row.eligible,
      wouldExclude,
      excluded: policy.mode === PolicyMode.ENFORCE ? wouldExclude : 0,
      reasons: row.reasons,
    };
  }

  /** Number of items eligible under a policy at an instant (the bulk path). */
  async countEligible(ctx: RequestContext, policyKey: string, asOfInput?: Date | null): Promise<number> {
    const asOf = this.asOf(ctx, asOfInput);
    const policy = await ctx.services.policies.get(ctx, policyKey);
    const { params, p } = sqlParams(...bulkParams(policy, asOfInput));
    const [row] = await ctx.manager.query(
      `SELECT count(*)::int AS n FROM ${eligibleItemsSql('content_items', '$1::uuid', bulkTimes(asOfInput), { values: policy, bind: p })} c`,
      params,
    );
    return row.n;
  }

  /**
   * Which of these items are eligible now under the latest ENFORCE version of the default policy (gates content text for
   * ML engineers). Without an ENFORCE version nothing is: the gate stays closed.
   */
  async eligibleNow(ctx: RequestContext, itemIds: readonly string[]): Promise<Set<string>> {
    const policy = await ctx.loaders.defaultPolicy.load(ctx.config.defaultPolicyKey);
    if (!policy) return new Set();
    const rows: { id: string }[] = await ctx.manager.query(
      `SELECT c.id FROM ${eligibleItemsSql('(SELECT * FROM content_items WHERE id = ANY($2::uuid[]))', '$1::uuid', NOW)} c`,
      [policy.id, itemIds.filter(isUuid)],
    );
    return new Set(rows.map((r) => r.id));
  }
}
