import { spawnSync } from 'node:child_process';
import { Writable } from 'node:stream';
import fc from 'fast-check';
import { getIntrospectionQuery } from 'graphql';
import { loadConfig } from '../../src/config';
import { Role } from '../../src/common/auth';
import { floodFromProcess } from '../support/hostile-cases';
import {
  CLI_JS,
  factory,
  freshDatabaseConfig,
  ingest,
  ok,
  onCitus,
  OTHERS_BOUNDS,
  p99,
  serverEventLoopP99,
  startServerProcess,
  startTestApp,
  stopProcess,
  uniq,
  useTestApp,
  serverEnv,
} from '../helpers';

const t = useTestApp();

const TABLES = ['users', 'content_items', 'visibility_changes', 'consent_events', 'policies', 'audit_events', 'datasets', 'lineage_edges'];
const counts = async () =>
  JSON.stringify(await Promise.all(TABLES.map(async (tb) => (await t.sql(`SELECT count(*)::int AS n FROM ${tb}`))[0].n)));
const LEAKS = /QueryFailedError|node_modules|at \w+ \(|\bstack\b|\bSELECT\b.*\bFROM\b|violates|relation "|syntax error at or near/i;

const VALID = [
  `mutation($input: ObjectionInput!) { objectionRecord(input: $input) { event { id } userErrors { code } } }`,
  `mutation($input: UsersIngestInput!) { usersIngest(input: $input) { users { id } userErrors { code } } }`,
  `mutation($input: ObjectionsImportInput!) { objectionsImport(input: $input) { importedCount userErrors { code field } } }`,
  `mutation($input: DatasetRequestInput!) { datasetRequest(input: $input) { dataset { id } userErrors { code } } }`,
  `query($ids: [ID!]!, $asOf: DateTimeISO) { eligibility(itemIds: $ids, asOf: $asOf) { eligible reasons } }`,
  `query($id: ID!, $depth: Int) { lineage(nodeId: $id, depth: $depth) { truncated } }`,
  `query($first: Int, $after: String) { users(first: $first, after: $after) { totalCount } }`,
];

/** Values of the wrong type, too big, or just odd. */
const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.string(),
  fc.string({ minLength: 5000, maxLength: 70000 }),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.constantFrom(
    '2999-01-01T00:00:00Z',
    'not-a-date',
    '2025-02-30T00:00:00Z',
    '00000000-0000-0000-0000-000000000000',
    "'; DROP TABLE users; --",
    '\u0000',
    '-1',
    '1e309',
  ),
  fc.array(fc.string(), { maxLength: 5 }),
  fc.dictionary(fc.string({ maxLength: 10 }), fc.string({ maxLength: 10 }), { maxKeys: 4 }),
);

const hostileVariables = fc.record(
  {
    input: fc.oneof(
      hostileValue,
      fc.record(
        {
          userId: hostileValue,
          scope: hostileValue,
          effectiveAt: hostileValue,
          users: hostileValue,
          rows: fc.array(fc.record({ externalUserId: hostileValue, scope: fc.constantFrom('ALL_AI_TRAINING', 'X') }), { maxLength: 3 }),
          name: hostileValue,
        },
        { requiredKeys: [] },
      ),
    ),
    ids: fc.oneof(hostileValue, fc.array(fc.constantFrom('00000000-0000-0000-0000-000000000000', 'x', ''), { maxLength: 5 })),
    asOf: hostileValue,
    id: hostileValue,
    depth: hostileValue,
    first: hostileValue,
    after: hostileValue,
  },
  { requiredKeys: [] },
);

/** Documents: random text, valid ones cut or garbled, deep nesting and alias fan-out. */
const hostileDocument = fc.oneof(
  fc.string({ maxLength: 300 }),
  fc.tuple(fc.constantFrom(...VALID), fc.nat(400)).map(([d, n]) => d.slice(0, n)),
  fc
    .tuple(fc.constantFrom(...VALID), fc.nat(400), fc.constantFrom('{', '}', '(', '$', '"', '...', '#'))
    .map(([d, n, ch]) => d.slice(0, n) + ch + d.slice(n)),
  fc.integer({ min: 10, max: 300 }).map((n) => `{ users(first: 1) { ${'edges { node { id } } '.repeat(1)}${'{'.repeat(n)} } }`),
  fc
    .integer({ min: 2, max: 400 })
    .map((n) => `{ ${Array.from({ length: n }, (_, i) => `a${i}: users(first: 500) { totalCount edges { node { id } } }`).join(' ')} }`),
  fc.constantFrom(...VALID),
);

