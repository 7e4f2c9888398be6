import { Arg, Authorized, Ctx, FieldResolver, ID, Query, Resolver, Root } from 'type-graphql';
import type { RequestContext } from '../../context';
import { Reads } from '../../common/reads';
import { Role } from '../../common/auth';
import { MAX_GRAPHQL_IMPORT_ROWS } from '../../common/limits';
import { AuditedMutation } from '../audit';
import { User } from '../users';
import {
  ConsentEvent,
  ConsentEventRow,
  ConsentState,
  ObjectionInput,
  ObjectionPayload,
  ObjectionsImportInput,
  ObjectionsImportPayload,
} from './consent.types';

@Resolver(() => ConsentEvent)
export class ConsentResolver {
  @Authorized(Role.PRIVACY_OFFICER, Role.AUDITOR)
  @Reads('primary')
  @Query(() => [ConsentEvent], { description: 'Every consent-ledger event of a person, in effective order.' })
  consentHistory(@Ctx() ctx: RequestContext, @Arg('userId', () => ID) userId: string): Promise<ConsentEventRow[]> {
    return ctx.services.consent.history(ctx, userId);
  }

  @Authorized(Role.PRIVACY_OFFICER, Role.AUDITOR)
  @Reads('primary')
  @Query(() => ConsentState, { description: 'Which scopes are objected for a person at an instant (default now).' })
  consentState(
    @Ctx() ctx: RequestContext,
    @Arg('userId', () => ID) userId: string,
    @Arg('asOf', () => Date, { nullable: true }) asOf?: Date,
  ): Promise<ConsentState> {
    return ctx.services.consent.state(ctx, userId, asOf);
  }

  @FieldResolver(() => User, { nullable: true, description: 'The person.' })
  user(@Root() event: ConsentEventRow, @Ctx() ctx: RequestContext) {
    return ctx.loaders.user.load(event.userId);
  }

  @Authorized(Role.PRIVACY_OFFICER)
  @AuditedMutation(() => ObjectionPayload, { description: 'Record an objection (GDPR Art. 21) for a person and scope (PRIVACY_OFFICER).' })
  objectionRecord(@Ctx() ctx: RequestContext, @Arg('input') input: ObjectionInput) {
    return ctx.services.consent.recordObjection(ctx, input);
  }

  @Authorized(Role.PRIVACY_OFFICER)
  @AuditedMutation(() => ObjectionPayload, {
    description: 'Withdraw an objection in force (PRIVACY_OFFICER); NOTHING_TO_WITHDRAW when there is none.',
  })
  objectionWithdraw(@Ctx() ctx: RequestContext, @Arg('input') input: ObjectionInput) {
    return ctx.services.consent.withdrawObjection(ctx, input);
  }

  @Authorized(Role.PRIVACY_OFFICER)
  @AuditedMutation(() => ObjectionsImportPayload, {
    description: 'Import many objections at once, all or nothing; each bad row is reported by position and field (PRIVACY_OFFICER).',
  })
  objectionsImport(@Ctx() ctx: RequestContext, @Arg('input') input: ObjectionsImportInput) {
    // Rows in variables are counted before coercion (limits.ts); the service counts those written in the document too.
    return ctx.services.consent.importObjections(ctx, input.rows, input.reason, MAX_GRAPHQL_IMPORT_ROWS);
  }
}
