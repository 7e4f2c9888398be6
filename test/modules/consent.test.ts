import { Role } from '../../src/common/auth';
import { ConsentChannel, ConsentScope } from '../../src/common/enums';
import { FACT_TABLES } from '../../src/db/citus';
import { runAudited } from '../../src/modules/audit';
import { factory, ingest, ok, uniq, useTestApp } from '../helpers';
import { ErasureRequestDocument, ObjectionRecordDocument, ObjectionWithdrawDocument, ObjectionsImportDocument } from '../generated/graphql';

const t = useTestApp();

const count = async (table: string) => (await t.sql(`SELECT count(*)::int AS n FROM ${table}`))[0].n as number;

async function person(over: Record<string, unknown> = {}) {
  const u = factory.user(over);
  const item = factory.item(u.externalId, { text: `secret text of ${u.externalId}` });
  const prompt = factory.item(u.externalId, { platform: 'AI_ASSISTANT', kind: 'AI_PROMPT', text: `prompt of ${u.externalId}` });
  const ids = await ingest(t, [u], [item, prompt]);
  return { externalId: u.externalId, id: ids[u.externalId], itemId: ids[item.externalId], promptId: ids[prompt.externalId] };
}

describe('objectionRecord and objectionWithdraw', () => {
  it('records an objection with defaults, and the item becomes ineligible', async () => {
    const p = await person();
    const before = await t.services().eligibility.verdicts(t.context(), [p.itemId], 'eu-ai-training');
    expect(before[0].eligible).toBe(true);
    const r = ok(await t.gql(ObjectionRecordDocument, { input: { userId: p.id, scope: 'PUBLIC_CONTENT' } })).objectionRecord;
    expect(r.userErrors).toEqual([]);
    expect(r.event).toMatchObject({
      userId: p.id,
      type: 'OBJECTION',
      scope: 'PUBLIC_CONTENT',
      channel: 'PRIVACY_STAFF',
      actor: 'test-privacy_officer',
    });
    expect(Math.abs(Date.parse(r.event.effectiveAt) - Date.now())).toBeLessThan(10_000);
    const after = await t.services().eligibility.verdicts(t.context(), [p.itemId, p.promptId], 'eu-ai-training');
    expect(after.map((v) => v.reasons)).toEqual([['OBJECTED'], []]);
  });

  it('refuses an effective-at in the future, and a backdated one without a reason', async () => {
    const p = await person();
    const before = await count('consent_events');
    const future = ok(
      await t.gql(ObjectionRecordDocument, {
        input: { userId: p.id, scope: 'ALL_AI_TRAINING', effectiveAt: new Date(Date.now() + 3600_000).toISOString() },
      }),
    );
    expect(future.objectionRecord.userErrors[0]).toMatchObject({ code: 'BAD_USER_INPUT', field: 'effectiveAt' });
    const noReason = ok(
      await t.gql(ObjectionRecordDocument, { input: { userId: p.id, scope: 'ALL_AI_TRAINING', effectiveAt: '2025-01-01T00:00:00Z' } }),
    );
    expect(noReason.objectionRecord.userErrors[0]).toMatchObject({ code: 'BAD_USER_INPUT', field: 'reason' });
    expect(await count('consent_events')).toBe(before);
    const backdated = ok(
      await t.gql(ObjectionRecordDocument, {
        input: {
          userId: p.id,
          scope: 'ALL_AI_TRAINING',
          effectiveAt: '2025-01-01T00:00:00Z',
          reason: 'paper form received 2025-01-01',
          channel: 'OBJECTION_FORM',
        },
      }),
    );
    expect(backdated.objectionRecord.event).toMatchObject({ effectiveAt: '2025-01-01T00:00:00.000Z', channel: 'OBJECTION_FORM' });
  });

  it('refuses an unknown person with NOT_FOUND and a malformed id with BAD_USER_INPUT', async () => {
    expect(
      ok(await t.gql(ObjectionRecordDocument, { input: { userId: '00000000-0000-0000-0000-000000000000', scope: 'ALL_AI_TRAINING' } }))
        .objectionRecord.userErrors[0].code,
    ).toBe('NOT_FOUND');
    expect(
      ok(await t.gql(ObjectionRecordDocument, { input: { userId: 'nope', scope: 'ALL_AI_TRAINING' } })).objectionRecord.userErrors[0],
    ).toMatchObject({ code: 'BAD_USER_INPUT', field: 'userId' });
  });

  it('replays an idempotency key with the same input, and refuses it with a different input', async () => {
    const p = await person();
    const key = uniq('idem');
    const input = { userId: p.id, scope: 'ALL_AI_TRAINING', idempotencyKey: key };
    const first = ok(await t.gql(ObjectionRecordDocument, { input })).objectionRecord;
    const before = await count('consent_events');
    const again = ok(await t.gql(ObjectionRecordDocument, { input })).objectionRecord;
    expect(again).toMatchObject({ replayed: true, userErrors: [] });
    expect(again.event.id).toBe(first.event.id);
    expect(await count('consent_events')).toBe(before);
    const conflict = ok(await t.gql(ObjectionRecordDocument, { input: { ...input, scope: 'PUBLIC_CONTENT' } })).objectionRecord;
    expect(conflict.userErrors[0]).toMatchObject({ code: 'CONFLICT', field: 'idempotencyKey' });
    expect(await count('consent_events')).toBe(before);
  });

  it('replays an idempotency key when an optional field is null one time and omitted the other (same meaning)', async () => {
    const p = await person();
    for (const [scope, first, second] of [
      ['PUBLIC_CONTENT', {}, { reason: null, effectiveAt: null }],
      ['ALL_AI_TRAINING', { reason: null, effectiveAt: null }, {}],
    ] as const) {
      const input = { userId: p.id, scope, idempotencyKey: uniq('idem') };
      const a = ok(await t.gql(ObjectionRecordDocument, { input: { ...input, ...first } })).objectionRecord;
      expect(a.userErrors).toEqual([]);
      const b = ok(await t.gql(ObjectionRecordDocument, { input: { ...input, ...second } })).objectionRecord;
      expect(b).toMatchObject({ replayed: true, userErrors: [] });
      expect(b.event.id).toBe(a.event.id);
    }
  });

  it('withdraws an objection in force, and refuses to withdraw nothing', async () => {
    const p = await person();
    const before = await count('consent_events');
    const nothing = ok(await t.gql(ObjectionWithdrawDocument, { input: { userId: p.id, scope: 'AI_INTERACTIONS' } })).objectionWithdraw;
    expect(nothing.userErrors[0]).toMatchObject({ code: 'NOTHING_TO_WITHDRAW', field: 'scope' });
    expect(await count('consent_events')).toBe(before);
    ok(await t.gql(ObjectionRecordDocument, { input: { userId: p.id, scope: 'AI_INTERACTIONS' } }));
    // A withdrawal of another scope does not touch this one.
    expect(
      ok(await t.gql(ObjectionWithdrawDocument, { input: { userId: p.id, scope: 'ALL_AI_TRAINING' } })).objectionWithdraw.userErrors[0]
        .code,
    ).toBe('NOTHING_TO_WITHDRAW');
    const done = ok(await t.gql(ObjectionWithdrawDocument, { input: { userId: p.id, scope: 'AI_INTERACTIONS' } })).objectionWithdraw;
    expect(done.event).toMatchObject({ type: 'OBJECTION_WITHDRAWN', scope: 'AI_INTERACTIONS' });
    expect(
      ok(await t.gql(ObjectionWithdrawDocument, { input: { userId: p.id, scope: 'AI_INTERACTIONS' } })).objectionWithdraw.userErrors[0]
        .code,
    ).toBe('NOTHING_TO_WITHDRAW');
    const [v] = await t.services().eligibility.verdicts(t.context(), [p.promptId], 'eu-ai-training');
    expect(v.eligible).toBe(true);
  });

  it('is refused to every role but PRIVACY_OFFICER', async () => {
    const p = await person();
    for (const role of [Role.AUDITOR, Role.ML_ENGINEER, Role.LINEAGE_READER, Role.INGEST_SERVICE]) {
      const res = await t.gql(ObjectionRecordDocument, { input: { userId: p.id, scope: 'ALL_AI_TRAINING' } }, role);
      expect(res.errors?.[0].extensions?.code).toBe('FORBIDDEN');
    }
    expect((await t.sql(`SELECT count(*)::int AS n FROM consent_events WHERE user_id = $1`, [p.id]))[0].n).toBe(0);
  });
});

