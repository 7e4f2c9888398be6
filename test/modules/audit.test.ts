import { Role } from '../../src/common/auth';
import { factory, ingest, ok, useTestApp } from '../helpers';
import { AuditChainVerificationDocument } from '../generated/graphql';

// A database of its own: other test files write ledger rows behind the service's back, which verification reports.
const t = useTestApp({ fresh: true });

describe('audit trail', () => {
  it('records actor, roles, operation, targets, redacted input and request id for a mutation', async () => {
    const u = factory.user();
    const ids = await ingest(t, [u]);
    const res = await fetch(`${t.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${t.tokens.PRIVACY_OFFICER}`, 'x-request-id': 'req-audit-1' },
      body: JSON.stringify({
        query: `mutation($i: ObjectionInput!) { objectionRecord(input: $i) { event { id } } }`,
        variables: { i: { userId: ids[u.externalId], scope: 'ALL_AI_TRAINING', reason: 'asked by phone' } },
      }),
    });
    const eventId = (await res.json()).data.objectionRecord.event.id;
    const page = ok(
      await t.gql(
        `query($f: AuditEventFilter) { auditEvents(first: 5, filter: $f) { totalCount edges { node { actorSubject actorRoles operation targetIds input requestId prevHash hash } } } }`,
        { f: { targetId: eventId } },
        Role.AUDITOR,
      ),
    ).auditEvents;
    expect(page.totalCount).toBe(1);
    expect(page.edges[0].node).toMatchObject({
      actorSubject: 'test-privacy_officer',
      actorRoles: ['PRIVACY_OFFICER'],
      operation: 'objectionRecord',
      targetIds: [eventId, ids[u.externalId]],
      input: { userId: ids[u.externalId], scope: 'ALL_AI_TRAINING', channel: 'PRIVACY_STAFF', reason: 'asked by phone' },
      requestId: 'req-audit-1',
    });
    expect(page.edges[0].node.hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('is readable by AUDITOR and PRIVACY_OFFICER only', async () => {
    for (const role of [Role.ML_ENGINEER, Role.LINEAGE_READER, Role.INGEST_SERVICE]) {
      expect((await t.gql(`{ auditEvents(first: 1) { totalCount } }`, {}, role)).errors?.[0].extensions?.code).toBe('FORBIDDEN');
      expect((await t.gql(AuditChainVerificationDocument, {}, role)).errors?.[0].extensions?.code).toBe('FORBIDDEN');
    }
  });

  it('stays one valid chain when 50 objection mutations run at once', async () => {
    const people = Array.from({ length: 50 }, () => factory.user());
    const ids = await ingest(t, people);
    const before = (await t.sql(`SELECT count(*)::int AS n FROM audit_events`))[0].n;
    const results = await Promise.all(
      people.map((p) =>
        t.gql(`mutation($i: ObjectionInput!) { objectionRecord(input: $i) { event { id } userErrors { code } } }`, {
          i: { userId: ids[p.externalId], scope: 'ALL_AI_TRAINING' },
        }),
      ),
    );
    expect(results.every((r) => !r.errors && r.data.objectionRecord.userErrors.length === 0)).toBe(true);
    expect((await t.sql(`SELECT count(*)::int AS n FROM audit_events`))[0].n).toBe(before + 50);
    expect(
      (
        await t.sql(`SELECT count(*)::int AS n FROM audit_events WHERE operation = 'objectionRecord' AND target_ids[2] = ANY($1::text[])`, [
          Object.values(ids),
        ])
      )[0].n,
    ).toBe(50);
    const v = ok(await t.gql(AuditChainVerificationDocument, {}, Role.AUDITOR)).auditChainVerification;
    expect(v).toEqual({ valid: true, checkedEvents: before + 50, firstBrokenEventId: null });
    // Each event links to the one before it.
    const broken = await t.sql(
      `SELECT count(*)::int AS n FROM audit_events a JOIN audit_events b ON b.id = (SELECT max(id) FROM audit_events WHERE id < a.id) WHERE a.prev_hash <> b.hash`,
    );
    expect(broken[0].n).toBe(0);
  });

  it("reports the first event altered behind the service's back", async () => {
    const u = factory.user();
    await ingest(t, [u]);
    await ingest(t, [factory.user()]);
    const [victim] = await t.sql(`SELECT id FROM audit_events WHERE operation = 'usersIngest' ORDER BY id DESC OFFSET 1 LIMIT 1`);
    await t.sql(`ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only`);
    try {
      await t.sql(`UPDATE audit_events SET actor_subject = 'someone-else' WHERE id = $1`, [victim.id]);
    } finally {
      await t.sql(`ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only`);
    }
    const v = ok(await t.gql(AuditChainVerificationDocument, {}, Role.AUDITOR)).auditChainVerification;
    expect(v.valid).toBe(false);
    expect(v.firstBrokenEventId).toBe(victim.id);
    // Put it back so later tests see a valid chain again.
    await t.sql(`ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only`);
    await t.sql(`UPDATE audit_events SET actor_subject = 'test-ingest_service' WHERE id = $1`, [victim.id]);
    await t.sql(`ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only`);
    expect(ok(await t.gql(AuditChainVerificationDocument, {}, Role.AUDITOR)).auditChainVerification.valid).toBe(true);
  });

  it('rolls back the audit event with a refused mutation', async () => {
    const before = (await t.sql(`SELECT count(*)::int AS n FROM audit_events`))[0].n;
    const res = ok(
      await t.gql(
        `mutation { objectionWithdraw(input: { userId: "00000000-0000-0000-0000-000000000000", scope: ALL_AI_TRAINING }) { userErrors { code } } }`,
      ),
    );
    expect(res.objectionWithdraw.userErrors[0].code).toBe('NOT_FOUND');
    expect((await t.sql(`SELECT count(*)::int AS n FROM audit_events`))[0].n).toBe(before);
  });
});
