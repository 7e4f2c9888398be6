import { Role } from '../src/common/auth';
import { factory, ingest, ok, startTestApp, TestApp, uniq } from './helpers';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => t?.close());

const RECORD = `mutation($input: ObjectionInput!) { objectionRecord(input: $input) { event { id userId type scope effectiveAt recordedAt channel actor reason } replayed userErrors { code message field } } }`;
const WITHDRAW = `mutation($input: ObjectionInput!) { objectionWithdraw(input: $input) { event { id type scope } replayed userErrors { code message field } } }`;
const IMPORT = `mutation($input: ObjectionsImportInput!) { objectionsImport(input: $input) { importedCount userErrors { code message field } } }`;
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
    const r = ok(await t.gql(RECORD, { input: { userId: p.id, scope: 'PUBLIC_CONTENT' } })).objectionRecord;
    expect(r.userErrors).toEqual([]);
    expect(r.event).toMatchObject({ userId: p.id, type: 'OBJECTION', scope: 'PUBLIC_CONTENT', channel: 'PRIVACY_STAFF', actor: 'test-privacy_officer' });
    expect(Math.abs(Date.parse(r.event.effectiveAt) - Date.now())).toBeLessThan(10_000);
    const after = await t.services().eligibility.verdicts(t.context(), [p.itemId, p.promptId], 'eu-ai-training');
    expect(after.map((v) => v.reasons)).toEqual([['OBJECTED'], []]);
  });

  it('refuses an effective-at in the future, and a backdated one without a reason', async () => {
    const p = await person();
    const before = await count('consent_events');
    const future = ok(await t.gql(RECORD, { input: { userId: p.id, scope: 'ALL_AI_TRAINING', effectiveAt: new Date(Date.now() + 3600_000).toISOString() } }));
    expect(future.objectionRecord.userErrors[0]).toMatchObject({ code: 'BAD_USER_INPUT', field: 'effectiveAt' });
    const noReason = ok(await t.gql(RECORD, { input: { userId: p.id, scope: 'ALL_AI_TRAINING', effectiveAt: '2025-01-01T00:00:00Z' } }));
    expect(noReason.objectionRecord.userErrors[0]).toMatchObject({ code: 'BAD_USER_INPUT', field: 'reason' });
    expect(await count('consent_events')).toBe(before);
    const backdated = ok(await t.gql(RECORD, { input: { userId: p.id, scope: 'ALL_AI_TRAINING', effectiveAt: '2025-01-01T00:00:00Z', reason: 'paper form received 2025-01-01', channel: 'OBJECTION_FORM' } }));
    expect(backdated.objectionRecord.event).toMatchObject({ effectiveAt: '2025-01-01T00:00:00.000Z', channel: 'OBJECTION_FORM' });
  });

  it('refuses an unknown person with NOT_FOUND and a malformed id with BAD_USER_INPUT', async () => {
    expect(ok(await t.gql(RECORD, { input: { userId: '00000000-0000-0000-0000-000000000000', scope: 'ALL_AI_TRAINING' } })).objectionRecord.userErrors[0].code).toBe('NOT_FOUND');
    expect(ok(await t.gql(RECORD, { input: { userId: 'nope', scope: 'ALL_AI_TRAINING' } })).objectionRecord.userErrors[0]).toMatchObject({ code: 'BAD_USER_INPUT', field: 'userId' });
  });

  it('replays an idempotency key with the same input, and refuses it with a different input', async () => {
    const p = await person();
    const key = uniq('idem');
    const input = { userId: p.id, scope: 'ALL_AI_TRAINING', idempotencyKey: key };
    const first = ok(await t.gql(RECORD, { input })).objectionRecord;
    const before = await count('consent_events');
    const again = ok(await t.gql(RECORD, { input })).objectionRecord;
    expect(again).toMatchObject({ replayed: true, userErrors: [] });
    expect(again.event.id).toBe(first.event.id);
    expect(await count('consent_events')).toBe(before);
    const conflict = ok(await t.gql(RECORD, { input: { ...input, scope: 'PUBLIC_CONTENT' } })).objectionRecord;
    expect(conflict.userErrors[0]).toMatchObject({ code: 'CONFLICT', field: 'idempotencyKey' });
    expect(await count('consent_events')).toBe(before);
  });

  it('replays an idempotency key when an optional field is null one time and omitted the other (same meaning)', async () => {
    const p = await person();
    for (const [scope, first, second] of [['PUBLIC_CONTENT', {}, { reason: null, effectiveAt: null }], ['ALL_AI_TRAINING', { reason: null, effectiveAt: null }, {}]] as const) {
      const input = { userId: p.id, scope, idempotencyKey: uniq('idem') };
      const a = ok(await t.gql(RECORD, { input: { ...input, ...first } })).objectionRecord;
      expect(a.userErrors).toEqual([]);
      const b = ok(await t.gql(RECORD, { input: { ...input, ...second } })).objectionRecord;
      expect(b).toMatchObject({ replayed: true, userErrors: [] });
      expect(b.event.id).toBe(a.event.id);
    }
  });

  it('withdraws an objection in force, and refuses to withdraw nothing', async () => {
    const p = await person();
    const before = await count('consent_events');
    const nothing = ok(await t.gql(WITHDRAW, { input: { userId: p.id, scope: 'AI_INTERACTIONS' } })).objectionWithdraw;
    expect(nothing.userErrors[0]).toMatchObject({ code: 'NOTHING_TO_WITHDRAW', field: 'scope' });
    expect(await count('consent_events')).toBe(before);
    ok(await t.gql(RECORD, { input: { userId: p.id, scope: 'AI_INTERACTIONS' } }));
    // A withdrawal of another scope does not touch this one.
    expect(ok(await t.gql(WITHDRAW, { input: { userId: p.id, scope: 'ALL_AI_TRAINING' } })).objectionWithdraw.userErrors[0].code).toBe('NOTHING_TO_WITHDRAW');
    const done = ok(await t.gql(WITHDRAW, { input: { userId: p.id, scope: 'AI_INTERACTIONS' } })).objectionWithdraw;
    expect(done.event).toMatchObject({ type: 'OBJECTION_WITHDRAWN', scope: 'AI_INTERACTIONS' });
    expect(ok(await t.gql(WITHDRAW, { input: { userId: p.id, scope: 'AI_INTERACTIONS' } })).objectionWithdraw.userErrors[0].code).toBe('NOTHING_TO_WITHDRAW');
    const [v] = await t.services().eligibility.verdicts(t.context(), [p.promptId], 'eu-ai-training');
    expect(v.eligible).toBe(true);
  });

  it('is refused to every role but PRIVACY_OFFICER', async () => {
    const p = await person();
    for (const role of [Role.AUDITOR, Role.ML_ENGINEER, Role.LINEAGE_READER, Role.INGEST_SERVICE]) {
      const res = await t.gql(RECORD, { input: { userId: p.id, scope: 'ALL_AI_TRAINING' } }, role);
      expect(res.errors?.[0].extensions?.code).toBe('FORBIDDEN');
    }
    expect((await t.sql(`SELECT count(*)::int AS n FROM consent_events WHERE user_id = $1`, [p.id]))[0].n).toBe(0);
  });
});

