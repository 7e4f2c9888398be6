import fc from 'fast-check';
import { Role } from '../src/common/auth';
import { factory, ingest, ok, startTestApp, TestApp, uniq } from './helpers';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => t?.close());

const TABLES = ['users', 'content_items', 'visibility_changes', 'consent_events', 'policies', 'audit_events', 'datasets', 'lineage_edges'];
const counts = async () => JSON.stringify(await Promise.all(TABLES.map(async (tb) => (await t.sql(`SELECT count(*)::int AS n FROM ${tb}`))[0].n)));
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
  fc.constantFrom('2999-01-01T00:00:00Z', 'not-a-date', '2025-02-30T00:00:00Z', '00000000-0000-0000-0000-000000000000', "'; DROP TABLE users; --", '\u0000', '-1', '1e309'),
  fc.array(fc.string(), { maxLength: 5 }),
  fc.dictionary(fc.string({ maxLength: 10 }), fc.string({ maxLength: 10 }), { maxKeys: 4 }),
);

const hostileVariables = fc.record({
  input: fc.oneof(hostileValue, fc.record({
    userId: hostileValue, scope: hostileValue, effectiveAt: hostileValue, users: hostileValue, rows: fc.array(fc.record({ externalUserId: hostileValue, scope: fc.constantFrom('ALL_AI_TRAINING', 'X') }), { maxLength: 3 }), name: hostileValue,
  }, { requiredKeys: [] })),
  ids: fc.oneof(hostileValue, fc.array(fc.constantFrom('00000000-0000-0000-0000-000000000000', 'x', ''), { maxLength: 5 })),
  asOf: hostileValue, id: hostileValue, depth: hostileValue, first: hostileValue, after: hostileValue,
}, { requiredKeys: [] });

/** Documents: random text, valid ones cut or garbled, deep nesting and alias fan-out. */
const hostileDocument = fc.oneof(
  fc.string({ maxLength: 300 }),
  fc.tuple(fc.constantFrom(...VALID), fc.nat(400)).map(([d, n]) => d.slice(0, n)),
  fc.tuple(fc.constantFrom(...VALID), fc.nat(400), fc.constantFrom('{', '}', '(', '$', '"', '...', '#')).map(([d, n, ch]) => d.slice(0, n) + ch + d.slice(n)),
  fc.integer({ min: 10, max: 300 }).map((n) => `{ users(first: 1) { ${'edges { node { id } } '.repeat(1)}${'{'.repeat(n)} } }`),
  fc.integer({ min: 2, max: 400 }).map((n) => `{ ${Array.from({ length: n }, (_, i) => `a${i}: users(first: 500) { totalCount edges { node { id } } }`).join(' ')} }`),
  fc.constantFrom(...VALID),
);

