import { Arg, Args, Authorized, Ctx, FieldResolver, ID, Int, Query, Resolver, Root } from 'type-graphql';
import type { RequestContext } from '../../context';
import { Reads } from '../../common/reads';
import { Role } from '../../common/auth';
import { PageArgs } from '../../common/pagination';
import { ContentFilter, ContentItem, ContentItemConnection } from '../content';
import { EligibilityReport, EligibilityVerdict } from './eligibility.types';

@Resolver(() => EligibilityVerdict)
export class EligibilityResolver {
  @FieldResolver(() => ContentItem, { nullable: true, description: 'The item (null when the id is unknown).' })
  item(@Root() verdict: EligibilityVerdict, @Ctx() ctx: RequestContext) {
    return verdict.found ? ctx.loaders.contentItem.load(verdict.itemId) : null;
  }

  @Authorized(Role.PRIVACY_OFFICER, Role.AUDITOR)
  @Reads('replica')
  @Query(() => [EligibilityVerdict], {
    description:
      'One verdict per item, in the order asked, with every reason that applies (up to 1,000 ids). `asOf` defaults to now and may not be in the future.',
  })
  eligibility(
    @Ctx() ctx: RequestContext,
    @Arg('itemIds', () => [ID]) itemIds: string[],
    @Arg('policyKey', { defaultValue: 'eu-ai-training' }) policyKey: string,
    @Arg('asOf', () => Date, { nullable: true }) asOf?: Date,
    @Arg('policyVersion', () => Int, { nullable: true, description: 'A specific version; the latest when omitted.' })
    policyVersion?: number,
  ): Promise<EligibilityVerdict[]> {
    return ctx.services.eligibility.verdicts(ctx, itemIds, policyKey, asOf, policyVersion);
  }

  @Authorized(Role.PRIVACY_OFFICER, Role.AUDITOR, Role.ML_ENGINEER)
  // Ids and hashes tolerate lag; a document that selects `text` goes to the primary whatever its root (replica-routing.ts).
  @Reads('replica')
  @Query(() => ContentItemConnection, {
    description:
      'Only eligible items, keyset-paginated by id. For ML engineers a past `asOf` narrows (eligible then and now). Uses the latest ENFORCE version of the key; a key without one is refused (POLICY_NOT_ENFORCED).',
  })
  eligibleContent(
    @Ctx() ctx: RequestContext,
    @Args() page: PageArgs,
    @Arg('policyKey', { defaultValue: 'eu-ai-training' }) policyKey: string,
    @Arg('asOf', () => Date, { nullable: true }) asOf?: Date,
    @Arg('filter', () => ContentFilter, { nullable: true }) filter?: ContentFilter,
  ) {
    return ctx.services.eligibility.eligibleContent(ctx, policyKey, asOf, filter, page.first, page.after);
  }

  @Authorized(Role.PRIVACY_OFFICER, Role.AUDITOR)
  @Reads('replica')
  @Query(() => EligibilityReport, {
    description: 'Counts of eligible and excluded items by reason: what a policy (ENFORCE or DRY_RUN) includes and removes.',
  })
  eligibilityReport(
    @Ctx() ctx: RequestContext,
    @Arg('policyKey', { defaultValue: 'eu-ai-training' }) policyKey: string,
    @Arg('asOf', () => Date, { nullable: true }) asOf?: Date,
    @Arg('filter', () => ContentFilter, { nullable: true }) filter?: ContentFilter,
    @Arg('policyVersion', () => Int, { nullable: true }) policyVersion?: number,
  ): Promise<EligibilityReport> {
    return ctx.services.eligibility.report(ctx, policyKey, asOf, filter, policyVersion);
  }
}