describe('consentHistory and consentState', () => {
  it('lists the ledger in effective order and reports each scope with the event deciding it', async () => {
    const p = await person();
    ok(await t.gql(RECORD, { input: { userId: p.id, scope: 'PUBLIC_CONTENT', effectiveAt: '2025-03-01T00:00:00Z', reason: 'form' } }));
    ok(await t.gql(RECORD, { input: { userId: p.id, scope: 'ALL_AI_TRAINING', effectiveAt: '2025-01-01T00:00:00Z', reason: 'form' } }));
    ok(await t.gql(WITHDRAW, { input: { userId: p.id, scope: 'ALL_AI_TRAINING', effectiveAt: '2025-06-01T00:00:00Z', reason: 'changed mind' } }));
    const h = ok(await t.gql(`query($u: ID!) { consentHistory(userId: $u) { type scope effectiveAt } }`, { u: p.id }, Role.AUDITOR)).consentHistory;
    expect(h.map((e: any) => `${e.type}/${e.scope}/${e.effectiveAt.slice(0, 10)}`)).toEqual([
      'OBJECTION/ALL_AI_TRAINING/2025-01-01', 'OBJECTION/PUBLIC_CONTENT/2025-03-01', 'OBJECTION_WITHDRAWN/ALL_AI_TRAINING/2025-06-01',
    ]);
    const state = async (asOf?: string) =>
      ok(await t.gql(`query($u: ID!, $a: DateTimeISO) { consentState(userId: $u, asOf: $a) { objectedScopes scopes { scope objected decidedBy { type } } } }`, { u: p.id, a: asOf })).consentState;
    expect((await state('2024-12-31T00:00:00Z')).objectedScopes).toEqual([]);
    expect((await state('2025-04-01T00:00:00Z')).objectedScopes).toEqual(['ALL_AI_TRAINING', 'PUBLIC_CONTENT']);
    const now = await state();
    expect(now.objectedScopes).toEqual(['PUBLIC_CONTENT']);
    expect(now.scopes.find((s: any) => s.scope === 'ALL_AI_TRAINING')).toEqual({ scope: 'ALL_AI_TRAINING', objected: false, decidedBy: { type: 'OBJECTION_WITHDRAWN' } });
    expect(now.scopes.find((s: any) => s.scope === 'AI_INTERACTIONS')).toEqual({ scope: 'AI_INTERACTIONS', objected: false, decidedBy: null });
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
    const res = ok(await t.gql(IMPORT, { input: { rows, reason: 'regulator batch 2025-01' } })).objectionsImport;
    expect(res).toEqual({ importedCount: 1000, userErrors: [] });
    expect(await count('consent_events')).toBe(before + 1000);
    const [audit] = await t.sql(`SELECT input FROM audit_events WHERE operation = 'objectionsImport' ORDER BY id DESC LIMIT 1`);
    expect(audit.input.rows.$summary.count).toBe(1000);
  });

  it('writes nothing when one row in the middle is bad, and names its position and field', async () => {
    const people = Array.from({ length: 3 }, () => factory.user());
    await ingest(t, people);
    const rows = Array.from({ length: 1000 }, (_, i) => ({ externalUserId: people[i % 3].externalId, scope: 'ALL_AI_TRAINING', effectiveAt: new Date(Date.UTC(2025, 0, 1) + i * 1000).toISOString() }));
    rows[500] = { ...rows[500], effectiveAt: '2999-01-01T00:00:00Z' };
    rows[700] = { ...rows[700], externalUserId: 'nobody-' + uniq() };
    const before = await count('consent_events');
    const res = ok(await t.gql(IMPORT, { input: { rows, reason: 'batch' } })).objectionsImport;
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
    const dup = ok(await t.gql(IMPORT, { input: { rows: [row, row] } })).objectionsImport;
    expect(dup.userErrors[0]).toMatchObject({ field: 'rows[1].externalUserId' });
    const noReason = ok(await t.gql(IMPORT, { input: { rows: [{ ...row, reason: undefined }] } })).objectionsImport;
    expect(noReason.userErrors[0]).toMatchObject({ field: 'rows[0].reason' });
  });
});

