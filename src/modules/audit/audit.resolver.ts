import { Arg, Args, Authorized, Ctx, Query, Resolver } from 'type-graphql';
import type { RequestContext } from '../../context';
import { Role } from '../../common/auth';
import { ConnectionType, PageArgs } from '../../common/pagination';
import { AuditChainVerification, AuditEvent, AuditEventFilter } from './audit.types';
import type { AuditRow } from './audit.service';

export const AuditEventConnection = ConnectionType(AuditEvent, 'AuditEvent');

const toEvent = (r: AuditRow): AuditEvent => ({
  id: r.id,
  occurredAt: r.occurred_at,
  actorSubject: r.actor_subject,
  actorRoles: r.actor_roles,
  operation: r.operation,
  targetIds: r.target_ids,
  input: r.input,
  requestId: r.request_id,
  prevHash: r.prev_hash,
  hash: r.hash,
});

@Resolver()
export class AuditResolver {
  @Authorized(Role.AUDITOR, Role.PRIVACY_OFFICER)
  @Query(() => AuditEventConnection, { description: 'Audit events, newest first.' })
  async auditEvents(@Ctx() ctx: RequestContext, @Args() page: PageArgs, @Arg('filter', () => AuditEventFilter, { nullable: true }) filter?: AuditEventFilter) {
    const conn = await ctx.services.audit.list(ctx, filter ?? {}, page.first, page.after);
    return { ...conn, edges: conn.edges.map((e) => ({ cursor: e.cursor, node: toEvent(e.node) })) };
  }

  @Authorized(Role.AUDITOR, Role.PRIVACY_OFFICER)
  @Query(() => AuditChainVerification, { description: 'Recomputes every hash of the audit chain and reports the first event that does not match.' })
  auditChainVerification(@Ctx() ctx: RequestContext): Promise<AuditChainVerification> {
    return ctx.services.audit.verifyChain(ctx);
  }
}