describe('consentHistory and consentState', () => {
  it('lists the ledger in effective order and reports each scope with the event deciding it', async () => {
    const p = await person();
    ok(
      await t.gql(ObjectionRecordDocument, {
        input: { userId: p.id, scope: 'PUBLIC_CONTENT', effectiveAt: '2025-03-01T00:00:00Z', reason: 'form' },
      }),
    );
    ok(
      await t.gql(ObjectionRecordDocument, {
        input: { userId: p.id, scope: 'ALL_AI_TRAINING', effectiveAt: '2025-01-01T00:00:00Z', reason: 'form' },
      }),
    );
    ok(
      await t.gql(ObjectionWithdrawDocument, {
        input: { userId: p.id, scope: 'ALL_AI_TRAINING', effectiveAt: '2025-06-01T00:00:00Z', reason: 'changed mind' },
      }),
    );
    const h = ok(
      await t.gql(`query($u: ID!) { consentHistory(userId: $u) { type scope effectiveAt } }`, { u: p.id }, Role.AUDITOR),
    ).consentHistory;
    expect(h.map((e: any) => `${e.type}/${e.scope}/${e.effectiveAt.slice(0, 10)}`)).toEqual([
      'OBJECTION/ALL_AI_TRAINING/2025-01-01',
      'OBJECTION/PUBLIC_CONTENT/2025-03-01',
      'OBJECTION_WITHDRAWN/ALL_AI_TRAINING/2025-06-01',
    ]);
    const state = async (asOf?: string) =>
      ok(
        await t.gql(
          `query($u: ID!, $a: DateTimeISO) { consentState(userId: $u, asOf: $a) { objectedScopes scopes { scope objected decidedBy { type } } } }`,
          { u: p.id, a: asOf },
        ),
      ).consentState;
    expect((await state('2024-12-31T00:00:00Z')).objectedScopes).toEqual([]);
    expect((await state('2025-04-01T00:00:00Z')).objectedScopes).toEqual(['ALL_AI_TRAINING', 'PUBLIC_CONTENT']);
    const now = await state();
    expect(now.objectedScopes).toEqual(['PUBLIC_CONTENT']);
    expect(now.scopes.find((s: any) => s.scope === 'ALL_AI_TRAINING')).toEqual({
      scope: 'ALL_AI_TRAINING',
      objected: false,
      decidedBy: { type: 'OBJECTION_WITHDRAWN' },
    });
    expect(now.scopes.find((s: any) => s.scope === 'AI_INTERACTIONS')).toEqual({
      scope: 'AI_INTERACTIONS',
      objected: false,
      decidedBy: null,
    });
  });
});