describe('hostile input', () => {
  it('never answers 5xx, never leaks internals, never writes a row for a refused request', async () => {
    await fc.assert(
      fc.asyncProperty(hostileDocument, hostileVariables, fc.constantFrom(Role.PRIVACY_OFFICER, Role.ML_ENGINEER, Role.AUDITOR, Role.INGEST_SERVICE), async (query, variables, role) => {
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
        const refused = !body.data || Object.values(body.data).every((v: any) => v == null || (Array.isArray(v?.userErrors) && v.userErrors.length > 0));
        if (refused) expect(await counts()).toBe(before);
      }),
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
    datasetId = ok(await t.gql(`mutation { datasetRequest(input: { name: "${uniq('hostile')}", filters: { languages: ["zz"] } }) { dataset { id } userErrors { code } } }`, {}, Role.ML_ENGINEER)).datasetRequest.dataset.id;
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
      'not a cursor!', '', b64('{"a":1}'), b64([]), b64(['x']), b64(['x', 'y']), b64(['x', 'y', 'z']), b64([1.5]), b64([-1]), b64(['1e999']), b64([null]),
      b64(['\u0000']), b64(['2025-13-45T00:00:00Z', '00000000-0000-0000-0000-000000000000']), b64(['2025-01-01T00:00:00Z', 'not-a-uuid']),
      b64(['00000000-0000-0000-0000-00000000000g']), b64(['99999999999999999999999']), b64(['1; DROP TABLE users']), b64('["' + 'a'.repeat(5000) + '"]'),
    ];
    const failures: string[] = [];
    for (const q of lists) {
      for (const a of tampered) {
        const res = await asAnyRole(q, { a, d: datasetId });
        if (codeOf(res) !== 'BAD_USER_INPUT') failures.push(`${q.slice(0, 60)} after=${a.slice(0, 40)}: ${JSON.stringify(res.errors ?? res.data).slice(0, 200)}`);
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
      [`mutation($v: String, $u: ID!) { objectionRecord(input: { userId: $u, scope: ALL_AI_TRAINING, reason: $v }) { userErrors { code message } } }`, {}, 'objectionRecord'],
      [`mutation($v: String) { usersIngest(input: { users: [{ externalId: "${uniq('u')}", handle: $v, country: "DE" }] }) { userErrors { code message } } }`, {}, 'usersIngest'],
      [`mutation($v: String!) { policyPublish(input: { key: "${uniq('p')}", legalBasis: $v, platforms: [FACEBOOK], kinds: [POST], mode: DRY_RUN }) { userErrors { code message } } }`, {}, 'policyPublish'],
    ];
    const failures: string[] = [];
    for (const [query, vars, field] of cases) {
      for (const v of ['a\u0000b', '\u0000', 'x\ud800', '\udc00y', 'ok\ud83d']) {
        const res = await asAnyRole(query, { ...vars, v, u: userId });
        if (codeOf(res, field) !== 'BAD_USER_INPUT') failures.push(`${query.slice(0, 70)} ${JSON.stringify(v)}: ${JSON.stringify(res.errors ?? res.data).slice(0, 200)}`);
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
      expect([languages, codeOf(list), list.errors?.[0].extensions?.field]).toEqual([languages, 'BAD_USER_INPUT', expect.stringMatching(/^filter\.languages/)]);
      const report = await t.gql(`query($l: [String!]) { eligibilityReport(filter: { languages: $l }) { evaluated } }`, { l: languages });
      expect(codeOf(report)).toBe('BAD_USER_INPUT');
      const ds = ok(await t.gql(`mutation($l: [String!]) { datasetRequest(input: { name: "${uniq('lang')}", filters: { languages: $l } }) { userErrors { code field } } }`, { l: languages }, Role.ML_ENGINEER));
      expect(ds.datasetRequest.userErrors[0]).toMatchObject({ code: 'BAD_USER_INPUT', field: expect.stringMatching(/^filters\.languages/) });
    }
    expect(codeOf(await t.gql(`{ contentItems(filter: { languages: ["de", "fil"] }) { totalCount } }`))).toBeUndefined();
  });

  it('bounds every free-text argument, naming the maximum, and writes nothing', async () => {
    const before = await counts();
    const long = (n: number) => 'x'.repeat(n + 1);
    const cases: [string, string, Record<string, unknown>, Role, number][] = [
      ['policyPublish', `mutation($v: String) { policyPublish(input: { key: "${uniq('p')}", legalBasis: "x", description: $v, platforms: [FACEBOOK], kinds: [POST], mode: DRY_RUN }) { userErrors { code message field } } }`, {}, Role.PRIVACY_OFFICER, 2000],
      ['policyPublish', `mutation($v: String!) { policyPublish(input: { key: "${uniq('p')}", legalBasis: $v, platforms: [FACEBOOK], kinds: [POST], mode: DRY_RUN }) { userErrors { code message field } } }`, {}, Role.PRIVACY_OFFICER, 500],
      ['datasetRequest', `mutation($v: String) { datasetRequest(input: { name: "${uniq('d')}", purpose: $v }) { userErrors { code message field } } }`, {}, Role.ML_ENGINEER, 2000],
      ['datasetDerive', `mutation($v: String, $d: ID!) { datasetDerive(input: { name: "${uniq('d')}", operation: UNION, parentIds: [$d], purpose: $v }) { userErrors { code message field } } }`, {}, Role.ML_ENGINEER, 2000],
      ['trainingRunRecord', `mutation($v: String, $d: ID!) { trainingRunRecord(input: { modelName: "m", modelVersion: "${uniq('v')}", datasetIds: [$d], description: $v }) { userErrors { code message field } } }`, {}, Role.ML_ENGINEER, 2000],
      ['objectionRecord', `mutation($v: String, $u: ID!) { objectionRecord(input: { userId: $u, scope: ALL_AI_TRAINING, reason: $v }) { userErrors { code message field } } }`, {}, Role.PRIVACY_OFFICER, 2000],
      ['objectionsImport', `mutation($v: String) { objectionsImport(input: { reason: $v, rows: [{ externalUserId: "nobody", scope: ALL_AI_TRAINING }] }) { userErrors { code message field } } }`, {}, Role.PRIVACY_OFFICER, 2000],
      ['erasureRequest', `mutation($v: String!, $u: ID!) { erasureRequest(input: { userId: $u, reason: $v }) { userErrors { code message field } } }`, {}, Role.PRIVACY_OFFICER, 2000],
    ];
    const failures: string[] = [];
    for (const [field, query, vars, role, max] of cases) {
      const res = await t.gql(query, { ...vars, v: long(max), u: userId, d: datasetId }, role);
      const message = messageOf(res, field);
      if (codeOf(res, field) !== 'BAD_USER_INPUT' || !message.replace(/,/g, '').includes(String(max))) failures.push(`${field} (${max}): ${JSON.stringify(res.errors ?? res.data).slice(0, 300)}`);
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
    const exported = await fetch(`${t.url}/datasets/${'k'.repeat(5000)}/export.ndjson`, { headers: { authorization: `Bearer ${t.tokens.ML_ENGINEER}` } });
    expect(exported.status).toBe(404);
    expect((await exported.text()).length).toBeLessThan(1000);
  });
});
