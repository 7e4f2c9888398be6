import { Role } from '../../src/common/auth';
import { factory, ingest, ok, useTestApp } from '../helpers';
import { UsersIngestDocument } from '../generated/graphql';

const t = useTestApp();

const count = async (table: string) => (await t.sql(`SELECT count(*)::int AS n FROM ${table}`))[0].n as number;

describe('authentication and roles', () => {
  it('refuses a query without a token with UNAUTHENTICATED', async () => {
    const res = await t.gql('{ users(first: 5) { totalCount } }', {}, null);
    expect(res.status).toBe(401);
    expect(res.errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
    expect(res.data ?? null).toBeNull();
  });

  it('refuses a forged or malformed token', async () => {
    const forged = t.tokens.PRIVACY_OFFICER.slice(0, -4) + 'AAAA';
    expect((await t.gql('{ viewer { subject } }', {}, forged)).errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
    expect((await t.gql('{ viewer { subject } }', {}, 'not-a-jwt')).errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('tells the caller who they are', async () => {
    const data = ok(await t.gql('{ viewer { subject roles } }', {}, Role.AUDITOR));
    expect(data.viewer).toEqual({ subject: 'test-auditor', roles: ['AUDITOR'] });
  });

  it('refuses a mutation for the wrong role with FORBIDDEN and writes nothing', async () => {
    const before = { users: await count('users'), audit: await count('audit_events') };
    const res = await t.gql(UsersIngestDocument, { input: { users: [factory.user()] } }, Role.ML_ENGINEER);
    expect(res.errors?.[0].extensions?.code).toBe('FORBIDDEN');
    expect(res.data).toBeNull();
    expect(await count('users')).toBe(before.users);
    expect(await count('audit_events')).toBe(before.audit);
  });

  it('resolves PII to null with FORBIDDEN for every role but PRIVACY_OFFICER', async () => {
    const u = factory.user();
    const ids = await ingest(t, [u]);
    const q = `query($id: ID!) { user(id: $id) { id country email birthDate } }`;
    const officer = ok(await t.gql(q, { id: ids[u.externalId] }, Role.PRIVACY_OFFICER));
    expect(officer.user).toMatchObject({ email: 'p@example.com', birthDate: '1990-01-01', country: 'DE' });
    for (const role of [Role.AUDITOR, Role.ML_ENGINEER, Role.INGEST_SERVICE]) {
      const res = await t.gql(q, { id: ids[u.externalId] }, role);
      expect(res.data.user).toMatchObject({ country: 'DE', email: null, birthDate: null });
      expect(res.errors?.map((e) => e.extensions?.code)).toEqual(['FORBIDDEN', 'FORBIDDEN']);
    }
    expect((await t.gql(q, { id: ids[u.externalId] }, Role.LINEAGE_READER)).errors?.[0].extensions?.code).toBe('FORBIDDEN');
  });
});