describe('objectionsImport', () => {
  // Through GraphQL at most 1,000 rows a call (bigger batches: POST /objections/import, objections-upload.test.ts).
  it('imports 1,000 rows in one call, set-based', async () => {
    const people = Array.from({ length: 200 }, () => factory.user());
    await ingest(t, people);
    const scopes = ['ALL_AI_TRAINING', 'PUBLIC_CONTENT', 'AI_INTERACTIONS'];
    const rows = Array.from({ length: 1000 }, (_, i) => ({
      externalUserId: people[i % people.length].externalId,
      scope: scopes[i % 3],
      effectiveAt: new Date(Date.UTC(2025, 0, 1) + i * 60_000).toISOString(),
    }));
    const before = await count('consent_events');
    const res = ok(await t.gql(ObjectionsImportDocument, { input: { rows, reason: 'regulator batch 2025-01' } })).objectionsImport;
    expect(res).toEqual({ importedCount: 1000, userErrors: [] });
    expect(await count('consent_events')).toBe(before + 1000);
    const [audit] = await t.sql(`SELECT input FROM audit_events WHERE operation = 'objectionsImport' ORDER BY id DESC LIMIT 1`);
    expect(audit.input.rows.$summary.count).toBe(1000);
  });

  it('writes nothing when one row in the middle is bad, and names its position and field', async () => {
    const people = Array.from({ length: 3 }, () => factory.user());
    await ingest(t, people);
    const rows = Array.from({ length: 1000 }, (_, i) => ({
      externalUserId: people[i % 3].externalId,
      scope: 'ALL_AI_TRAINING',
      effectiveAt: new Date(Date.UTC(2025, 0, 1) + i * 1000).toISOString(),
    }));
    rows[500] = { ...rows[500], effectiveAt: '2999-01-01T00:00:00Z' };
    rows[700] = { ...rows[700], externalUserId: 'nobody-' + uniq() };
    const before = await count('consent_events');
    const res = ok(await t.gql(ObjectionsImportDocument, { input: { rows, reason: 'batch' } })).objectionsImport;
    expect(res.importedCount).toBeNull();
    expect(res.userErrors).toEqual([
      expect.objectContaining({ code: 'BAD_USER_INPUT', field: 'rows[500].effectiveAt' }),
      expect.objectContaining({ code: 'NOT_FOUND', field: 'rows[700].externalUserId' }),
    ]);
    expect(await count('consent_events')).toBe(before);
  });

  it('reports duplicate rows and backdated rows without any reason', async () => {
    const u = factory.user();
    await ingest(t, [u]);
    const row = { externalUserId: u.externalId, scope: 'PUBLIC_CONTENT', effectiveAt: '2025-01-01T00:00:00Z', reason: 'r' };
    const dup = ok(await t.gql(ObjectionsImportDocument, { input: { rows: [row, row] } })).objectionsImport;
    expect(dup.userErrors[0]).toMatchObject({ field: 'rows[1].externalUserId' });
    const noReason = ok(await t.gql(ObjectionsImportDocument, { input: { rows: [{ ...row, reason: undefined }] } })).objectionsImport;
    expect(noReason.userErrors[0]).toMatchObject({ field: 'rows[0].reason' });
  });
});

