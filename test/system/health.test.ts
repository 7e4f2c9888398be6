import { Client } from 'pg';
import { Role } from '../../src/common/auth';
import { loadConfig } from '../../src/config';
import { factory, ingest, ok, startFreshTestApp, startTestApp, uniq, useTestApp } from '../helpers';

const t = useTestApp();

describe('health', () => {
  it('answers /healthz and /readyz', async () => {
    expect(await (await fetch(`${t.url}/healthz`)).json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${t.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({
      status: 'ready',
      failing: [],
      checks: { database: { status: 'ok' }, migrations: { status: 'ok' } },
    });
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
      expect(pending).toMatchObject({
        status: 503,
        body: {
          status: 'unavailable',
          failing: ['migrations'],
          checks: { database: { status: 'ok' }, migrations: { status: 'pending', pending: [latest.name] } },
        },
      });
      await fresh.sql(`INSERT INTO schema_migrations (id, timestamp, name) VALUES ($1, $2, $3)`, [
        latest.id,
        latest.timestamp,
        latest.name,
      ]);
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
          expect(down).toMatchObject({
            status: 503,
            body: {
              status: 'unavailable',
              failing: ['database', 'migrations'],
              checks: { database: { status: 'unreachable' }, migrations: { status: 'unknown' } },
            },
          });
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
  it("/metrics has Node's metrics with the event loop delay, HTTP requests by route and status, GraphQL operations by field and outcome, and no PII", async () => {
    const email = 'metrics.person@example.org';
    const u = factory.user({ email, birthDate: '1966-06-06', handle: 'metricshandle' });
    const language = String.fromCharCode(...Array.from({ length: 3 }, () => 97 + Math.floor(Math.random() * 26)));
    const ids = await ingest(t, [u], [factory.item(u.externalId, { text: 'metrics secret text', language })]);
    ok(await t.gql(`query Footprint($u: ID!) { user(id: $u) { email } }`, { u: ids[u.externalId] }));
    // A dataset built and exported: their durations.
    const built = ok(
      await t.gql(
        `mutation($input: DatasetRequestInput!) { datasetRequest(input: $input) { dataset { id memberCount } } }`,
        { input: { name: uniq('metrics'), filters: { languages: [language] } } },
        Role.ML_ENGINEER,
      ),
    );
    expect(built.datasetRequest.dataset.memberCount).toBe(1);
    const exported = await fetch(`${t.url}/datasets/${built.datasetRequest.dataset.id}/export.ndjson`, {
      headers: { authorization: `Bearer ${t.tokens.ML_ENGINEER}` },
    });
    expect(await exported.text()).toContain('metrics secret text');
    expect((await t.gql('{ users(first: 1) { totalCount } }', {}, null)).status).toBe(401);
    await t.gql('{ userz }', {}, Role.AUDITOR);
    await fetch(`${t.url}/datasets/00000000-0000-0000-0000-000000000000/card`, {
      headers: { authorization: `Bearer ${t.tokens.AUDITOR}` },
    });
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
    expect(
      value(/^graphql_operations_total\{type="unknown",field="\(invalid\)",outcome="GRAPHQL_VALIDATION_FAILED"\} (\d+)$/m),
    ).toBeGreaterThanOrEqual(1);
    expect(text).toMatch(/^graphql_operation_duration_seconds_count\{type="mutation",field="contentIngest"\} \d+$/m);
    expect(value(/^graphql_errors_total\{code="GRAPHQL_VALIDATION_FAILED"\} (\d+)$/m)).toBeGreaterThanOrEqual(1);
    if (t.db.mode === 'postgres') expect(text).toMatch(/^db_pool_connections\{state="idle"\} \d+$/m);
    // Dataset builds by origin, database and outcome; exports by format and outcome.
    expect(
      value(/^dataset_build_duration_seconds_count\{origin="REQUEST",database="(?:postgres|citus)",outcome="ok"\} (\d+)$/m),
    ).toBeGreaterThanOrEqual(1);
    expect(text).toMatch(
      /^dataset_build_duration_seconds_bucket\{le="1",origin="REQUEST",database="(?:postgres|citus)",outcome="ok"\} \d+$/m,
    );
    expect(value(/^dataset_export_duration_seconds_count\{format="ndjson",outcome="ok"\} (\d+)$/m)).toBeGreaterThanOrEqual(1);
    expect(value(/^dataset_export_duration_seconds_sum\{format="ndjson",outcome="ok"\} ([\d.e+-]+)$/m)).toBeGreaterThan(0);
    // Nothing a client chose: no email, birth date, handle, content text, operation name, id or path.
    for (const secret of [
      email,
      '1966-06-06',
      'metricshandle',
      'metrics secret text',
      'Footprint',
      ids[u.externalId],
      built.datasetRequest.dataset.id,
      'userz',
      '/no/such',
    ])
      expect(text).not.toContain(secret);
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
    const prod = await startTestApp({
      production: true,
      nodeEnv: 'production',
      ide: false,
      introspection: false,
      authSecret: 'a-production-secret-of-at-least-32-chars',
    });
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
