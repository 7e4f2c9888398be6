import autocannon from 'autocannon';
import { Role } from '../../src/common/auth';
import { runAudited } from '../../src/modules/audit/audited-mutation';
import { writeSynthetic } from '../../src/modules/seed/synthetic';
import { HostileCase, hostileCases } from '../support/hostile-cases';
import { ok, startFreshTestApp, TestApp, uniq, notOnCitus, whileOthersWatch } from '../helpers';

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
    const authors: string[] = (await t.sql(`SELECT id FROM users WHERE external_id LIKE $1 ORDER BY id LIMIT 50`, [`${prefix}%`])).map(
      (r: any) => r.id,
    );
    const build = t.gql(
      `mutation { datasetRequest(input: { name: "${uniq('conc')}" }) { dataset { id snapshotAt memberCount } userErrors { code } } }`,
      {},
      Role.ML_ENGINEER,
    );
    const objections = authors.map((id, i) =>
      new Promise((r) => setTimeout(r, i * 5)).then(() => t.gql(RECORD, { i: { userId: id, scope: 'ALL_AI_TRAINING' } })),
    );
    const [made, ...recorded] = await Promise.all([build, ...objections]);
    const ds = ok(made).datasetRequest.dataset;
    expect(recorded.every((r: any) => !r.errors && r.data.objectionRecord.userErrors.length === 0)).toBe(true);
    expect((await t.sql(`SELECT count(*)::int AS n FROM consent_events WHERE user_id = ANY($1::uuid[])`, [authors]))[0].n).toBe(50);
    const q = ok(
      await t.gql(
        `query($id: ID!) { dataset(id: $id) { buildVerification { reproduced missingCount unexpectedCount } taint { taintedCount } } auditChainVerification { valid } }`,
        { id: ds.id },
        Role.AUDITOR,
      ),
    );
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

/** Figures of each load run, quoted together at the end: requests per second and p99 of the ordinary requests. */
const figures: string[] = [];
afterAll(() => figures.length && process.stdout.write(`load, ordinary requests:\n${figures.map((f) => `  ${f}\n`).join('')}`));

/**
 * 50 connections of ordinary mixed reads and writes for LOAD_SECONDS (20 by default). With `hostile`, a tenth of all
 * requests come from the attacks of issue 13 (test/support/hostile-cases.ts), sent beside them: six lanes of refused requests
 * and one lane of exports aborted mid-stream or read slowly for a bounded time (one lane, so that they stay within the
 * export budget). Ends with zero 5xx, zero lost acknowledged writes and a valid audit chain; the ordinary requests'
 * rate and p99 (from autocannon, which sends only those), /healthz and the event loop are logged, not bounded: the run
 * saturates the server on purpose (its p99 is queueing), the bounds of the issue are tested in hostile-traffic.test.ts.
 */