describe('erasureRequest', () => {
  it('removes PII and content text from every read path, keeps ids and hashes, and makes the content ineligible', async () => {
    const p = await person({ email: 'erase.me@example.com', birthDate: '1985-07-07', handle: 'eraseme' });
    const hashBefore = (await t.sql(`SELECT content_hash FROM content_items WHERE id = $1`, [p.itemId]))[0].content_hash;
    const r = ok(await t.gql(ErasureRequestDocument, { input: { userId: p.id, reason: 'DSAR-2026-0042' } })).erasureRequest;
    expect(r.userErrors).toEqual([]);
    expect(r.erasedContentCount).toBe(2);
    expect(r.user).toMatchObject({ id: p.id, handle: null, email: null, birthDate: null, country: 'DE' });
    expect(r.user.erasedAt).toBeTruthy();
    // Every read path.
    const reads = [
      ok(await t.gql(`query($id: ID!) { user(id: $id) { handle email birthDate } }`, { id: p.id })),
      ok(await t.gql(`query($id: ID!) { contentItem(id: $id) { text contentHash author { email } } }`, { id: p.itemId })),
      ok(await t.gql(`query($u: ID!) { contentItems(first: 10, filter: { authorId: $u }) { edges { node { text } } } }`, { u: p.id })),
      ok(await t.gql(`query($id: ID!) { eligibility(itemIds: [$id]) { reasons item { text } } }`, { id: p.itemId })),
      ok(
        await t.gql(
          `query($u: ID!) { users(first: 5, filter: { externalId: "${p.externalId}" }) { edges { node { email birthDate handle } } } consentHistory(userId: $u) { id } }`,
          { u: p.id },
        ),
      ),
      ok(await t.gql(`{ auditEvents(first: 20) { edges { node { input } } } }`)),
    ];
    const text = JSON.stringify(reads);
    for (const secret of ['erase.me@example.com', '1985-07-07', 'eraseme', `secret text of ${p.externalId}`, `prompt of ${p.externalId}`])
      expect(text).not.toContain(secret);
    expect(reads[1].contentItem.contentHash).toBe(hashBefore);
    expect(reads[3].eligibility[0].reasons).toContain('AUTHOR_ERASED');
    const db = await t.sql(`SELECT email, handle, birth_date, erased_by, erasure_reason FROM users WHERE id = $1`, [p.id]);
    expect(db[0]).toEqual({
      email: null,
      handle: null,
      birth_date: null,
      erased_by: 'test-privacy_officer',
      erasure_reason: 'DSAR-2026-0042',
    });
    expect((await t.sql(`SELECT count(*)::int AS n FROM content_items WHERE author_id = $1 AND text IS NOT NULL`, [p.id]))[0].n).toBe(0);
  });

  it('refuses a second erasure and re-ingesting an erased person', async () => {
    const p = await person();
    ok(await t.gql(ErasureRequestDocument, { input: { userId: p.id, reason: 'x' } }));
    expect(ok(await t.gql(ErasureRequestDocument, { input: { userId: p.id, reason: 'x' } })).erasureRequest.userErrors[0].code).toBe(
      'ALREADY_ERASED',
    );
    const again = ok(
      await t.gql(
        `mutation($i: UsersIngestInput!) { usersIngest(input: $i) { userErrors { code field } } }`,
        { i: { users: [factory.user({ externalId: p.externalId })] } },
        Role.INGEST_SERVICE,
      ),
    );
    expect(again.usersIngest.userErrors[0]).toMatchObject({ code: 'ALREADY_ERASED', field: 'users[0].externalId' });
  });
});

