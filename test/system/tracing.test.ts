import http from 'node:http';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { AddressInfo } from 'node:net';
import { ChildProcess } from 'node:child_process';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { SpanStatusCode } from '@opentelemetry/api';
import { Role, signToken } from '../../src/common/auth';
import { RedactingExporter, tracingWanted } from '../../src/common/tracing';
import { freshDatabaseConfig, serverEnv, startServerProcess, stopProcess, uniq } from '../helpers';

/**
 * OpenTelemetry traces, end to end: the built service runs as its own process (instrumentation patches Node's
 * `require`, which jest's module registry bypasses) with OTEL_EXPORTER_OTLP_ENDPOINT pointing at a receiver in this
 * test that keeps every span it is sent in memory (OTLP over HTTP, JSON encoding).
 */

interface OtlpValue {
  stringValue?: string;
  intValue?: string | number;
  boolValue?: boolean;
  doubleValue?: number;
  arrayValue?: { values: OtlpValue[] };
}
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes?: { key: string; value: OtlpValue }[];
  events?: { name: string; attributes?: { key: string; value: OtlpValue }[] }[];
  status?: { code?: number; message?: string };
}
const SPAN_KIND_SERVER = 2;

const value = (v: OtlpValue | undefined): unknown =>
  v?.stringValue ?? v?.intValue ?? v?.boolValue ?? v?.doubleValue ?? v?.arrayValue?.values.map(value);
const attr = (s: OtlpSpan, key: string) => value(s.attributes?.find((a) => a.key === key)?.value);