describe('hostile input', () => {
  it('never answers 5xx, never leaks internals, never writes a row for a refused request', async () => {
    await fc.assert(
      fc.asyncProperty(
        hostileDocument,
        hostileVariables,
        fc.constantFrom(Role.PRIVACY_OFFICER, Role.ML_ENGINEER, Role.AUDITOR, Role.INGEST_SERVICE),
        async (query, variables, role) => {
          const before = await counts();
          const res = await fetch(`${t.url}/graphql`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${t.tokens[role]}` },
            body: JSON.stringify({ query, variables }),
          });
          const text = await res.text();
          expect(res.status).toBeLessThan(500);
          expect(text).not.toMatch(LEAKS);
          const body = JSON.parse(text);
          const refused =
            !body.data ||
            Object.values(body.data).every((v: any) => v == null || (Array.isArray(v?.userErrors) && v.userErrors.length > 0));
          if (refused) expect(await counts()).toBe(before);
        },
      ),
      { numRuns: Number(process.env.HOSTILE_RUNS ?? 200) },
    );
  });
});

/** The error code of an answer: a top-level error's, or the first of a mutation payload's `userErrors`. */
const codeOf = (res: { data?: any; errors?: { extensions?: Record<string, any> }[] }, field?: string) =>
  res.errors?.[0]?.extensions?.code ?? (field ? res.data?.[field]?.userErrors?.[0]?.code : undefined);
const messageOf = (res: { data?: any; errors?: { message: string }[] }, field?: string): string =>
  res.errors?.[0]?.message ?? (field ? res.data?.[field]?.userErrors?.[0]?.message : '') ?? '';
/** Runs `query` as the first role that is admitted. */
async function asAnyRole(query: string, variables: Record<string, unknown>) {
  let res: any;
  for (const role of [Role.PRIVACY_OFFICER, Role.ML_ENGINEER, Role.INGEST_SERVICE, Role.AUDITOR]) {
    res = await t.gql(query, variables, role);
    if (codeOf(res) !== 'FORBIDDEN') return res;
  }
  return res;
}
const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

describe('malformed values are BAD_USER_INPUT, never an internal error', () => {
  let datasetId: string;
  let userId: string;
  beforeAll(async () => {
    const u = factory.user();
    userId = (await ingest(t, [u]))[u.externalId];
    datasetId = ok(
      await t.gql(
        `mutation { datasetRequest(input: { name: "${uniq('hostile')}", filters: { languages: ["zz"] } }) { dataset { id } userErrors { code } } }`,
        {},
        Role.ML_ENGINEER,
      ),
    ).datasetRequest.dataset.id;
  });

  it('refuses tampered cursors on every list', async () => {
    const lists = [
      `query($a: String) { users(after: $a) { edges { cursor } } }`,
      `query($a: String) { contentItems(after: $a) { edges { cursor } } }`,
      `query($a: String) { eligibleContent(after: $a) { edges { cursor } } }`,
      `query($a: String) { datasets(after: $a) { edges { cursor } } }`,
      `query($a: String) { trainingRuns(after: $a) { edges { cursor } } }`,
      `query($a: String) { auditEvents(after: $a) { edges { cursor } } }`,
      `query($a: String, $d: ID!) { dataset(id: $d) { members(after: $a) { edges { cursor } } } }`,
    ];
    const tampered = [
      'not a cursor!',
      '',
      b64('{"a":1}'),
      b64([]),
      b64(['x']),
      b64(['x', 'y']),
      b64(['x', 'y', 'z']),
      b64([1.5]),
      b64([-1]),
      b64(['1e999']),
      b64([null]),
      b64(['\u0000']),
      b64(['2025-13-45T00:00:00Z', '00000000-0000-0000-0000-000000000000']),
      b64(['2025-01-01T00:00:00Z', 'not-a-uuid']),
      b64(['00000000-0000-0000-0000-00000000000g']),
      b64(['99999999999999999999999']),
      b64(['1; DROP TABLE users']),
      b64('["' + 'a'.repeat(5000) + '"]'),
    ];
    const failures: string[] = [];
    for (const q of lists) {
      for (const a of tampered) {
        const res = await asAnyRole(q, { a, d: datasetId });
        if (codeOf(res) !== 'BAD_USER_INPUT')
          failures.push(`${q.slice(0, 60)} after=${a.slice(0, 40)}: ${JSON.stringify(res.errors ?? res.data).slice(0, 200)}`);
      }
    }
    expect(failures).toEqual([]);
  });

  it('refuses NUL characters and unpaired surrogates in any string argument, writing nothing', async () => {
    const before = await counts();
    const cases: [string, Record<string, unknown>, string?][] = [
      [`query($v: String) { users(filter: { externalId: $v }) { totalCount } }`, {}],
      [`query($v: String!) { policy(key: $v) { id } }`, {}],
      [`query($v: ID!) { user(id: $v) { id } }`, {}],
      [`query($v: String) { auditEvents(filter: { actorSubject: $v }) { totalCount } }`, {}],
      [`query($v: String!) { contentItems(filter: { languages: [$v] }) { totalCount } }`, {}],
      [
        `mutation($v: String, $u: ID!) { objectionRecord(input: { userId: $u, scope: ALL_AI_TRAINING, reason: $v }) { userErrors { code message } } }`,
        {},
        'objectionRecord',
      ],
      [
        `mutation($v: String) { usersIngest(input: { users: [{ externalId: "${uniq('u')}", handle: $v, country: "DE" }] }) { userErrors { code message } } }`,
        {},
        'usersIngest',
      ],
      [
        `mutation($v: String!) { policyPublish(input: { key: "${uniq('p')}", legalBasis: $v, platforms: [FACEBOOK], kinds: [POST], mode: DRY_RUN }) { userErrors { code message } } }`,
        {},
        'policyPublish',
      ],
    ];
    const failures: string[] = [];
    for (const [query, vars, field] of cases) {
      for (const v of ['a\u0000b', '\u0000', 'x\ud800', '\udc00y', 'ok\ud83d']) {
        const res = await asAnyRole(query, { ...vars, v, u: userId });
        if (codeOf(res, field) !== 'BAD_USER_INPUT')
          failures.push(`${query.slice(0, 70)} ${JSON.stringify(v)}: ${JSON.stringify(res.errors ?? res.data).slice(0, 200)}`);
      }
    }
    // A literal in the document: the escape \u0000 is valid GraphQL syntax but no valid value.
    const literal = await t.gql(`{ users(filter: { externalId: "a\\u0000" }) { totalCount } }`);
    if (codeOf(literal) !== 'BAD_USER_INPUT') failures.push(`literal: ${JSON.stringify(literal.errors ?? literal.data)}`);
    expect(failures).toEqual([]);
    expect(await counts()).toBe(before);
    // Characters outside the BMP (a surrogate pair) are fine.
    const u = factory.user({ handle: 'smile \ud83d\ude00' });
    expect((await ingest(t, [u]))[u.externalId]).toBeDefined();
  });

  it('refuses unknown languages in content and dataset filters', async () => {
    for (const languages of [['english'], ['EN'], ['d e'], ['x'], ['de', '']]) {
      const list = await t.gql(`query($l: [String!]) { contentItems(filter: { languages: $l }) { totalCount } }`, { l: languages });
      expect([languages, codeOf(list), list.errors?.[0].extensions?.field]).toEqual([
        languages,
        'BAD_USER_INPUT',
        expect.stringMatching(/^filter\.languages/),
      ]);
      const report = await t.gql(`query($l: [String!]) { eligibilityReport(filter: { languages: $l }) { evaluated } }`, { l: languages });
      expect(codeOf(report)).toBe('BAD_USER_INPUT');
      const ds = ok(
        await t.gql(
          `mutation($l: [String!]) { datasetRequest(input: { name: "${uniq('lang')}", filters: { languages: $l } }) { userErrors { code field } } }`,
          { l: languages },
          Role.ML_ENGINEER,
        ),
      );
      expect(ds.datasetRequest.userErrors[0]).toMatchObject({
        code: 'BAD_USER_INPUT',
        field: expect.stringMatching(/^filters\.languages/),
      });
    }
    expect(codeOf(await t.gql(`{ contentItems(filter: { languages: ["de", "fil"] }) { totalCount } }`))).toBeUndefined();
  });

  it('bounds every free-text argument, naming the maximum, and writes nothing', async () => {
    const before = await counts();
    const long = (n: number) => 'x'.repeat(n + 1);
    const cases: [string, string, Record<string, unknown>, Role, number][] = [
      [
        'policyPublish',
        `mutation($v: String) { policyPublish(input: { key: "${uniq('p')}", legalBasis: "x", description: $v, platforms: [FACEBOOK], kinds: [POST], mode: DRY_RUN }) { userErrors { code message field } } }`,
        {},
        Role.PRIVACY_OFFICER,
        2000,
      ],
      [
        'policyPublish',
        `mutation($v: String!) { policyPublish(input: { key: "${uniq('p')}", legalBasis: $v, platforms: [FACEBOOK], kinds: [POST], mode: DRY_RUN }) { userErrors { code message field } } }`,
        {},
        Role.PRIVACY_OFFICER,
        500,
      ],
      [
        'datasetRequest',
        `mutation($v: String) { datasetRequest(input: { name: "${uniq('d')}", purpose: $v }) { userErrors { code message field } } }`,
        {},
        Role.ML_ENGINEER,
        2000,
      ],
      [
        'datasetDerive',
        `mutation($v: String, $d: ID!) { datasetDerive(input: { name: "${uniq('d')}", operation: UNION, parentIds: [$d], purpose: $v }) { userErrors { code message field } } }`,
        {},
        Role.ML_ENGINEER,
        2000,
      ],
      [
        'trainingRunRecord',
        `mutation($v: String, $d: ID!) { trainingRunRecord(input: { modelName: "m", modelVersion: "${uniq('v')}", datasetIds: [$d], description: $v }) { userErrors { code message field } } }`,
        {},
        Role.ML_ENGINEER,
        2000,
      ],
      [
        'objectionRecord',
        `mutation($v: String, $u: ID!) { objectionRecord(input: { userId: $u, scope: ALL_AI_TRAINING, reason: $v }) { userErrors { code message field } } }`,
        {},
        Role.PRIVACY_OFFICER,
        2000,
      ],
      [
        'objectionsImport',
        `mutation($v: String) { objectionsImport(input: { reason: $v, rows: [{ externalUserId: "nobody", scope: ALL_AI_TRAINING }] }) { userErrors { code message field } } }`,
        {},
        Role.PRIVACY_OFFICER,
        2000,
      ],
      [
        'erasureRequest',
        `mutation($v: String!, $u: ID!) { erasureRequest(input: { userId: $u, reason: $v }) { userErrors { code message field } } }`,
        {},
        Role.PRIVACY_OFFICER,
        2000,
      ],
    ];
    const failures: string[] = [];
    for (const [field, query, vars, role, max] of cases) {
      const res = await t.gql(query, { ...vars, v: long(max), u: userId, d: datasetId }, role);
      const message = messageOf(res, field);
      if (codeOf(res, field) !== 'BAD_USER_INPUT' || !message.replace(/,/g, '').includes(String(max)))
        failures.push(`${field} (${max}): ${JSON.stringify(res.errors ?? res.data).slice(0, 300)}`);
    }
    expect(failures).toEqual([]);
    expect(await counts()).toBe(before);
  });

  it('never echoes a huge id or key back: bounded before lookup, or cut in the message', async () => {
    const huge = 'k'.repeat(100_000);
    for (const [query, role] of [
      [`query($v: ID!) { user(id: $v) { id } }`, Role.PRIVACY_OFFICER],
      [`query($v: ID!) { dataset(id: $v) { id } }`, Role.ML_ENGINEER],
      [`query($v: String!) { policy(key: $v) { id } }`, Role.PRIVACY_OFFICER],
      [`query($v: ID!) { lineage(nodeId: $v) { truncated } }`, Role.LINEAGE_READER],
      [`query($v: ID!) { subjectFootprint(userId: $v) { contentCount } }`, Role.PRIVACY_OFFICER],
      [`query($v: String!) { eligibility(itemIds: [], policyKey: $v) { eligible } }`, Role.PRIVACY_OFFICER],
    ] as const) {
      const res = await t.gql(query, { v: huge }, role);
      expect([query, res.status < 500, ['BAD_USER_INPUT', 'NOT_FOUND'].includes(codeOf(res))]).toEqual([query, true, true]);
      expect(JSON.stringify(res).length).toBeLessThan(1000);
    }
    const exported = await fetch(`${t.url}/datasets/${'k'.repeat(5000)}/export.ndjson`, {
      headers: { authorization: `Bearer ${t.tokens.ML_ENGINEER}` },
    });
    expect(exported.status).toBe(404);
    expect((await exported.text()).length).toBeLessThan(1000);
    const card = await fetch(`${t.url}/datasets/${'k'.repeat(5000)}/card`, {
      headers: { authorization: `Bearer ${t.tokens.ML_ENGINEER}` },
    });
    expect(card.status).toBe(404);
    expect((await card.text()).length).toBeLessThan(1000);
  });
});

/**
 * The HTTP edge: what a client costs before it has proved who it is, body limits per route, and one error shape.
 * Each against a live server, with the server's own log captured (it must stay JSON lines without the body).
 */
describe('the HTTP edge', () => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  const edge = useTestApp({ logStream: sink });

  /** A raw POST (the body as given, not re-encoded); status, content type and text of the answer, and how long it took. */
  const raw = async (path: string, body: string | Buffer, headers: Record<string, string> = {}) => {
    const started = Date.now();
    const res = await fetch(`${edge.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
    const text = await res.text();
    return { status: res.status, type: res.headers.get('content-type') ?? '', text, ms: Date.now() - started };
  };
  const bearer = (role: Role = Role.AUDITOR) => ({ authorization: `Bearer ${edge.tokens[role]}` });
  /** GraphQL-over-HTTP JSON error: `{ errors: [{ message, extensions: { code } }] }`, nothing else, no stack. */
  const graphqlError = (res: { status: number; type: string; text: string }, status: number, code: string) => {
    expect(res.type).toMatch(/^application\/(graphql-response\+)?json/);
    const body = JSON.parse(res.text);
    expect({ status: res.status, code: body.errors?.[0]?.extensions?.code, data: body.data }).toEqual({ status, code, data: undefined });
    expect(typeof body.errors[0].message).toBe('string');
    expect(res.text).not.toMatch(/<html|<pre|\bat \w+ \(|node_modules|stacktrace/i);
    return body;
  };
  /** The small problem document of the routes beside /graphql: `{ error: { code, message } }`. */
  const problem = (res: { status: number; type: string; text: string }, status: number, code: string) => {
    expect(res.type).toMatch(/^application\/(problem\+)?json/);
    const body = JSON.parse(res.text);
    expect({ status: res.status, code: body.error?.code }).toEqual({ status, code });
    expect(typeof body.error.message).toBe('string');
    expect(res.text).not.toMatch(/<html|<pre|\bat \w+ \(|node_modules|stacktrace/i);
  };

  it('answers an unauthenticated 10 MB body of nested arrays with 401 without parsing it', async () => {
    const nested = '['.repeat(5_000_000) + ']'.repeat(5_000_000);
    const anonymous = await raw('/graphql', nested);
    graphqlError(anonymous, 401, 'UNAUTHENTICATED');
    // Parsing it took the event loop 2 s (19 s in the report): the refusal must come before the body is read.
    expect(anonymous.ms).toBeLessThan(1000);
    // A token that does not verify is refused as cheaply, whatever the body.
    const forged = await raw('/graphql', nested, { authorization: `Bearer ${edge.tokens.AUDITOR.slice(0, -4)}AAAA` });
    graphqlError(forged, 401, 'UNAUTHENTICATED');
    expect(forged.ms).toBeLessThan(1000);
    // The server is fine and answers at once (the event loop's delay is measured on a server process, below).
    const health = await fetch(`${edge.url}/healthz`);
    expect(health.status).toBe(200);
  });

  it("bounds introspection without a token: 400,000 __typename aliases and 2,500 aliased __schema are refused cheaply, the IDE's query runs", async () => {
    const typenames = `{ ${Array.from({ length: 400_000 }, (_, i) => `a${i}: __typename`).join(' ')} }`;
    const flood = await raw('/graphql', JSON.stringify({ query: typenames }));
    graphqlError(flood, 401, 'UNAUTHENTICATED');
    expect(flood.ms).toBeLessThan(1000);
    const schemas = `{ ${Array.from({ length: 2500 }, (_, i) => `s${i}: __schema { types { name fields { name type { name } } } }`).join(' ')} }`;
    const big = await raw('/graphql', JSON.stringify({ query: schemas }));
    graphqlError(big, 401, 'UNAUTHENTICATED');
    expect(big.ms).toBeLessThan(1000);
    // Small enough to be read, but aliased: without a token an operation may not multiply the schema (29 aliases of the
    // IDE's query answered 4 MB and held the event loop 1.3 s).
    const inner = getIntrospectionQuery();
    const selection = inner
      .slice(inner.indexOf('__schema'), inner.indexOf('fragment FullType'))
      .trim()
      .replace(/\}\s*$/, '');
    const fragments = inner.slice(inner.indexOf('fragment FullType'));
    const aliased = await raw(
      '/graphql',
      JSON.stringify({ query: `{ ${Array.from({ length: 5 }, (_, i) => `s${i}: ${selection}`).join(' ')} } ${fragments}` }),
    );
    expect(aliased.status).toBeGreaterThanOrEqual(400);
    expect(aliased.status).toBeLessThan(500);
    expect(JSON.parse(aliased.text).data).toBeUndefined();
    // Nor with one: an alias inside the introspection multiplies it as well.
    const nested = await raw(
      '/graphql',
      JSON.stringify({
        query: `{ __schema { ${Array.from({ length: 20 }, (_, i) => `t${i}: types { name fields { name } }`).join(' ')} } }`,
      }),
      bearer(),
    );
    graphqlError(nested, 400, 'BAD_USER_INPUT');
    // What GraphiQL sends to load the Docs pane runs without a token, and `{ __typename }` too.
    const ide = await raw('/graphql', JSON.stringify({ query: inner, operationName: 'IntrospectionQuery' }));
    expect(ide.status).toBe(200);
    expect(JSON.parse(ide.text).data.__schema.queryType.name).toBe('Query');
    expect(JSON.parse((await raw('/graphql', JSON.stringify({ query: '{ __typename }' }))).text)).toEqual({
      data: { __typename: 'Query' },
    });
  });

  it('limits /graphql bodies to BODY_LIMIT_MB (1 MB by default) and answers 413 as GraphQL JSON', async () => {
    expect(loadConfig({}).bodyLimit).toBe(1024 * 1024);
    expect(edge.config.bodyLimit).toBe(1024 * 1024);
    const pad = (bytes: number) => JSON.stringify({ query: '{ viewer { subject } }', variables: { pad: 'x'.repeat(bytes) } });
    graphqlError(await raw('/graphql', pad(1_100_000), bearer()), 413, 'PAYLOAD_TOO_LARGE');
    const fits = await raw('/graphql', pad(900_000), bearer());
    expect(fits.status).toBe(200);
    expect(JSON.parse(fits.text).data.viewer.subject).toBe('test-auditor');
  });

  it('answers malformed JSON with GraphQL JSON (no HTML, no stack), and logs JSON lines without the body', async () => {
    lines.length = 0;
    const email = 'leaky.person@example.org';
    const res = await raw('/graphql', `{"query": "{ viewer { subject } }", "variables": {"email": "${email}"`, bearer());
    const body = graphqlError(res, 400, 'BAD_REQUEST');
    expect(body.errors[0].message).not.toContain(email);
    // JSON that is not an object, an unsupported charset, and a body without the JSON content type: 4xx, same shape.
    graphqlError(await raw('/graphql', '"just a string"', bearer()), 400, 'BAD_REQUEST');
    graphqlError(
      await raw('/graphql', '{}', { ...bearer(), 'content-type': 'application/json; charset=latin1' }),
      415,
      'UNSUPPORTED_MEDIA_TYPE',
    );
    const plain = await raw('/graphql', JSON.stringify({ query: '{ viewer { subject } }' }), { ...bearer(), 'content-type': 'text/plain' });
    graphqlError(plain, 400, 'BAD_REQUEST');
    // In the log: JSON lines only, the refusal by kind, never the body.
    await new Promise((r) => setTimeout(r, 50));
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(() => JSON.parse(line)).not.toThrow();
    expect(lines.join('\n')).not.toContain(email);
    expect(lines.join('\n')).not.toMatch(/node_modules|\bat \w+ \(/);
  });

  it('answers unknown routes and refused bodies beside /graphql with a JSON problem document', async () => {
    const get = async (path: string) => {
      const r = await fetch(`${edge.url}${path}`);
      return { status: r.status, type: r.headers.get('content-type') ?? '', text: await r.text() };
    };
    problem(await get('/no/such/route'), 404, 'NOT_FOUND');
    problem(await raw('/datasets/x/card', '{}'), 404, 'NOT_FOUND');
    problem(await raw('/healthz', '{"a": '), 404, 'NOT_FOUND');
    // GET / points at the IDE, the health endpoints and the README.
    const root = await get('/');
    expect(root.status).toBe(200);
    expect(JSON.parse(root.text)).toMatchObject({ graphql: '/graphql', health: '/healthz', ready: '/readyz' });
  });

  it('a server process in development: unauthenticated floods leave /healthz fast and the event loop free; the log is JSON lines without stack or body', async () => {
    const fresh = await freshDatabaseConfig();
    const env = serverEnv(fresh);
    const server = await startServerProcess(env);
    let stdout = '';
    let stderr = '';
    server.child.stdout!.on('data', (d) => (stdout += d));
    server.child.stderr!.on('data', (d) => (stderr += d));
    try {
      const token = spawnSync(process.execPath, [CLI_JS, 'token', '--role', 'AUDITOR', '--subject', 'edge-test'], {
        env,
        encoding: 'utf8',
      }).stdout.trim();
      const email = 'process.leak@example.org';
      const send = (body: string | Buffer, headers: Record<string, string> = {}) =>
        fetch(`${server.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body }).then(
          async (r) => ({ status: r.status, type: r.headers.get('content-type'), text: await r.text() }),
        );
      const answers = [
        await send(`{"query": "{ viewer { subject } }", "variables": {"email": "${email}"`),
        await send(`{"query": "{ viewer { subject } }", "variables": {"email": "${email}"`, { authorization: `Bearer ${token}` }),
        await send(JSON.stringify({ query: '{ viewer { subject } }', variables: { email, pad: 'x'.repeat(2_000_000) } }), {
          authorization: `Bearer ${token}`,
        }),
      ];
      for (const a of answers) {
        expect(a.status).toBeGreaterThanOrEqual(400);
        expect(a.status).toBeLessThan(500);
        expect(a.type).toMatch(/^application\/json/);
        expect(a.text).not.toMatch(/<html|\bat \w+ \(|node_modules/);
        expect(a.text).not.toContain(email);
      }
      // Without a token a body of up to 32 KB is read (it may be the IDE's introspection): malformed, it is a 400.
      expect(answers.map((a) => a.status)).toEqual([400, 400, 413]);

      // Floods without a token, while /healthz is asked every 20 ms; then the server's own event-loop delay p99 (from
      // perf_hooks.monitorEventLoopDelay, on /metrics). Parsing the nested arrays alone held the loop 2 s before.
      await serverEventLoopP99(server.url);
      // The attacker is a process of its own (the probes here must measure the server, not a busy client).
      let probing = true;
      const health: number[] = [];
      const probe = (async () => {
        while (probing) {
          const started = Date.now();
          expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
          health.push(Date.now() - started);
          await new Promise((r) => setTimeout(r, 20));
        }
      })();
      const flood = await floodFromProcess(server.url, 4);
      probing = false;
      expect(flood).toEqual(Array(16).fill(401));
      await probe;
      // A body too big to drain (or of unknown length) is cut: the connection closes after the 401.
      const huge = await fetch(`${server.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: Buffer.alloc(20 * 1024 * 1024, 0x5b),
      }).then(
        (r) => r.status,
        (e) => String(e.cause?.code ?? e),
      );
      expect([401, 'EPIPE', 'ECONNRESET', 'UND_ERR_SOCKET']).toContain(huge);
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
      const loopP99 = await serverEventLoopP99(server.url);
      const healthP99 = p99(health);
      process.stdout.write(
        `edge flood: ${health.length} /healthz probes, p99 ${healthP99} ms; server event-loop delay p99 ${loopP99.toFixed(1)} ms\n`,
      );
      expect(loopP99).toBeLessThan(OTHERS_BOUNDS.eventLoopP99);
      // On Citus the coordinator and two workers share the 2 cores: one probe of about 60 waited 368 ms for a core in
      // one run (the server's own event-loop p99 was 45 ms), so /healthz gets the Citus bound of the hostile-traffic suite.
      expect(healthP99).toBeLessThan(onCitus ? 1000 : OTHERS_BOUNDS.healthP99);
      await new Promise((r) => setTimeout(r, 200));
      const lines = stdout.split('\n').filter(Boolean);
      expect(lines.length).toBeGreaterThan(2);
      for (const line of lines) expect(() => JSON.parse(line)).not.toThrow();
      for (const out of [stdout, stderr]) {
        expect(out).not.toContain(email);
        expect(out).not.toMatch(/SyntaxError|PayloadTooLargeError|\bat \w+ \(|node_modules/);
      }
    } finally {
      await stopProcess(server.child);
      await fresh.drop();
    }
  });

  it('gives no "Did you mean" suggestions in production', async () => {
    const prod = await startTestApp({
      production: true,
      nodeEnv: 'production',
      ide: false,
      introspection: false,
      authSecret: 'a-production-secret-of-at-least-32-chars',
    });
    try {
      const probes = [
        `{ userz(first: 1) { totalCount } }`,
        `{ users(firsst: 1) { totalCount } }`,
        `{ users(first: 1) { edgez { node { id } } } }`,
        `query($r: Rol) { viewer { subject } }`,
        `{ eligibleContent(first: 1, filter: { platformz: FACEBOOK }) { totalCount } }`,
        `{ contentItems(first: 1, filter: { platforms: [FACEBOK] }) { totalCount } }`,
        `query($f: ContentFilter) { contentItems(first: 1, filter: $f) { totalCount } }`,
      ];
      for (const query of probes) {
        for (const token of [null, Role.AUDITOR]) {
          const res = await prod.gql(query, { f: { platforms: ['FACEBOK'], languagez: ['de'] } }, token);
          expect(res.status).toBeGreaterThanOrEqual(400);
          expect(res.status).toBeLessThan(500);
          expect(JSON.stringify(res.errors)).not.toMatch(/did you mean|"users?"|"first"|"edges"|"Role"|"platform"/i);
        }
      }
      // A value that does not coerce: no suggestion of the enum's values or the input's fields either.
      const coerce = await prod.gql(
        `mutation($i: ObjectionInput!) { objectionRecord(input: $i) { event { id } } }`,
        { i: { userIdd: 'x', scope: 'ALL_AI_TRAININ' } },
        Role.PRIVACY_OFFICER,
      );
      expect(coerce.status).toBe(400);
      expect(JSON.stringify(coerce.errors)).not.toMatch(/did you mean|suggestion|ALL_AI_TRAINING|"userId"/i);
    } finally {
      await prod.close();
    }
  });
});