describe('the knowledge ordering cannot be forgotten', () => {
  // A fact written outside runAudited's fact session (src/db/citus.ts factSession) would, on Citus, carry a worker's
  // transaction id, and a build could miss it although it committed first. Every store function that writes a fact
  // table asserts the session (test/system/architecture.test.ts checks each one does): the write is refused before
  // any statement, on every database kind, and the same call inside runAudited goes through.
  it('FACT_TABLES names exactly the tables whose rows the database stamps with fact_xid()', async () => {
    const stamped = await t.sql(
      `SELECT DISTINCT c.relname AS t FROM pg_attrdef d JOIN pg_class c ON c.oid = d.adrelid
        WHERE pg_get_expr(d.adbin, d.adrelid) LIKE '%fact_xid()%' AND NOT c.relispartition AND c.relnamespace = 'public'::regnamespace
       UNION SELECT DISTINCT tgrelid::regclass::text FROM pg_trigger g JOIN pg_proc p ON p.oid = g.tgfoid
        WHERE NOT g.tgisinternal AND p.prosrc LIKE '%fact_xid()%'`,
    );
    // On Citus the coordinator also lists its shard placements (name_<shard id>): the same tables.
    const tables = new Set(stamped.map((r: { t: string }) => r.t.replace(/_\d+$/, '')));
    expect([...tables].sort()).toEqual([...FACT_TABLES].sort());
  });

  it('refuses a ledger write, an ingest and an erasure outside a fact session, and accepts them inside one', async () => {
    const p = await person();
    const events = await count('consent_events');
    const items = await count('content_items');
    const ctx = t.context();
    const { consent, content, users } = t.services();
    const outside = /outside a fact session/;
    await expect(
      consent.recordObjection(ctx, { userId: p.id, scope: ConsentScope.PUBLIC_CONTENT, channel: ConsentChannel.PRIVACY_STAFF } as never),
    ).rejects.toThrow(outside);
    await expect(
      consent.importChunk(ctx, [{ externalUserId: p.externalId, scope: ConsentScope.ALL_AI_TRAINING } as never]),
    ).rejects.toThrow(outside);
    const u = factory.user();
    await expect(content.ingest(ctx, { items: [factory.item(u.externalId)] } as never)).rejects.toThrow();
    await expect(users.erase(ctx, { userId: p.id, reason: 'outside' } as never)).rejects.toThrow(outside);
    expect(await count('consent_events')).toBe(events);
    expect(await count('content_items')).toBe(items);
    expect((await t.sql(`SELECT erased_at FROM users WHERE id = $1`, [p.id]))[0].erased_at).toBeNull();

    const outcome = await runAudited(ctx, 'objectionRecord', {}, (tx) =>
      consent.recordObjection(tx, { userId: p.id, scope: ConsentScope.PUBLIC_CONTENT, channel: ConsentChannel.PRIVACY_STAFF } as never),
    );
    expect(outcome.event).toMatchObject({ userId: p.id, scope: 'PUBLIC_CONTENT' });
    expect(await count('consent_events')).toBe(events + 1);
  });
});
