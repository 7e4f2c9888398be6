import type { RequestContext } from '../../context';
import { hasRole, Role } from '../../common/auth';
import { DomainError, ErrorCode } from '../../common/errors';
import { PolicyMode } from '../../common/enums';
import type { Connection } from '../../common/pagination';
import { checkContentFilter, ContentFilter, ContentRow } from '../content';
import { isUuid } from '../../common/ids';
import type { Policy, PolicyService } from '../policies';
import type { CorpusGate } from '../../common/corpus-gate';
import { countEligible, eligibleNowAmong, eligiblePage, reportCounts, verdictReasons } from './eligibility.store';
import { EligibilityReport, EligibilityVerdict } from './eligibility.types';

export const MAX_ELIGIBILITY_IDS = 1000;

/** Eligibility: verdicts with reasons, eligible-content pages and reports, all rendered from eligibility.rules. */
export class EligibilityService {
  constructor(
    private readonly policies: PolicyService,
    private readonly corpus: CorpusGate,
  ) {}

  /** Validates an as-of instant: defaults to the request's now, never in the future. */
  asOf(ctx: RequestContext, asOf: Date | undefined | null): Date {
    if (asOf == null) return ctx.now;
    if (Number.isNaN(asOf.getTime())) throw new DomainError(ErrorCode.BAD_USER_INPUT, 'asOf is not a valid instant', 'asOf');
    if (asOf.getTime() > ctx.now.getTime()) throw new DomainError(ErrorCode.BAD_USER_INPUT, 'asOf may not be in the future', 'asOf');
    return asOf;
  }

  /** One verdict per id, in request order, with every reason that applies. Two statements whatever the count. */
  async verdicts(
    ctx: RequestContext,
    itemIds: string[],
    policyKey: string,
    asOfInput?: Date | null,
    policyVersion?: number | null,
  ): Promise<EligibilityVerdict[]> {
    if (itemIds.length > MAX_ELIGIBILITY_IDS) {
      throw new DomainError(ErrorCode.BAD_USER_INPUT, `at most ${MAX_ELIGIBILITY_IDS} item ids per call`, 'itemIds');
    }
    const asOf = this.asOf(ctx, asOfInput);
    const policy = await this.policies.get(ctx, policyKey, policyVersion);
    const ids = [...new Set(itemIds.filter(isUuid).map((id) => id.toLowerCase()))];
    const rows = ids.length ? await verdictReasons(ctx.manager, policy.id, asOfInput ?? null, ids) : [];
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
  async eligibleContent(
    ctx: RequestContext,
    policyKey: string,
    asOfInput: Date | undefined | null,
    filter: ContentFilter | undefined,
    first?: number,
    after?: string,
  ): Promise<Connection<ContentRow>> {
    this.asOf(ctx, asOfInput); // validates the instant
    const policy = await this.enforcedPolicy(ctx, policyKey);
    checkContentFilter(filter);
    // Handing out is processing now: an ML engineer asking about a past instant gets what is eligible now as well.
    const narrowed = hasRole(ctx.viewer, Role.ML_ENGINEER) && asOfInput != null;
    // The count evaluates the rules over every item the filter lets through: whole-corpus work (see CorpusGate).
    const page = await eligiblePage(ctx.manager, { policy, asOf: asOfInput, narrowed, filter, first, after }, (count) =>
      this.corpus.run(ctx, count),
    );
    // Evaluated now (no instant asked for, or narrowed to now as well): every row is eligible now under this version.
    if (asOfInput == null || narrowed)
      await this.primeEligibleNow(
        ctx,
        policy,
        page.edges.map((e) => e.node.id),
      );
    return page;
  }

  /**
   * Tells the request's text gate (the `eligibleNow` loader, see eligibleNow) that these items, just found eligible now
   * under `policy`, are eligible now, when `policy` is the version the gate follows: the latest ENFORCE version of the
   * default key as this request reads it. Under another key or version the gate learns nothing and asks for itself.
   * The loaders belong to this request alone, so nothing primed here reaches another request or viewer.
   */
  private async primeEligibleNow(ctx: RequestContext, policy: Policy, itemIds: string[]): Promise<void> {
    if (policy.key !== ctx.config.defaultPolicyKey) return;
    // enforcedPolicy read what the gate's policy loader reads; a version this request already holds is kept.
    const gate = await ctx.loaders.defaultPolicy.prime(policy.key, policy).load(policy.key);
    if (gate?.id !== policy.id) return;
    for (const id of itemIds) ctx.loaders.eligibleNow.prime(id, true);
  }

  /**
   * The latest ENFORCE version of a key: what builds, derivations, remediations and eligibleContent use (a later DRY_RUN
   * version changes none of them). A key with no ENFORCE version is refused with POLICY_NOT_ENFORCED.
   */
  async enforcedPolicy(ctx: RequestContext, policyKey: string): Promise<Policy> {
    const policy = await this.policies.latestEnforced(ctx, policyKey);
    if (policy) return policy;
    const latest = await this.policies.get(ctx, policyKey);
    const message = `Policy ${latest.key} has no ENFORCE version (v${latest.version} is DRY_RUN): it reports, it never hands out content`;
    throw new DomainError(ErrorCode.POLICY_NOT_ENFORCED, message, 'policyKey');
  }

  /**
   * Counts of eligible and excluded items, by reason, over the filtered items: one statement. Whole-corpus work: refused
   * with RATE_LIMITED before any database work when the caller's role runs too many already (CorpusGate).
   */
  report(
    ctx: RequestContext,
    policyKey: string,
    asOfInput: Date | undefined | null,
    filter: ContentFilter | undefined,
    policyVersion?: number | null,
  ): Promise<EligibilityReport> {
    return this.corpus.run(ctx, async () => {
      const asOf = this.asOf(ctx, asOfInput);
      const policy = await this.policies.get(ctx, policyKey, policyVersion);
      checkContentFilter(filter);
      const row = await reportCounts(ctx.manager, policy, asOfInput, filter);
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
    });
  }

  /** Number of items eligible under a policy at an instant (the bulk path). */
  async countEligible(ctx: RequestContext, policyKey: string, asOfInput?: Date | null): Promise<number> {
    this.asOf(ctx, asOfInput); // validates the instant
    const policy = await this.policies.get(ctx, policyKey);
    return countEligible(ctx.manager, policy, asOfInput);
  }

  /**
   * Which of these items are eligible now under the latest ENFORCE version of the default policy (gates content text for
   * ML engineers). Without an ENFORCE version nothing is: the gate stays closed.
   */
  async eligibleNow(ctx: RequestContext, itemIds: readonly string[]): Promise<Set<string>> {
    const policy = await ctx.loaders.defaultPolicy.load(ctx.config.defaultPolicyKey);
    if (!policy) return new Set();
    return eligibleNowAmong(ctx.manager, policy.id, itemIds.filter(isUuid));
  }
}