/** An OTLP/HTTP receiver: every span of every POST /v1/traces, and the resources they came with. */
function receiver() {
  const spans: OtlpSpan[] = [];
  const resources: unknown[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      if (req.url === '/v1/traces' && req.method === 'POST') {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        for (const rs of body.resourceSpans ?? []) {
          resources.push(rs.resource);
          for (const ss of rs.scopeSpans ?? []) spans.push(...(ss.spans ?? []));
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  return { server, spans, resources };
}

const until = async <T>(what: string, fn: () => T | undefined, ms = 30_000): Promise<T> => {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
};

describe('OpenTelemetry traces', () => {
  const rx = receiver();
  let fresh: Awaited<ReturnType<typeof freshDatabaseConfig>>;
  let child: ChildProcess | undefined;
  let url: string;
  let logs = '';
  const secret = `tracing-test-secret-${uniq()}-0123456789abcdef`;
  const tokens = {} as Record<Role, string>;

  beforeAll(async () => {
    await new Promise<void>((r) => rx.server.listen(0, '127.0.0.1', r));
    fresh = await freshDatabaseConfig();
    const env = serverEnv(fresh, {
      AUTH_SECRET: secret,
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${(rx.server.address() as AddressInfo).port}`,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      // Whatever the environment running the tests says otherwise.
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: '',
      OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: '',
      OTEL_SDK_DISABLED: '',
      OTEL_TRACES_EXPORTER: '',
      OTEL_TRACES_SAMPLER: '',
      OTEL_SERVICE_NAME: 'aidg-tracing-test',
      OTEL_BSP_SCHEDULE_DELAY: '100',
    });
    ({ child, url } = await startServerProcess(env));
    child.stdout!.on('data', (d: Buffer) => (logs += d.toString()));
    for (const role of [Role.INGEST_SERVICE, Role.PRIVACY_OFFICER, Role.ML_ENGINEER])
      tokens[role] = await signToken(new TextEncoder().encode(secret), `test-${role.toLowerCase()}`, [role]);
  });
  afterAll(async () => {
    if (child) await stopProcess(child);
    rx.server.close();
    await fresh?.drop();
  });

  const gql = async (role: Role, query: string, variables?: Record<string, unknown>) => {
    const res = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${tokens[role]}` },
      body: JSON.stringify({ query, variables }),
    });
    return (await res.json()) as { data?: any; errors?: { message: string }[] };
  };

  it('follows one request from HTTP through GraphQL into each SQL statement, with no PII, token or query string in any span', async () => {
    const language = 'zxq';
    const people = [
      { externalId: uniq('u'), handle: 'tracedhandle', email: 'traced.person@example.org', birthDate: '1971-07-17', country: 'DE' },
      { externalId: uniq('u'), handle: 'otherhandle', email: 'other.traced@example.org', birthDate: '1982-02-28', country: 'FR' },
    ];
    // And 98 more: a 100-row page below.
    const crowd = Array.from({ length: 98 }, (_, i) => ({
      externalId: uniq('u'),
      handle: `crowdhandle${i}`,
      email: `crowd${i}.person@example.org`,
      birthDate: `19${50 + (i % 40)}-03-0${1 + (i % 9)}`,
      country: 'DE',
    }));
    const users = await gql(
      Role.INGEST_SERVICE,
      `mutation Ingest($input: UsersIngestInput!) { usersIngest(input: $input) { users { id externalId } userErrors { code } } }`,
      { input: { users: [...people, ...crowd] } },
    );
    expect(users.data.usersIngest.userErrors).toEqual([]);
    const items = people.map((p, i) => ({
      externalId: uniq('c'),
      authorExternalId: p.externalId,
      platform: 'FACEBOOK',
      kind: 'POST',
      text: `traced secret text number ${i}`,
      language,
      createdAt: '2025-01-01T00:00:00.000Z',
      visibility: 'PUBLIC',
      labels: [],
    }));
    const content = await gql(
      Role.INGEST_SERVICE,
      `mutation Content($input: ContentIngestInput!) { contentIngest(input: $input) { userErrors { code } } }`,
      { input: { items } },
    );
    expect(content.data.contentIngest.userErrors).toEqual([]);

    // A page of users with their PII fields: what the service read is what must not be in a span.
    const page = await gql(
      Role.PRIVACY_OFFICER,
      `query People { users(first: 100) { edges { node { id email birthDate handle country } } } }`,
    );
    expect(page.errors).toBeUndefined();
    const read = page.data.users.edges.map((e: any) => e.node);
    expect(read).toHaveLength(100);
    expect(read.map((u: any) => u.email)).toEqual(expect.arrayContaining(people.map((p) => p.email)));
    const objector = users.data.usersIngest.users[1].id;
    const objection = await gql(
      Role.PRIVACY_OFFICER,
      `mutation Object($i: ObjectionInput!) { objectionRecord(input: $i) { userErrors { code } } }`,
      { i: { userId: objector, scope: 'ALL_AI_TRAINING' } },
    );
    expect(objection.data.objectionRecord.userErrors).toEqual([]);
    const requested = await gql(
      Role.ML_ENGINEER,
      `mutation Build($input: DatasetRequestInput!) { datasetRequest(input: $input) { dataset { id memberCount } userErrors { code } } }`,
      {
        input: { name: uniq('traced'), filters: { languages: [language] } },
      },
    );
    const dataset = requested.data.datasetRequest.dataset;
    expect(dataset.memberCount).toBe(1);
    // The export, with a query string that stands for a signed link's token.
    const exported = await fetch(`${url}/datasets/${dataset.id}/export.ndjson?token=query-string-secret-value`, {
      headers: { authorization: `Bearer ${tokens.ML_ENGINEER}` },
    });
    const lines = (await exported.text())
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => l.text)).toEqual([items[0].text]);
    // An error whose message quotes what the client sent (a literal of the wrong type).
    const refused = await gql(Role.PRIVACY_OFFICER, `query Bad { users(first: "${people[0].email}") { totalCount } }`);
    expect(JSON.stringify(refused.errors)).toContain(people[0].email);

    const spans = rx.spans;
    const byId = new Map<string, OtlpSpan>();
    const graphqlSpan = (op: string) =>
      spans.find((s) => (s.name.startsWith('query') || s.name.startsWith('mutation') ? attr(s, 'graphql.operation.name') === op : false));
    // Spans arrive in batches, children before their parents end: wait for the HTTP span of each traced request.
    const traceOf = async (op: string) => {
      const g = await until(`the GraphQL span of ${op}`, () => graphqlSpan(op));
      const root = await until(`the HTTP span of ${op}`, () => spans.find((s) => s.traceId === g.traceId && !s.parentSpanId));
      return { g, root, all: () => spans.filter((s) => s.traceId === g.traceId) };
    };
    const ancestors = (s: OtlpSpan) => {
      for (const x of spans) byId.set(x.spanId, x);
      const chain: OtlpSpan[] = [];
      for (let p = s.parentSpanId && byId.get(s.parentSpanId); p; p = p.parentSpanId ? byId.get(p.parentSpanId) : undefined) chain.push(p);
      return chain;
    };

    for (const op of ['People', 'Object', 'Build']) {
      const { g, root, all } = await traceOf(op);
      // One trace, rooted in the HTTP server span of POST /graphql.
      await until(`the statements of ${op}`, () => (all().some((s) => attr(s, 'db.system.name') === 'postgresql') ? true : undefined));
      const trace = all();
      expect(trace.filter((s) => !s.parentSpanId)).toEqual([root]);
      expect(root).toMatchObject({ kind: SPAN_KIND_SERVER });
      expect(attr(root, 'http.request.method')).toBe('POST');
      expect(attr(root, 'url.path')).toBe('/graphql');
      expect(attr(root, 'http.route')).toBe('/graphql');
      expect(attr(root, 'http.response.status_code')).toBe(200);
      // The GraphQL execution under it, and every SQL statement under that request.
      const execute = trace.find(
        (s) => s.name === 'graphql.execute' || s.name.startsWith(`${op === 'People' ? 'query' : 'mutation'} ${op}`),
      );
      expect(execute).toBeDefined();
      expect(ancestors(g)).toContain(root);
      const statements = trace.filter(
        (s) => attr(s, 'db.system.name') === 'postgresql' && s.name !== 'pg-pool.connect' && s.name !== 'pg.connect',
      );
      expect(statements.length).toBeGreaterThan(0);
      for (const s of statements) {
        expect(ancestors(s)).toContain(root);
        expect(attr(s, 'db.query.text')).toEqual(expect.any(String));
      }
      // Resolvers of a page are merged by path: a 100-row page does not make a span per row and field.
      expect(trace.length).toBeLessThan(60);
    }
    // Each log line of a traced request names its trace: from a log line to the trace and back.
    const peopleTrace = await traceOf('People');
    const logged = await until('the log line of People', () =>
      logs
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l))
        .find((l) => l.msg === 'graphql operation' && l.operationName === 'People'),
    );
    expect(logged).toMatchObject({ trace_id: peopleTrace.root.traceId, span_id: expect.stringMatching(/^[0-9a-f]{16}$/) });
    // The export: the HTTP span of its route, its COPY statement under it; the query string is not recorded.
    const exportRoot = await until('the export span', () =>
      spans.find((s) => !s.parentSpanId && attr(s, 'url.path') === `/datasets/${dataset.id}/export.ndjson`),
    );
    expect(attr(exportRoot, 'url.query')).toBe('REDACTED');
    expect(attr(exportRoot, 'http.route')).toBe('/datasets/:id/export.ndjson');
    await until('the COPY statement', () =>
      spans.find((s) => s.traceId === exportRoot.traceId && /^COPY /.test(String(attr(s, 'db.query.text')))),
    );
    // The refused operation's span says it failed without quoting the message.
    const bad = await until('the refused operation', () =>
      spans.find((s) => s.name === 'graphql.validate' && s.events?.some((e) => e.name === 'exception')),
    );
    const exception = bad.events!.find((e) => e.name === 'exception')!;
    expect(value(exception.attributes?.find((a) => a.key === 'exception.message')?.value)).toBe('REDACTED');

    // Nothing personal anywhere: not in a span's name, attributes, events or status, nor in the resource.
    const everything = JSON.stringify({
      spans: spans.map((s) => ({ name: s.name, attributes: s.attributes, events: s.events, status: s.status })),
      resources: rx.resources,
    });
    const secrets = [
      ...read.flatMap((u: any) => [u.email, u.birthDate, u.handle]).filter(Boolean),
      ...lines.map((l) => l.text),
      ...items.map((i) => i.text),
      ...Object.values(tokens),
      'query-string-secret-value',
    ];
    expect(secrets.length).toBeGreaterThanOrEqual(300);
    expect(secrets.filter((s) => everything.includes(s))).toEqual([]);
    // Sanity: the serialisation does hold what spans say (statement text, the service's name).
    expect(everything).toContain('aidg-tracing-test');
    expect(everything).toMatch(/INSERT INTO/);
  });
});