describe('erasureRequest', () => {
  const ERASE = `mutation($input: ErasureRequestInput!) { erasureRequest(input: $input) { user { id erasedAt handle email birthDate country } erasedContentCount userErrors { code field } } }`;

  it('removes PII and content text from every read path, keeps ids and hashes, and makes the content ineligible', async () => {
    const p = await person({ email: 'erase.me@example.com', birthDate: '1985-07-07', handle: 'eraseme' });
    const hashBefore = (await t.sql(`SELECT content_hash FROM content_items WHERE id = $1`, [p.itemId]))[0].content_hash;
    const r = ok(await t.gql(ERASE, { input: { userId: p.id, reason: 'DSAR-2026-0042' } })).erasureRequest;
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
      ok(await t.gql(`query($u: ID!) { users(first: 5, filter: { externalId: "${p.externalId}" }) { edges { node { email birthDate handle } } } consentHistory(userId: $u) { id } }`, { u: p.id })),
      ok(await t.gql(`{ auditEvents(first: 20) { edges { node { input } } } }`)),
    ];
    const text = JSON.stringify(reads);
    for (const secret of ['erase.me@example.com', '1985-07-07', 'eraseme', `secret text of ${p.externalId}`, `prompt of ${p.externalId}`]) expect(text).not.toContain(secret);
    expect(reads[1].contentItem.contentHash).toBe(hashBefore);
    expect(reads[3].eligibility[0].reasons).toContain('AUTHOR_ERASED');
    const db = await t.sql(`SELECT email, handle, birth_date, erased_by, erasure_reason FROM users WHERE id = $1`, [p.id]);
    expect(db[0]).toEqual({ email: null, handle: null, birth_date: null, erased_by: 'test-privacy_officer', erasure_reason: 'DSAR-2026-0042' });
    expect((await t.sql(`SELECT count(*)::int AS n FROM content_items WHERE author_id = $1 AND text IS NOT NULL`, [p.id]))[0].n).toBe(0);
  });

  it('refuses a second erasure and re-ingesting an erased person', async () => {
    const p = await person();
    ok(await t.gql(ERASE, { input: { userId: p.id, reason: 'x' } }));
    expect(ok(await t.gql(ERASE, { input: { userId: p.id, reason: 'x' } })).erasureRequest.userErrors[0].code).toBe('ALREADY_ERASED');
    const again = ok(await t.gql(`mutation($i: UsersIngestInput!) { usersIngest(input: $i) { userErrors { code field } } }`, { i: { users: [factory.user({ externalId: p.externalId })] } }, Role.INGEST_SERVICE));
    expect(again.usersIngest.userErrors[0]).toMatchObject({ code: 'ALREADY_ERASED', field: 'users[0].externalId' });
  });
});