async function load(hostile: boolean) {
  const users: string[] = (
    await t.sql(`SELECT id FROM users WHERE external_id LIKE $1 ORDER BY id OFFSET 100 LIMIT 1000`, [`${prefix}%`])
  ).map((r: any) => r.id);
  const items: string[] = (await t.sql(`SELECT id FROM content_items WHERE external_id LIKE $1 ORDER BY id LIMIT 100`, [`${prefix}%`])).map(
    (r: any) => r.id,
  );
  const acknowledged: string[] = [];
  let n = 0;
  let ordinary = 0;
  const officer = { 'content-type': 'application/json', authorization: `Bearer ${t.tokens.PRIVACY_OFFICER}` };
  const seconds = Number(process.env.LOAD_SECONDS ?? 20);
  const run = `${prefix}${hostile ? 'h' : 'o'}`;

  // The attacks, built before the run starts.
  const hostileStatuses: { item: number; refused: boolean; status: number }[] = [];
  let running = true;
  let attack: Promise<unknown> = Promise.resolve();
  if (hostile) {
    // A dataset of people the ordinary writes leave alone (their objections would taint it: its export would be a 409).
    await runAudited(t.context(Role.INGEST_SERVICE), 'syntheticSeed', {}, async (tx) => {
      await writeSynthetic(tx.manager, { users: 200, items: 3000, objections: 0, seed: 10, prefix: `${prefix}x-`, profile: 'clean' });
      return { payload: undefined, targetIds: [] };
    });
    const made = ok(
      await t.gql(
        `mutation($i: DatasetRequestInput!) { datasetRequest(input: $i) { dataset { id memberCount } userErrors { code } } }`,
        { i: { name: uniq('load-export'), filters: { languages: ['zzc'] } } },
        Role.ML_ENGINEER,
      ),
    );
    const datasetId = made.datasetRequest.dataset.id;
    const exportBytes = (
      await (
        await fetch(`${t.url}/datasets/${datasetId}/export.ndjson`, { headers: { authorization: `Bearer ${t.tokens.ML_ENGINEER}` } })
      ).arrayBuffer()
    ).byteLength;
    const cases = hostileCases(t, { datasetId, exportBytes, exportBudget: t.config.exportConcurrency }).filter(
      (c) => !c.serverOnly || t.db.mode !== 'embedded',
    );
    const lane = (mine: HostileCase[]) => async () => {
      for (let i = 0; running; i++) {
        // A tenth of all requests: wait while the attacks are ahead of that share.
        if (hostileStatuses.length * 9 >= ordinary) {
          await new Promise((r) => setTimeout(r, 20));
          continue;
        }
        const c = mine[i % mine.length];
        for (const status of await c.send()) hostileStatuses.push({ item: c.item, refused: c.refused, status });
      }
    };
    const refused = cases.filter((c) => c.refused);
    const downloads = cases.filter((c) => !c.refused);
    attack = Promise.all([
      ...(refused.length
        ? Array.from({ length: 6 }, (_, k) => lane([...refused.slice(k % refused.length), ...refused.slice(0, k % refused.length)])())
        : []),
      ...(downloads.length ? [lane(downloads)()] : []),
    ]);
  }

  const seen = await whileOthersWatch(
    t,
    async () => {
      const result = await autocannon({
        url: `${t.url}/graphql`,
        connections: 50,
        duration: seconds,
        requests: [
          {
            method: 'POST',
            headers: officer,
            setupRequest: (req: any) => {
              const i = n++;
              return i % 3 === 0
                ? {
                    ...req,
                    body: JSON.stringify({
                      query: RECORD,
                      variables: {
                        i: {
                          userId: users[i % users.length],
                          scope: ['ALL_AI_TRAINING', 'PUBLIC_CONTENT', 'AI_INTERACTIONS'][i % 3],
                          idempotencyKey: `load-${run}${i}`,
                        },
                      },
                    }),
                  }
                : i % 3 === 1
                  ? {
                      ...req,
                      body: JSON.stringify({
                        query: 'query($ids: [ID!]!) { eligibility(itemIds: $ids) { itemId eligible reasons } }',
                        variables: { ids: items },
                      }),
                    }
                  : { ...req, body: JSON.stringify({ query: '{ users(first: 50) { edges { node { id country } } } }' }) };
            },
            onResponse: (status: number, body: string) => {
              ordinary++;
              if (status === 200 && body.includes('"objectionRecord"')) {
                const id = JSON.parse(body).data?.objectionRecord?.event?.id;
                if (id) acknowledged.push(id);
              }
            },
          },
        ],
      } as any);
      running = false;
      await attack;
      return result;
    },
    1,
  );
  const result = seen.result;
  const fiveXx = (result as any)['5xx'] ?? 0;
  const hostileShare = hostileStatuses.length / (hostileStatuses.length + result.requests.total);
  const byStatus = [...new Set(hostileStatuses.map((h) => h.status))]
    .sort()
    .map((s) => `${s}: ${hostileStatuses.filter((h) => h.status === s).length}`);
  figures.push(
    `${hostile ? 'with the hostile mix' : 'without hostile traffic'}: ${Math.round(result.requests.average)} requests/s, p99 ${result.latency.p99} ms (${result.requests.total} requests, ` +
      `${acknowledged.length} acknowledged objections${hostile ? `; hostile ${hostileStatuses.length} requests, ${(100 * hostileShare).toFixed(1)}% of all, statuses ${byStatus.join(', ')}` : ''}); ` +
      `/healthz p99 ${seen.health.p99} ms, event-loop delay p99 ${seen.eventLoopP99.toFixed(1)} ms (${t.db.mode})`,
  );
  process.stdout.write(`load: ${figures[figures.length - 1]}\n`);
  expect(fiveXx).toBe(0);
  expect(result.non2xx).toBe(0);
  expect(result.errors).toBe(0);
  expect(seen.ordinary.failures).toEqual([]);
  expect(seen.health.failures).toEqual([]);
  if (hostile) {
    // About a tenth (lanes wait while ahead of the share; a slow export or a batch of floods may overshoot it briefly).
    expect(hostileShare).toBeGreaterThan(0.05);
    expect(hostileStatuses.filter((h) => h.status >= 500 || (h.status === 0 && h.refused))).toEqual([]);
    expect(hostileStatuses.filter((h) => h.refused && h.status < 400)).toEqual([]);
    expect(new Set(hostileStatuses.map((h) => h.item)).size).toBeGreaterThanOrEqual(6);
  }
  expect(acknowledged.length).toBeGreaterThan(10);
  const found = (await t.sql(`SELECT count(*)::int AS n FROM consent_events WHERE id = ANY($1::bigint[])`, [acknowledged]))[0].n;
  expect(found).toBe(new Set(acknowledged).size);
  expect(ok(await t.gql(`{ auditChainVerification { valid problems } }`, {}, Role.AUDITOR)).auditChainVerification).toEqual({
    valid: true,
    problems: [],
  });
}

describe('load', () => {
  const onServer = notOnCitus(
    '50 connections through a coordinator and two workers sharing 2 cores exceed the 10 s request timeout; load on Citus needs a cluster on its own machines',
  );
  onServer.it(
    'serves mixed reads and writes from 50 connections with no 5xx, no lost write and a valid audit chain',
    () => load(false),
    180_000,
  );
  onServer.it(
    'does so with a hostile mix: a tenth of the traffic from the attacks of issue 13, every one refused with a 4xx',
    () => load(true),
    180_000,
  );
});
