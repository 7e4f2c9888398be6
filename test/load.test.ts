import autocannon from 'autocannon';
import { Role } from '../src/common/auth';
import { runAudited } from '../src/modules/audit/audited-mutation';
import { writeSynthetic } from '../src/modules/seed/synthetic';
import { ok, startFreshTestApp, TestApp, uniq, notOnCitus } from './helpers';

// A database of its own: the audit chain verification below also checks the ledger, which other files write to directly.
let t: TestApp;
let prefix: string;
beforeAll(async () => {
  t = await startFreshTestApp();
  prefix = `${uniq('ld')}-`;
  await runAudited(t.context(Role.INGEST_SERVICE), 'syntheticSeed', {}, async (tx) => {
    await writeSynthetic(tx.manager, { users: 2000, items: 20000, objections: 0, seed: 9, prefix });
    return { payload: undefined, targetIds: [] };
  });
}, 300_000);
afterAll(async () => t?.close());

const RECORD = `mutation($i: ObjectionInput!) { objectionRecord(input: $i) { event { id } userErrors { code } } }`;

describe('concurrency', () => {
  it('keeps a dataset build exact while 50 objections for its authors commit around it', async () => {
    const authors: string[] = (await t.sql(`SELECT id FROM users WHERE external_id LIKE $1 ORDER BY id LIMIT 50`, [`${prefix}%`])).map((r: any) => r.id);
    const build = t.gql(`mutation { datasetRequest(input: { name: "${uniq('conc')}" }) { dataset { id snapshotAt memberCount } userErrors { code } } }`, {}, Role.ML_ENGINEER);
    const objections = authors.map((id, i) => new Promise((r) => setTimeout(r, i * 5)).then(() => t.gql(RECORD, { i: { userId: id, scope: 'ALL_AI_TRAINING' } })));
    const [made, ...recorded] = await Promise.all([build, ...objections]);
    const ds = ok(made).datasetRequest.dataset;
    expect(recorded.every((r: any) => !r.errors && r.data.objectionRecord.userErrors.length === 0)).toBe(true);
    expect((await t.sql(`SELECT count(*)::int AS n FROM consent_events WHERE user_id = ANY($1::uuid[])`, [authors]))[0].n).toBe(50);
    const q = ok(await t.gql(`query($id: ID!) { dataset(id: $id) { buildVerification { reproduced missingCount unexpectedCount } taint { taintedCount } } auditChainVerification { valid } }`, { id: ds.id }, Role.AUDITOR));
    expect(q.dataset.buildVerification).toEqual({ reproduced: true, missingCount: 0, unexpectedCount: 0 });
    expect(q.auditChainVerification.valid).toBe(true);
    // Tainted exactly for the objections the build's snapshot did not see (committed after it looked).
    const [expected] = await t.sql(
      `SELECT count(*)::int AS n FROM dataset_members m WHERE m.dataset_id = $1
       AND m.author_id IN (SELECT user_id FROM consent_events WHERE user_id = ANY($2::uuid[]) AND NOT pg_visible_in_snapshot(recorded_xid, (SELECT knowledge_snapshot FROM datasets WHERE id = $1)))`,
      [ds.id, authors],
    );
    const [before] = await t.sql(
      `SELECT count(*)::int AS n FROM dataset_members m WHERE m.dataset_id = $1
       AND m.author_id IN (SELECT user_id FROM consent_events WHERE user_id = ANY($2::uuid[]) AND pg_visible_in_snapshot(recorded_xid, (SELECT knowledge_snapshot FROM datasets WHERE id = $1)))`,
      [ds.id, authors],
    );
    expect(before.n).toBe(0); // objections known at the snapshot were honoured
    expect(q.dataset.taint.taintedCount).toBe(expected.n);
  });
});

describe('load', () => {
  notOnCitus('50 connections through a coordinator and two workers sharing 2 cores exceed the 10 s request timeout; load on Citus needs a cluster on its own machines')
    .it('serves mixed reads and writes from 50 connections with no 5xx, no lost write and a valid audit chain', async () => {
    const users: string[] = (await t.sql(`SELECT id FROM users WHERE external_id LIKE $1 ORDER BY id OFFSET 100 LIMIT 1000`, [`${prefix}%`])).map((r: any) => r.id);
    const items: string[] = (await t.sql(`SELECT id FROM content_items WHERE external_id LIKE $1 ORDER BY id LIMIT 100`, [`${prefix}%`])).map((r: any) => r.id);
    const acknowledged: string[] = [];
    let n = 0;
    const officer = { 'content-type': 'application/json', authorization: `Bearer ${t.tokens.PRIVACY_OFFICER}` };
    const result = await autocannon({
      url: `${t.url}/graphql`,
      connections: 50,
      duration: Number(process.env.LOAD_SECONDS ?? 30),
      requests: [
        {
          method: 'POST',
          headers: officer,
          setupRequest: (req: any) => {
            const i = n++;
            return i % 3 === 0
              ? { ...req, body: JSON.stringify({ query: RECORD, variables: { i: { userId: users[i % users.length], scope: ['ALL_AI_TRAINING', 'PUBLIC_CONTENT', 'AI_INTERACTIONS'][i % 3], idempotencyKey: `load-${prefix}${i}` } } }) }
              : i % 3 === 1
                ? { ...req, body: JSON.stringify({ query: 'query($ids: [ID!]!) { eligibility(itemIds: $ids) { itemId eligible reasons } }', variables: { ids: items } }) }
                : { ...req, body: JSON.stringify({ query: '{ users(first: 50) { edges { node { id country } } } }' }) };
          },
          onResponse: (status: number, body: string) => {
            if (status === 200 && body.includes('"objectionRecord"')) {
              const id = JSON.parse(body).data?.objectionRecord?.event?.id;
              if (id) acknowledged.push(id);
            }
          },
        },
      ],
    } as any);
    const fiveXx = (result as any)['5xx'] ?? 0;
    process.stdout.write(`load: ${Math.round(result.requests.average)} requests/s, p99 ${result.latency.p99} ms, ${result.requests.total} requests, ${acknowledged.length} acknowledged objections, ${fiveXx} 5xx, ${result.non2xx} non-2xx, ${result.errors} errors\n`);
    expect(fiveXx).toBe(0);
    expect(result.non2xx).toBe(0);
    expect(result.errors).toBe(0);
    expect(acknowledged.length).toBeGreaterThan(10);
    const found = (await t.sql(`SELECT count(*)::int AS n FROM consent_events WHERE id = ANY($1::bigint[])`, [acknowledged]))[0].n;
    expect(found).toBe(new Set(acknowledged).size);
    expect(ok(await t.gql(`{ auditChainVerification { valid problems } }`, {}, Role.AUDITOR)).auditChainVerification).toEqual({ valid: true, problems: [] });
  }, 180_000);
});