describe('tracing off', () => {
  it('is off without OTEL_EXPORTER_OTLP_ENDPOINT: the SDK is not even loaded', () => {
    expect(tracingWanted({})).toBe(false);
    expect(tracingWanted({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' })).toBe(true);
    expect(tracingWanted({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces' })).toBe(true);
    expect(tracingWanted({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_SDK_DISABLED: 'true' })).toBe(false);
    expect(tracingWanted({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_TRACES_EXPORTER: 'none' })).toBe(false);
    // What main.js loads first, in a process of its own: which OpenTelemetry modules are loaded afterwards.
    const probe = (extra: NodeJS.ProcessEnv) => {
      const env = {
        ...process.env,
        OTEL_EXPORTER_OTLP_ENDPOINT: '',
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: '',
        OTEL_SDK_DISABLED: '',
        OTEL_TRACES_EXPORTER: '',
        ...extra,
      };
      const script = `const t = require(${JSON.stringify(path.resolve(__dirname, '..', '..', 'dist', 'src', 'instrumentation.js'))});
        console.log(JSON.stringify({ started: Boolean(t.tracing), loaded: Object.keys(require.cache).filter((k) => k.includes('@opentelemetry')).length }));
        t.tracing?.shutdown();`;
      const r = spawnSync(process.execPath, ['-e', script], { env, encoding: 'utf8', timeout: 60_000 });
      expect(r.status).toBe(0);
      return JSON.parse(r.stdout.trim().split('\n').pop()!);
    };
    expect(probe({})).toEqual({ started: false, loaded: 0 });
    const on = probe({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9' });
    expect(on.started).toBe(true);
    expect(on.loaded).toBeGreaterThan(10);
  });
});

describe('RedactingExporter', () => {
  it('hands spans on, through an in-memory exporter, without error messages: exception type and stack frames stay', async () => {
    const memory = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(new RedactingExporter(memory))] });
    const tracer = provider.getTracer('test');
    const parent = tracer.startSpan('parent');
    const span = tracer.startSpan('graphql.validate', { attributes: { 'graphql.source': 'query { users(first: *) { totalCount } }' } });
    span.recordException(new TypeError('Int cannot represent non-integer value: "someone@example.org"'));
    span.setStatus({ code: SpanStatusCode.ERROR, message: 'someone@example.org' });
    span.addEvent('kept', { note: 'an ordinary event' });
    span.end();
    parent.end();
    await provider.forceFlush();
    const [exported, plain] = memory.getFinishedSpans();
    expect(exported.name).toBe('graphql.validate');
    expect(exported.spanContext().spanId).toBe(span.spanContext().spanId);
    expect(exported.attributes).toEqual({ 'graphql.source': 'query { users(first: *) { totalCount } }' });
    expect(exported.status).toEqual({ code: SpanStatusCode.ERROR });
    const [exception, kept] = exported.events;
    expect(exception.attributes).toMatchObject({ 'exception.type': 'TypeError', 'exception.message': 'REDACTED' });
    expect(String(exception.attributes!['exception.stacktrace'])).toMatch(/^\s+at /);
    expect(kept).toMatchObject({ name: 'kept', attributes: { note: 'an ordinary event' } });
    expect(JSON.stringify({ events: exported.events, status: exported.status })).not.toContain('someone@example.org');
    // A span without an error is handed on as it is.
    expect(plain.name).toBe('parent');
    await provider.shutdown();
  });
});
