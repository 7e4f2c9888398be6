import { Writable } from 'node:stream';
import { Role } from '../../src/common/auth';
import { factory, ingest, ok, useTestApp } from '../helpers';

const lines: string[] = [];
const sink = new Writable({
  write(chunk, _enc, done) {
    lines.push(...String(chunk).split('\n').filter(Boolean));
    done();
  },
});

const t = useTestApp({ logStream: sink });

describe('logs', () => {
  it('are JSON with a request id on every line, and never hold an email, a birth date or content text', async () => {
    const email = 'very.private.person@example.org';
    const birthDate = '1977-03-04';
    const text = 'my secret diary entry about my health';
    const u = factory.user({ email, birthDate, handle: 'privatehandle' });
    const item = factory.item(u.externalId, { text });
    const ids = await ingest(t, [u], [item]);
    const userId = ids[u.externalId];
    ok(
      await t.gql(`mutation($i: ObjectionInput!) { objectionRecord(input: $i) { event { id } } }`, {
        i: { userId, scope: 'ALL_AI_TRAINING', reason: 'by phone' },
      }),
    );
    await t.gql(`mutation($i: ObjectionInput!) { objectionWithdraw(input: $i) { event { id } userErrors { code } } }`, {
      i: { userId, scope: 'AI_INTERACTIONS' },
    });
    ok(
      await t.gql(`mutation($i: ObjectionsImportInput!) { objectionsImport(input: $i) { importedCount } }`, {
        i: { rows: [{ externalUserId: u.externalId, scope: 'PUBLIC_CONTENT' }] },
      }),
    );
    ok(
      await t.gql(
        `query($u: ID!) { user(id: $u) { email birthDate } consentHistory(userId: $u) { id } contentItems(first: 5, filter: { authorId: $u }) { edges { node { text } } } }`,
        { u: userId },
      ),
    );
    // A refused request and a bad one log too.
    await t.gql(`query($u: ID!) { user(id: $u) { email } }`, { u: userId }, Role.AUDITOR);
    await t.gql(
      `mutation { usersIngest(input: { users: [{ externalId: "x", country: "DE", email: "${email}", birthDate: "3000-01-01" }] }) { userErrors { code } } }`,
      {},
      Role.INGEST_SERVICE,
    );
    // A signed card link opened in a browser: its signature is a credential, the log keeps the path only.
    const ds = ok(
      await t.gql(
        `mutation { datasetRequest(input: { name: "log-card", policyKey: "eu-ai-training", filters: { languages: ["zz"] } }) { dataset { id cardUrl } } }`,
        {},
        Role.ML_ENGINEER,
      ),
    ).datasetRequest.dataset;
    expect((await fetch(`${t.url}${ds.cardUrl}`)).status).toBe(200);
    const cardSignature = ds.cardUrl.split('.')[2];
    ok(
      await t.gql(`mutation($i: ErasureRequestInput!) { erasureRequest(input: $i) { erasedContentCount } }`, {
        i: { userId, reason: 'DSAR-17' },
      }),
    );

    expect(lines.length).toBeGreaterThan(10);
    const parsed = lines.map((l) => JSON.parse(l));
    for (const entry of parsed) expect(entry.reqId ?? entry.req?.id).toEqual(expect.any(String));
    expect(parsed.filter((e) => e.msg === 'graphql operation').length).toBeGreaterThanOrEqual(8);
    const all = lines.join('\n');
    for (const secret of [email, birthDate, text, 'privatehandle', t.tokens.PRIVACY_OFFICER.split('.')[2], cardSignature, 'sig='])
      expect(all).not.toContain(secret);
  });
});
