import { Role } from '../../src/common/auth';
import { factory, ingest, ok, useTestApp } from '../helpers';
import { UsersIngestDocument } from '../generated/graphql';

const t = useTestApp();

const count = async (table: string) => (await t.sql(`SELECT count(*)::int AS n FROM ${table}`))[0].n as number;

describe('usersIngest', () => {
  it('creates, then updates by externalId instead of duplicating', async () => {
    const u = factory.user({ country: 'FR' });
    const first = ok(await t.gql(UsersIngestDocument, { input: { users: [u] } }, Role.INGEST_SERVICE)).usersIngest;
    expect(first).toMatchObject({ createdCount: 1, updatedCount: 0, userErrors: [] });
    const second = ok(await t.gql(UsersIngestDocument, { input: { users: [{ ...u, country: 'IT' }] } }, Role.INGEST_SERVICE)).usersIngest;
    expect(second).toMatchObject({ createdCount: 0, updatedCount: 1 });
    expect(second.users[0].id).toBe(first.users[0].id);
    expect(second.users[0].country).toBe('IT');
    expect((await t.sql(`SELECT count(*)::int AS n FROM users WHERE external_id = $1`, [u.externalId]))[0].n).toBe(1);
  });

  it.each([
    ['country', { country: 'XX' }, 'users[1].country'],
    ['country case', { country: 'de' }, 'users[1].country'],
    ['future birth date', { birthDate: '2999-01-01' }, 'users[1].birthDate'],
    ['email', { email: 'not an email' }, 'users[1].email'],
    ['empty externalId', { externalId: '' }, 'users[1].externalId'],
    ['long handle', { handle: 'h'.repeat(201) }, 'users[1].handle'],
  ])('refuses a batch with a bad %s, names row and field, writes nothing', async (_name, bad, field) => {
    const before = { users: await count('users'), audit: await count('audit_events') };
    const res = ok(
      await t.gql(UsersIngestDocument, { input: { users: [factory.user(), factory.user(bad), factory.user()] } }, Role.INGEST_SERVICE),
    );
    expect(res.usersIngest.users).toBeNull();
    expect(res.usersIngest.userErrors[0]).toMatchObject({ code: 'BAD_USER_INPUT', field });
    expect(await count('users')).toBe(before.users);
    expect(await count('audit_events')).toBe(before.audit);
  });

  it('refuses a duplicate externalId inside one batch', async () => {
    const u = factory.user();
    const res = ok(await t.gql(UsersIngestDocument, { input: { users: [u, { ...u }] } }, Role.INGEST_SERVICE));
    expect(res.usersIngest.userErrors[0]).toMatchObject({ code: 'BAD_USER_INPUT', field: 'users[1].externalId' });
  });

  it('refuses an invalid enum or type at the GraphQL layer', async () => {
    for (const bad of [{ birthDate: 'yesterday' }, { birthDate: '2001-02-30' }, { country: 42 }]) {
      const res = await t.gql(UsersIngestDocument, { input: { users: [{ ...factory.user(), ...bad }] } }, Role.INGEST_SERVICE);
      expect(res.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
    }
  });

  it('writes one audit event per mutation, with PII redacted', async () => {
    const u = factory.user({ email: 'secret.person@example.com' });
    const ids = await ingest(t, [u]);
    const [event] = await t.sql(`SELECT * FROM audit_events WHERE $1 = ANY(target_ids)`, [ids[u.externalId]]);
    expect(event.operation).toBe('usersIngest');
    expect(event.actor_subject).toBe('test-ingest_service');
    expect(JSON.stringify(event.input)).not.toContain('secret.person');
    expect(JSON.stringify(event.input)).not.toContain('1990-01-01');
    expect(event.input.users[0].email).toBe('[REDACTED]');
  });
});

describe('reads', () => {
  it('pages users with opaque keyset cursors, stable and without overlap', async () => {
    const country = 'MT';
    const people = Array.from({ length: 7 }, () => factory.user({ country }));
    await ingest(t, people);
    const q = `query($after: String) { users(first: 3, after: $after, filter: { country: "MT" }) { totalCount edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }`;
    const seen: string[] = [];
    let after: string | null = null;
    let pages = 0;
    for (;;) {
      const page: any = ok(await t.gql(q, { after })).users;
      seen.push(...page.edges.map((e: any) => e.node.id));
      pages++;
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
    const total = (await t.sql(`SELECT count(*)::int AS n FROM users WHERE country = $1`, [country]))[0].n;
    expect(seen).toHaveLength(total);
    expect(new Set(seen).size).toBe(total);
    expect(pages).toBe(Math.ceil(total / 3));
  });

  it('refuses a page size above the maximum and a forged cursor', async () => {
    expect((await t.gql('{ users(first: 100000) { totalCount } }')).errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
    expect((await t.gql('{ users(first: 2, after: "garbage") { totalCount } }')).errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('batches nested relations with DataLoaders (statements do not grow with the page)', async () => {
    const { countStatements } = await import('../helpers');
    const q = (n: number) => `{ contentItems(first: ${n}) { edges { node { id author { id country contentCount } visibility } } } }`;
    const small = await countStatements(t, () => t.gql(q(2)));
    const large = await countStatements(t, () => t.gql(q(40)));
    expect(large.statements).toBe(small.statements);
  });
});
