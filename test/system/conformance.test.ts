import { auditServer } from 'graphql-http';
import { Role } from '../../src/common/auth';
import { MAX_COST, MAX_DEPTH } from '../../src/common/limits';
import { startTestApp, useTestApp } from '../helpers';

const t = useTestApp();

/** Warnings of the graphql-http audit we accept, each explained in the README ("GraphQL over HTTP"). */
const ACCEPTED_WARNINGS = [
  /^SHOULD use 200 status code on document parsing failure when accepting application\/json$/,
  /^SHOULD use 200 status code on document validation failure when accepting application\/json$/,
  /^SHOULD use a status code of 200 on variable coercion failure when accepting application\/json$/,
];

describe('GraphQL over HTTP conformance (graphql-http audit)', () => {
  it('passes every MUST audit', async () => {
    const results = await auditServer({ url: `${t.url}/graphql` });
    const failures = results.filter((r) => r.status === 'error');
    const warnings = results.filter((r) => r.status === 'warn');
    expect(results.length).toBeGreaterThan(30);
    expect(results.filter((r) => r.status === 'ok').length).toBeGreaterThan(30);
    expect(failures.map((r) => `${r.id} ${r.name}: ${r.reason}`)).toEqual([]);
    expect(results.filter((r) => r.name.startsWith('MUST') && r.status !== 'ok').map((r) => `${r.id} ${r.name}`)).toEqual([]);
    for (const w of warnings) expect(ACCEPTED_WARNINGS.some((p) => p.test(w.name))).toBe(true);
    // For the README: which SHOULD audits warn.
    process.stdout.write(`graphql-http warnings:\n${warnings.map((w) => `  ${w.id} ${w.name}: ${w.reason}`).join('\n')}\n`);
  });
});

describe('limits', () => {
  it('refuses operations deeper than the depth limit', async () => {
    const nest = (levels: number) => `{ datasets(first: 1) { edges { node { ${'parents { '.repeat(levels)}id${' }'.repeat(levels)} } } } }`;
    // datasets > edges > node is 3 levels; each `parents` adds one, `id` one more.
    expect((await t.gql(nest(MAX_DEPTH - 4), {}, Role.AUDITOR)).errors).toBeUndefined();
    const res = await t.gql(nest(MAX_DEPTH), {}, Role.AUDITOR);
    expect(res.status).toBe(400);
    expect(res.errors?.[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT' } });
    expect(res.errors?.[0].message).toMatch(/levels deep/);
  });

  it('refuses operations costlier than the cost limit, counting page sizes and aliases', async () => {
    const page = `users(first: 500) { edges { node { id country contentCount } } }`;
    expect((await t.gql(`{ ${page} }`, {}, Role.AUDITOR)).errors).toBeUndefined();
    const fanned = `{ ${Array.from({ length: 20 }, (_, i) => `a${i}: ${page}`).join(' ')} }`;
    const res = await t.gql(fanned, {}, Role.AUDITOR);
    expect(res.status).toBe(400);
    expect(res.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', maxCost: MAX_COST });
    const lineage = `{ ${Array.from({ length: 30 }, (_, i) => `l${i}: lineage(nodeId: "00000000-0000-0000-0000-000000000000", depth: 50) { nodes { id label depth } edges { type } }`).join(' ')} }`;
    expect((await t.gql(lineage, {}, Role.AUDITOR)).errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('refuses a request body over the limit', async () => {
    const small = await startTestApp({ bodyLimit: 1024 });
    try {
      const res = await fetch(`${small.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${small.tokens.AUDITOR}` },
        body: JSON.stringify({ query: `{ viewer { subject } }`, variables: { pad: 'x'.repeat(5000) } }),
      });
      expect(res.status).toBe(413);
    } finally {
      await small.close();
    }
  });
});
