import { Arg, Authorized, Ctx, Int, Query, Resolver } from 'type-graphql';
import type { RequestContext } from '../../context';
import { Reads } from '../../common/reads';
import { Role } from '../../common/auth';
import { AuditedMutation } from '../audit';
import { Policy, PolicyPublishInput, PolicyPublishPayload } from './policy.types';

@Resolver(() => Policy)
export class PolicyResolver {
  @Authorized()
  @Reads('replica')
  @Query(() => Policy, { description: 'A policy version; the latest version of the key when `version` is omitted.' })
  policy(
    @Ctx() ctx: RequestContext,
    @Arg('key') key: string,
    @Arg('version', () => Int, { nullable: true }) version?: number,
  ): Promise<Policy> {
    return ctx.services.policies.get(ctx, key, version);
  }

  @Authorized()
  @Reads('replica')
  @Query(() => [Policy], { description: 'Policies: the latest version of each key, or every version with `allVersions: true`.' })
  policies(@Ctx() ctx: RequestContext, @Arg('allVersions', { defaultValue: false }) allVersions: boolean): Promise<Policy[]> {
    return ctx.services.policies.list(ctx, !allVersions);
  }

  @Authorized(Role.PRIVACY_OFFICER)
  @AuditedMutation(() => PolicyPublishPayload, { description: 'Publish a new immutable version of a policy (PRIVACY_OFFICER).' })
  policyPublish(@Ctx() ctx: RequestContext, @Arg('input') input: PolicyPublishInput) {
    return ctx.services.policies.publish(ctx, input);
  }
}
