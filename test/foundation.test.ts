import { Role } from '../src/common/auth';
import { Client } from 'pg';
import { loadConfig } from '../src/config';
import { CONTENT_INGEST, factory, ingest, ok, startFreshTestApp, startTestApp, TestApp, uniq, USERS_INGEST } from './helpers';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => {
  await t?.close();
});

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
    const res = await t.gql(USERS_INGEST, { input: { users: [factory.user()] } }, Role.ML_ENGINEER);
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

describe('health', () => {
  it('answers /healthz and /readyz', async () => {
    expect(await (await fetch(`${t.url}/healthz`)).json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${t.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', failing: [], checks: { database: { status: 'ok' }, migrations: { status: 'ok' } } });
  });

  it('/readyz names the failing dependency: migrations pending, then the database unreachable', async () => {
    const fresh = await startFreshTestApp();
    try {
      const readyz = async () => {
        const res = await fetch(`${fresh.url}/readyz`);
        expect(res.headers.get('content-type')).toMatch(/^application\/json/);
        return { status: res.status, body: (await res.json()) as any };
      };
      // The newest migration "not applied": its row is taken out of the migrations table (and put back after).
      const [latest] = await fresh.sql(`SELECT id, timestamp, name FROM schema_migrations ORDER BY timestamp DESC LIMIT 1`);
      await fresh.sql(`DELETE FROM schema_migrations WHERE id = $1`, [latest.id]);
      const pending = await readyz();
      expect(pending).toMatchObject({ status: 503, body: { status: 'unavailable', failing: ['migrations'], checks: { database: { status: 'ok' }, migrations: { status: 'pending', pending: [latest.name] } } } });
      await fresh.sql(`INSERT INTO schema_migrations (id, timestamp, name) VALUES ($1, $2, $3)`, [latest.id, latest.timestamp, latest.name]);
      expect((await readyz()).status).toBe(200);
      if (fresh.db.mode === 'postgres') {
        // No new connection is allowed and the open ones are ended: the database is unreachable for the service.
        const name = new URL(fresh.db.url!).pathname.slice(1);
        const admin = new Client({ connectionString: process.env.DATABASE_URL });
        await admin.connect();
        try {
          await admin.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS false`);
          await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1`, [name]);
          const down = await readyz();
          expect(down).toMatchObject({ status: 503, body: { status: 'unavailable', failing: ['database', 'migrations'], checks: { database: { status: 'unreachable' }, migrations: { status: 'unknown' } } } });
          expect(down.body.checks.database.message).toEqual(expect.any(String));
          expect(JSON.stringify(down.body)).not.toMatch(/postgres(ql)?:\/\//);
        } finally {
          await admin.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`);
          await admin.end();
        }
        expect((await readyz()).status).toBe(200);
      }
    } finally {
      await fresh.close();
    }
  });
});

describe('metrics', () => {
  it('/metrics has Node\'s metrics with the event loop delay, HTTP requests by route and status, GraphQL operations by field and outcome, and no PII', async () => {
    const email = 'metrics.person@example.org';
    const u = factory.user({ email, birthDate: '1966-06-06', handle: 'metricshandle' });
    const language = String.fromCharCode(...Array.from({ length: 3 }, () => 97 + Math.floor(Math.random() * 26)));
    const ids = await ingest(t, [u], [factory.item(u.externalId, { text: 'metrics secret text', language })]);
    ok(await t.gql(`query Footprint($u: ID!) { user(id: $u) { email } }`, { u: ids[u.externalId] }));
    // A dataset built and exported: their durations.
    const built = ok(await t.gql(`mutation($input: DatasetRequestInput!) { datasetRequest(input: $input) { dataset { id memberCount } } }`, { input: { name: uniq('metrics'), filters: { languages: [language] } } }, Role.ML_ENGINEER));
    expect(built.datasetRequest.dataset.memberCount).toBe(1);
    const exported = await fetch(`${t.url}/datasets/${built.datasetRequest.dataset.id}/export.ndjson`, { headers: { authorization: `Bearer ${t.tokens.ML_ENGINEER}` } });
    expect(await exported.text()).toContain('metrics secret text');
    expect((await t.gql('{ users(first: 1) { totalCount } }', {}, null)).status).toBe(401);
    await t.gql('{ userz }', {}, Role.AUDITOR);
    await fetch(`${t.url}/datasets/00000000-0000-0000-0000-000000000000/card`, { headers: { authorization: `Bearer ${t.tokens.AUDITOR}` } });
    await fetch(`${t.url}/no/such/${email}`);
    const res = await fetch(`${t.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await res.text();
    const value = (pattern: RegExp) => Number(pattern.exec(text)?.[1] ?? NaN);
    // Node's default metrics, with the event loop's delay measured by perf_hooks.monitorEventLoopDelay.
    expect(text).toMatch(/^process_resident_memory_bytes \d+/m);
    expect(value(/^nodejs_eventloop_lag_p99_seconds ([\d.e+-]+)$/m)).toBeGreaterThanOrEqual(0);
    // HTTP requests by route pattern and status, counted and timed.
    expect(value(/^http_requests_total\{method="POST",route="\/graphql",status="200"\} (\d+)$/m)).toBeGreaterThanOrEqual(3);
    expect(value(/^http_requests_total\{method="POST",route="\/graphql",status="401"\} (\d+)$/m)).toBeGreaterThanOrEqual(1);
    expect(value(/^http_requests_total\{method="GET",route="\/datasets\/:id\/card",status="404"\} (\d+)$/m)).toBe(1);
    expect(value(/^http_requests_total\{method="GET",route="unmatched",status="404"\} (\d+)$/m)).toBeGreaterThanOrEqual(1);
    expect(text).toMatch(/^http_request_duration_seconds_bucket\{le="0.1",method="POST",route="\/graphql",status="200"\} \d+$/m);
    // GraphQL operations by root field and outcome, and errors by code.
    expect(value(/^graphql_operations_total\{type="mutation",field="usersIngest",outcome="ok"\} (\d+)$/m)).toBeGreaterThanOrEqual(1);
    expect(value(/^graphql_operations_total\{type="query",field="user",outcome="ok"\} (\d+)$/m)).toBeGreaterThanOrEqual(1);
    expect(value(/^graphql_operations_total\{type="unknown",field="\(invalid\)",outcome="GRAPHQL_VALIDATION_FAILED"\} (\d+)$/m)).toBeGreaterThanOrEqual(1);
    expect(text).toMatch(/^graphql_operation_duration_seconds_count\{type="mutation",field="contentIngest"\} \d+$/m);
    expect(value(/^graphql_errors_total\{code="GRAPHQL_VALIDATION_FAILED"\} (\d+)$/m)).toBeGreaterThanOrEqual(1);
    if (t.db.mode === 'postgres') expect(text).toMatch(/^db_pool_connections\{state="idle"\} \d+$/m);
    // Dataset builds by origin, database and outcome; exports by format and outcome.
    expect(value(/^dataset_build_duration_seconds_count\{origin="REQUEST",database="(?:postgres|citus)",outcome="ok"\} (\d+)$/m)).toBeGreaterThanOrEqual(1);
    expect(text).toMatch(/^dataset_build_duration_seconds_bucket\{le="1",origin="REQUEST",database="(?:postgres|citus)",outcome="ok"\} \d+$/m);
    expect(value(/^dataset_export_duration_seconds_count\{format="ndjson",outcome="ok"\} (\d+)$/m)).toBeGreaterThanOrEqual(1);
    expect(value(/^dataset_export_duration_seconds_sum\{format="ndjson",outcome="ok"\} ([\d.e+-]+)$/m)).toBeGreaterThan(0);
    // Nothing a client chose: no email, birth date, handle, content text, operation name, id or path.
    for (const secret of [email, '1966-06-06', 'metricshandle', 'metrics secret text', 'Footprint', ids[u.externalId], built.datasetRequest.dataset.id, 'userz', '/no/such']) expect(text).not.toContain(secret);
  });

  it('with METRICS_TOKEN, /metrics answers only that bearer token; in production without one it is off', async () => {
    const guarded = await startTestApp({ metricsToken: 'a-metrics-token-for-prometheus' });
    try {
      expect((await fetch(`${guarded.url}/metrics`)).status).toBe(401);
      expect((await fetch(`${guarded.url}/metrics`, { headers: { authorization: `Bearer ${guarded.tokens.AUDITOR}` } })).status).toBe(401);
      const scraped = await fetch(`${guarded.url}/metrics`, { headers: { authorization: 'Bearer a-metrics-token-for-prometheus' } });
      expect(scraped.status).toBe(200);
      expect(await scraped.text()).toMatch(/nodejs_eventloop_lag_p99_seconds/);
    } finally {
      await guarded.close();
    }
    const prod = await startTestApp({ production: true, nodeEnv: 'production', ide: false, introspection: false, authSecret: 'a-production-secret-of-at-least-32-chars' });
    try {
      const off = await fetch(`${prod.url}/metrics`);
      expect(off.status).toBe(404);
      expect(await off.json()).toMatchObject({ error: { code: 'NOT_FOUND' } });
    } finally {
      await prod.close();
    }
    expect(() => loadConfig({ METRICS_TOKEN: 'short' })).toThrow(/METRICS_TOKEN/);
    expect(loadConfig({ METRICS_TOKEN: 'a-metrics-token-for-prometheus' }).metricsToken).toBe('a-metrics-token-for-prometheus');
  });
});

describe('usersIngest', () => {
  it('creates, then updates by externalId instead of duplicating', async () => {
    const u = factory.user({ country: 'FR' });
    const first = ok(await t.gql(USERS_INGEST, { input: { users: [u] } }, Role.INGEST_SERVICE)).usersIngest;
    expect(first).toMatchObject({ createdCount: 1, updatedCount: 0, userErrors: [] });
    const second = ok(await t.gql(USERS_INGEST, { input: { users: [{ ...u, country: 'IT' }] } }, Role.INGEST_SERVICE)).usersIngest;
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
    const res = ok(await t.gql(USERS_INGEST, { input: { users: [factory.user(), factory.user(bad), factory.user()] } }, Role.INGEST_SERVICE));
    expect(res.usersIngest.users).toBeNull();
    expect(res.usersIngest.userErrors[0]).toMatchObject({ code: 'BAD_USER_INPUT', field });
    expect(await count('users')).toBe(before.users);
    expect(await count('audit_events')).toBe(before.audit);
  });

  it('refuses a duplicate externalId inside one batch', async () => {
    const u = factory.user();
    const res = ok(await t.gql(USERS_INGEST, { input: { users: [u, { ...u }] } }, Role.INGEST_SERVICE));
    expect(res.usersIngest.userErrors[0]).toMatchObject({ code: 'BAD_USER_INPUT', field: 'users[1].externalId' });
  });

  it('refuses an invalid enum or type at the GraphQL layer', async () => {
    for (const bad of [{ birthDate: 'yesterday' }, { birthDate: '2001-02-30' }, { country: 42 }]) {
      const res = await t.gql(USERS_INGEST, { input: { users: [{ ...factory.user(), ...bad }] } }, Role.INGEST_SERVICE);
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

describe('contentIngest, visibility and deletion', () => {
  let author: ReturnType<typeof factory.user>;
  beforeAll(async () => {
    author = factory.user();
    await ingest(t, [author]);
  });

  it('creates items with their content hash and first visibility, and updates by externalId', async () => {
    const item = factory.item(author.externalId, { text: 'hello world' });
    const r1 = ok(await t.gql(CONTENT_INGEST, { input: { items: [item] } }, Role.INGEST_SERVICE)).contentIngest;
    expect(r1.createdCount).toBe(1);
    expect(r1.items[0].contentHash).toBe('b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9');
    const r2 = ok(await t.gql(CONTENT_INGEST, { input: { items: [{ ...item, text: 'changed' }] } }, Role.INGEST_SERVICE)).contentIngest;
    expect(r2).toMatchObject({ createdCount: 0, updatedCount: 1 });
    expect(r2.items[0].id).toBe(r1.items[0].id);
    const q = `query($id: ID!) { contentItem(id: $id) { text visibility visibilityHistory { visibility changedAt } author { externalId } } }`;
    const read = ok(await t.gql(q, { id: r1.items[0].id })).contentItem;
    expect(read).toMatchObject({ text: 'changed', visibility: 'PUBLIC', author: { externalId: author.externalId } });
    expect(read.visibilityHistory).toHaveLength(1);
  });

  it.each([
    ['unknown author', { authorExternalId: 'nobody-' + Math.random() }, 'items[0].authorExternalId', 'NOT_FOUND'],
    ['future createdAt', { createdAt: '2999-01-01T00:00:00Z' }, 'items[0].createdAt', 'BAD_USER_INPUT'],
    ['language', { language: 'German' }, 'items[0].language', 'BAD_USER_INPUT'],
    ['oversized text', { text: 'x'.repeat(65537) }, 'items[0].text', 'BAD_USER_INPUT'],
    ['label', { labels: ['bad label'] }, 'items[0].labels[0]', 'BAD_USER_INPUT'],
  ])('refuses %s, naming row and field, writing nothing', async (_n, bad, field, code) => {
    const before = await count('content_items');
    const res = ok(await t.gql(CONTENT_INGEST, { input: { items: [factory.item(author.externalId, bad)] } }, Role.INGEST_SERVICE));
    expect(res.contentIngest.userErrors[0]).toMatchObject({ code, field });
    expect(await count('content_items')).toBe(before);
  });

  it('refuses to move an existing item to another author (CONFLICT)', async () => {
    const other = factory.user();
    await ingest(t, [other]);
    const item = factory.item(author.externalId);
    await ingest(t, [], [item]);
    const res = ok(await t.gql(CONTENT_INGEST, { input: { items: [{ ...item, authorExternalId: other.externalId }] } }, Role.INGEST_SERVICE));
    expect(res.contentIngest.userErrors[0]).toMatchObject({ code: 'CONFLICT', field: 'items[0].externalId' });
  });

  it('keeps one author per external id when ingests for two authors race (the key includes the author)', async () => {
    const [a, b] = [factory.user(), factory.user()];
    await ingest(t, [a, b]);
    for (let round = 0; round < 5; round++) {
      const externalId = uniq('race');
      const [ra, rb] = await Promise.all(
        [a, b].map((u) => t.gql(CONTENT_INGEST, { input: { items: [{ ...factory.item(u.externalId), externalId }] } }, Role.INGEST_SERVICE)),
      );
      const codes = [ok(ra).contentIngest, ok(rb).contentIngest].map((r) => r.userErrors[0]?.code ?? 'OK').sort();
      expect(codes).toEqual(['CONFLICT', 'OK']);
      expect((await t.sql(`SELECT count(*)::int AS n FROM content_items WHERE external_id = $1`, [externalId]))[0].n).toBe(1);
    }
  });

  it('records visibility changes and deletions, all or nothing', async () => {
    const item = factory.item(author.externalId, { createdAt: '2024-01-01T00:00:00Z' });
    const ids = await ingest(t, [], [item]);
    const change = `mutation($input: ContentVisibilityChangeInput!) { contentVisibilityChange(input: $input) { items { id visibility } userErrors { code field } } }`;
    const okRes = ok(await t.gql(change, { input: { changes: [{ externalId: item.externalId, visibility: 'FRIENDS', changedAt: '2024-06-01T00:00:00Z' }] } }, Role.INGEST_SERVICE));
    expect(okRes.contentVisibilityChange.items[0]).toEqual({ id: ids[item.externalId], visibility: 'FRIENDS' });
    const before = await count('visibility_changes');
    const bad = ok(await t.gql(change, { input: { changes: [
      { externalId: item.externalId, visibility: 'PUBLIC' },
      { externalId: item.externalId, visibility: 'PUBLIC', changedAt: '2023-01-01T00:00:00Z' },
    ] } }, Role.INGEST_SERVICE));
    expect(bad.contentVisibilityChange.userErrors[0]).toMatchObject({ code: 'BAD_USER_INPUT', field: 'changes[1].changedAt' });
    expect(await count('visibility_changes')).toBe(before);

    const del = `mutation($input: ContentDeleteInput!) { contentDelete(input: $input) { items { id deletedAt } userErrors { code field } } }`;
    const missing = ok(await t.gql(del, { input: { items: [{ externalId: item.externalId }, { externalId: 'missing-' + uniq() }] } }, Role.INGEST_SERVICE));
    expect(missing.contentDelete.userErrors[0]).toMatchObject({ code: 'NOT_FOUND', field: 'items[1].externalId' });
    expect((await t.sql(`SELECT deleted_at FROM content_items WHERE id = $1`, [ids[item.externalId]]))[0].deleted_at).toBeNull();
    const deleted = ok(await t.gql(del, { input: { items: [{ externalId: item.externalId }] } }, Role.INGEST_SERVICE));
    expect(deleted.contentDelete.items[0].deletedAt).toBeTruthy();
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
    const { countStatements } = await import('./helpers');
    const q = (n: number) => `{ contentItems(first: ${n}) { edges { node { id author { id country contentCount } visibility } } } }`;
    const small = await countStatements(t, () => t.gql(q(2)));
    const large = await countStatements(t, () => t.gql(q(40)));
    expect(large.statements).toBe(small.statements);
  });
});
