import { Authorized, Ctx, Field, ObjectType, Query, Resolver } from 'type-graphql';
import type { RequestContext } from '../../context';
import { Reads } from '../../common/reads';
import { Role } from '../../common/auth';

@ObjectType({ description: 'The authenticated caller.' })
export class ViewerInfo {
  @Field({ description: 'Subject of the token.' })
  subject: string;

  @Field(() => [Role], { description: 'Roles of the token.' })
  roles: Role[];
}

@Resolver()
export class ViewerResolver {
  @Authorized()
  @Reads('primary')
  @Query(() => ViewerInfo, { description: 'Subject and roles of the caller.' })
  viewer(@Ctx() ctx: RequestContext): ViewerInfo {
    return { subject: ctx.viewer!.subject, roles: ctx.viewer!.roles };
  }
}
