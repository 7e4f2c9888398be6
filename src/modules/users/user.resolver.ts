import { Arg, Args, Authorized, Ctx, FieldResolver, ID, Int, Query, Resolver, Root } from 'type-graphql';
import { LocalDateResolver } from 'graphql-scalars';
import type { RequestContext } from '../../context';
import { Reads } from '../../common/reads';
import { forbidden, hasRole, Role } from '../../common/auth';
import { PageArgs } from '../../common/pagination';
import { AuditedMutation } from '../audit';
import {
  ErasureRequestInput,
  ErasureRequestPayload,
  User,
  UserConnection,
  UserFilter,
  UserRow,
  UsersIngestInput,
  UsersIngestPayload,
} from './user.types';

/** Roles that may read people at all (never their PII unless PRIVACY_OFFICER). */
export const USER_READERS = [Role.PRIVACY_OFFICER, Role.AUDITOR, Role.ML_ENGINEER, Role.INGEST_SERVICE];

@Resolver(() => User)
export class UserResolver {
  @Authorized(...USER_READERS)
  @Reads('primary')
  @Query(() => User, { nullable: true, description: 'A person by id.' })
  user(@Ctx() ctx: RequestContext, @Arg('id', () => ID) id: string): Promise<UserRow | undefined> {
    return ctx.loaders.user.load(id);
  }

  @Authorized(...USER_READERS)
  @Reads('primary')
  @Query(() => UserConnection, { description: 'People, ordered by id.' })
  users(@Ctx() ctx: RequestContext, @Args() page: PageArgs, @Arg('filter', () => UserFilter, { nullable: true }) filter?: UserFilter) {
    return ctx.services.users.list(ctx, filter ?? {}, page.first, page.after);
  }

  @FieldResolver(() => String, { nullable: true, description: 'Email address (PII: PRIVACY_OFFICER only).' })
  email(@Root() user: UserRow, @Ctx() ctx: RequestContext): string | null {
    if (!hasRole(ctx.viewer, Role.PRIVACY_OFFICER)) throw forbidden('User.email is PII: PRIVACY_OFFICER only');
    return user.email;
  }

  @FieldResolver(() => LocalDateResolver, { nullable: true, description: 'Birth date (PII: PRIVACY_OFFICER only).' })
  birthDate(@Root() user: UserRow, @Ctx() ctx: RequestContext): string | null {
    if (!hasRole(ctx.viewer, Role.PRIVACY_OFFICER)) throw forbidden('User.birthDate is PII: PRIVACY_OFFICER only');
    return user.birthDate;
  }

  @FieldResolver(() => Int, { description: 'How many content items the person has produced.' })
  contentCount(@Root() user: UserRow, @Ctx() ctx: RequestContext): Promise<number> {
    return ctx.loaders.contentCountByAuthor.load(user.id);
  }

  @Authorized(Role.INGEST_SERVICE)
  @AuditedMutation(() => UsersIngestPayload, { description: 'Create or update people by externalId (INGEST_SERVICE); all or nothing.' })
  usersIngest(@Ctx() ctx: RequestContext, @Arg('input') input: UsersIngestInput) {
    return ctx.services.users.ingest(ctx, input);
  }

  @Authorized(Role.PRIVACY_OFFICER)
  @AuditedMutation(() => ErasureRequestPayload, {
    description: 'Erase a person (GDPR Art. 17): PII and content text removed, ids and hashes kept (PRIVACY_OFFICER).',
  })
  erasureRequest(@Ctx() ctx: RequestContext, @Arg('input') input: ErasureRequestInput) {
    return ctx.services.users.erase(ctx, input);
  }
}
