import fc from 'fast-check';
import { Role } from '../src/common/auth';
import { startTestApp, TestApp } from './helpers';

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
