import { Arg, Args, Authorized, Ctx, Query, Resolver } from 'type-graphql';
import type { RequestContext } from '../../context';
import { Reads } from '../../common/reads';
import { Role } from '../../common/auth';
import { ConnectionType, PageArgs } from '../../common/pagination';
import { AuditChainVerification, AuditEvent, AuditEventFilter } from './audit.types';
import { AuditRow, eventFields } from './audit.service';

export const AuditEventConnection = ConnectionType(AuditEvent, 'AuditEvent');

const toEvent = (r: AuditRow): AuditEvent => ({
  id: r.id,
  ...eventFields(r, r.occurred_at),
  prevHash: r.prev_hash,
  hash: r.hash,
  hashVersion: r.hash_version ?? 1,
  ledger: r.ledger ?? null,
});

@Resolver()
export class AuditResolver {
  @Authorized(Role.AUDITOR, Role.PRIVACY_OFFICER)
  @Reads('primary')
  @Query(() => AuditEventConnection, { description: 'Audit events, newest first.' })
  async auditEvents(
    @Ctx() ctx: RequestContext,
    @Args() page: PageArgs,
    @Arg('filter', () => AuditEventFilter, { nullable: true }) filter?: AuditEventFilter,
  ) {
    const conn = await ctx.services.audit.list(ctx, filter ?? {}, page.first, page.after);
    return { ...conn, edges: conn.edges.map((e) => ({ cursor: e.cursor, node: toEvent(e.node) })) };
  }

  @Authorized(Role.AUDITOR, Role.PRIVACY_OFFICER)
  @Reads('primary')
  @Query(() => AuditChainVerification, {
    description:
      'Recomputes every hash of the audit chain, checks it against the latest signed checkpoint and the consent ledger against it.',
  })
  auditChainVerification(@Ctx() ctx: RequestContext): Promise<AuditChainVerification> {
    return ctx.services.audit.verifyChain(ctx);
  }
}
