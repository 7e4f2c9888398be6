import type { RequestContext } from '../../context';
import { DomainError, ErrorCode, Problems, shown } from '../../common/errors';
import { checkString, MAX_FREE_TEXT } from '../../common/validate';
import { EU27, ISO_COUNTRIES } from '../../common/iso-countries';
import { PolicyMode } from '../../common/enums';
import type { MutationOutcome } from '../audit';
import { Policy, PolicyPublishInput, PolicyPublishPayload } from './policy.types';
import { insertPolicyVersion, latestEnforcedPolicy, listPolicies, policiesByIds, policyVersion } from './policy.store';

/** The lowest minimum age an ENFORCE version may set (DESIGN.md §3; also a database CHECK). */
export const ADULT = 18;

/** Eligibility policies: immutable versions, looked up by key (latest) or key and version. */
export class PolicyService {
  /** The policy version asked for, or the latest version of the key; NOT_FOUND otherwise. */
  async get(ctx: RequestContext, key: string, version?: number | null): Promise<Policy> {
    const policy = await policyVersion(ctx.manager, key, version);
    if (!policy)
      throw new DomainError(ErrorCode.NOT_FOUND, `No policy "${shown(key)}"${version ? ` version ${version}` : ''}`, 'policyKey');
    return policy;
  }

  /**
   * The latest ENFORCE version of a key (undefined when it has none): what every path that hands out content uses, so
   * that publishing a DRY_RUN version never changes what anyone receives (DESIGN.md §3).
   */
  latestEnforced(ctx: RequestContext, key: string): Promise<Policy | undefined> {
    return latestEnforcedPolicy(ctx.manager, key);
  }

  /** Policy versions by id, in the order asked; one statement whatever the count. */
  byIds(ctx: RequestContext, ids: readonly string[]): Promise<(Policy | undefined)[]> {
    return policiesByIds(ctx.manager, ids);
  }

  /** Every version of every policy, newest first within a key. */
  list(ctx: RequestContext, latestOnly: boolean): Promise<Policy[]> {
    return listPolicies(ctx.manager, latestOnly);
  }

  /** Publishes a new immutable version (previous versions never change). */
  async publish(ctx: RequestContext, input: PolicyPublishInput): Promise<MutationOutcome<PolicyPublishPayload>> {
    const problems = new Problems();
    if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(input.key))
      problems.add('key', 'key must be lowercase letters, digits and dashes (1-63 characters)');
    if (!input.legalBasis?.trim() || input.legalBasis.length > 500)
      problems.add('legalBasis', 'legalBasis is required (at most 500 characters)');
    checkString(problems, 'description', input.description, { max: MAX_FREE_TEXT });
    if (!Number.isInteger(input.minimumAge) || input.minimumAge < 0 || input.minimumAge > 120)
      problems.add('minimumAge', 'minimumAge must be 0-120');
    else if (input.mode === PolicyMode.ENFORCE && input.minimumAge < ADULT) {
      problems.add(
        'minimumAge',
        `an ENFORCE version needs minimumAge ${ADULT} or more (a DRY_RUN version may go lower, for what-if reports)`,
      );
    }
    const regions = input.regions ?? EU27;
    if (regions.length === 0) problems.add('regions', 'regions must not be empty');
    regions.forEach((r, i) => {
      if (!ISO_COUNTRIES.has(r)) problems.add(`regions[${i}]`, `"${shown(r)}" is not an ISO 3166-1 alpha-2 country code`);
    });
    if (input.platforms.length === 0) problems.add('platforms', 'platforms must not be empty');
    if (input.kinds.length === 0) problems.add('kinds', 'kinds must not be empty');
    if (input.windowStart && input.windowEnd && input.windowStart >= input.windowEnd)
      problems.add('windowEnd', 'windowEnd must be after windowStart');
    input.excludedLabels.forEach((l, i) => {
      if (!/^[A-Z0-9_]{1,64}$/.test(l)) problems.add(`excludedLabels[${i}]`, 'labels are UPPER_SNAKE_CASE, at most 64 characters');
    });
    problems.throwIfAny();
    const id = await insertPolicyVersion(ctx.manager, {
      key: input.key,
      purpose: input.purpose,
      legalBasis: input.legalBasis.trim(),
      description: input.description ?? null,
      minimumAge: input.minimumAge,
      regions: [...new Set(regions)],
      platforms: [...new Set(input.platforms)],
      kinds: [...new Set(input.kinds)],
      windowStart: input.windowStart ?? null,
      windowEnd: input.windowEnd ?? null,
      excludedLabels: [...new Set(input.excludedLabels)],
      mode: input.mode,
      createdBy: ctx.viewer!.subject,
    });
    const [policy] = (await this.byIds(ctx, [id])) as Policy[];
    return { payload: { policy, userErrors: [] }, targetIds: [policy.id] };
  }
}
