import crypto from 'node:crypto';
import type { EntityManager } from 'typeorm';
import { Role } from '../../src/common/auth';
import { withParallelTupleCost } from '../../src/db/sql';
import { runAudited } from '../../src/modules/audit';
import { BUILD_PARALLEL_TUPLE_COST } from '../../src/modules/datasets/dataset.store';
import { seedDemoIfEmpty } from '../../src/modules/seed/demo';
import { freshDatabaseConfig, ok, startTestApp, uniq, useTestApp } from '../helpers';
import { codeOf, tampered, usersCursor, walk } from '../support/pages';
import { DatasetDeriveDocument, DatasetRemediateDocument, DatasetRequestDocument, TrainingRunRecordDocument } from '../generated/graphql';
import { World } from '../world';

const t = useTestApp();
const w = new World(t);

/** A language code unique to one test, so that its datasets only see its own items in a shared database. */
const lang = () => String.fromCharCode(...Array.from({ length: 3 }, () => 97 + crypto.randomInt(26)));
const request = async (input: Record<string, unknown>, as: Role = Role.ML_ENGINEER) =>
  ok(await t.gql(DatasetRequestDocument, { input: { name: uniq('ds'), ...input } }, as)).datasetRequest;
const members = async (id: string) =>
  (await t.sql(`SELECT item_id FROM dataset_members WHERE dataset_id = $1 ORDER BY item_id`, [id])).map((r: any) => r.item_id);
const object = (userId: string, scope = 'ALL_AI_TRAINING') =>
  t.gql(
    `mutation($i: ObjectionInput!) { objectionRecord(input: $i) { userErrors { code } } }`,
    { i: { userId, scope } },
    Role.PRIVACY_OFFICER,
  );

/** The transaction's planner cost of a row from a worker to the leader, as PostgreSQL shows it. */
const parallelTupleCost = async (m: EntityManager) => (await m.query(`SHOW parallel_tuple_cost`))[0].parallel_tuple_cost as string;

/** A dataset row straight in SQL at a chosen instant (no members), owned by nobody in particular. */
const fixtureDataset = async (name: string, version: number, createdAt: string) =>
  (
    await t.sql(
      `INSERT INTO datasets (name, version, policy_id, snapshot_at, requested_by, origin, spec, member_count, candidate_count, exclusions, manifest_digest, created_at)
       SELECT $1, $2, id, $3, 'test', 'DERIVE', '{}', 0, 0, '[]', repeat('0', 64), $3 FROM policies WHERE key = 'eu-ai-training' AND version = 1 RETURNING id`,
      [name, version, createdAt],
    )
  )[0].id as string;

/** A small world in its own language: adults, a minor, a non-EU author, private content. */
async function world(n = 12) {
  const language = lang();
  const adults = [await w.user(), await w.user(), await w.user()];
  const minor = await w.user({ birthDate: '2012-01-01' });
  const american = await w.user({ country: 'US' });
  const items: { id: string; author: string }[] = [];
  for (let i = 0; i < n; i++) {
    const author = [...adults, minor, american][i % 5];
    items.push({ id: await w.item(author, { language, visibility: i % 7 === 6 ? 'FRIENDS' : 'PUBLIC', text: `text ${i % 10}` }), author });
  }
  return { language, adults, minor, american, items };
}

describe('datasetRequest', () => {
  it('holds exactly the items the explain path calls eligible at its snapshot, with exclusions and a digest', async () => {
    const wd = await world(20);
    const r = await request({ filters: { languages: [wd.language] }, purpose: 'test' });
    expect(r.userErrors).toEqual([]);
    const d = r.dataset;
    expect(d).toMatchObject({ version: 1, status: 'ACTIVE', candidateCount: 20, policy: { key: 'eu-ai-training', version: 1 } });
    const verdicts = await t.services().eligibility.verdicts(
      t.context(),
      wd.items.map((i) => i.id),
      'eu-ai-training',
      new Date(d.snapshotAt),
    );
    const eligible = verdicts
      .filter((v) => v.eligible)
      .map((v) => v.itemId)
      .sort();
    expect(await members(d.id)).toEqual(eligible);
    expect(d.memberCount).toBe(eligible.length);
    const expectedExclusions = new Map<string, number>();
    for (const v of verdicts) for (const reason of v.reasons) expectedExclusions.set(reason, (expectedExclusions.get(reason) ?? 0) + 1);
    expect(Object.fromEntries(d.exclusions.map((e: any) => [e.reason, e.count]))).toEqual(Object.fromEntries(expectedExclusions));
    const lines = eligible.map((id) => `${id}\t${(verdicts.find((v) => v.itemId === id) as any) && ''}`);
    expect(lines.length).toBe(eligible.length);
    const hashes = await t.sql(`SELECT id, content_hash FROM content_items WHERE id = ANY($1::uuid[]) ORDER BY id`, [eligible]);
    const digest = crypto
      .createHash('sha256')
      .update(hashes.map((h: any) => `${h.id}\t${h.content_hash}\n`).join(''))
      .digest('hex');
    expect(d.manifestDigest).toBe(digest);
  });

  it('keeps a version in a partition shaped exactly as dataset_members, holding its members and nothing else', async () => {
    // A build loads its partition with working rows and columns (counts, snapshot: dataset.membership.store
    // buildTableSql) and takes them out before keying: none may remain, and the columns must be the parent's.
    const wd = await world(10);
    const d = (await request({ filters: { languages: [wd.language] } })).dataset;
    const columns = (table: string) =>
      t.sql(
        `SELECT attname::text AS name, format_type(atttypid, atttypmod) AS type, attnotnull AS "notNull" FROM pg_attribute
          WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
        [table],
      );
    const [{ part }] = await t.sql(
      `SELECT c.relid::regclass::text AS part FROM pg_partition_tree('dataset_members') c JOIN pg_partition_root(c.relid) r ON true
        WHERE c.isleaf AND pg_get_expr((SELECT relpartbound FROM pg_class WHERE oid = c.relid), c.relid) LIKE '%' || $1 || '%'`,
      [d.id],
    );
    expect(await columns(part)).toEqual(await columns('dataset_members'));
    const keys = await t.sql(
      `SELECT regexp_replace(pg_get_indexdef(indexrelid), '^.* USING ', '') AS def, indisprimary AS "primary" FROM pg_index WHERE indrelid = $1::regclass ORDER BY 1`,
      [part],
    );
    expect(keys).toEqual([
      { def: 'btree (author_id)', primary: false },
      { def: 'btree (item_id, author_id)', primary: true },
    ]);
    const [rows] = await t.sql(`SELECT count(*)::int AS n, count(DISTINCT item_id)::int AS items FROM ${part}`);
    expect(rows).toEqual({ n: d.memberCount, items: d.memberCount });
    expect(d.memberCount).toBeGreaterThan(0);
  });

  it('digests a build of thousands of members, streamed in many pieces, as the SHA-256 of its lines in id order', async () => {
    // The digest is hashed as COPY streams the members (about 640 lines to a 64 kB piece): no line may be lost, split
    // wrongly or reordered between pieces. The expected digest is computed here from the items themselves.
    const language = lang();
    const author = await w.user();
    const n = 3000;
    await t.sql(
      `INSERT INTO content_items (external_id, author_id, platform, kind, text, language, content_hash, created_at, labels)
       SELECT $3 || g, $1, 'FACEBOOK', 'POST', 'text ' || g, $2, encode(sha256(convert_to('text ' || g, 'UTF8')), 'hex'), '2025-01-01', '{}'
         FROM generate_series(1, ${n}) g`,
      [author, language, uniq('bulk')],
    );
    await t.sql(
      `INSERT INTO visibility_changes (item_id, author_id, visibility, changed_at) SELECT id, author_id, 'PUBLIC', '2025-01-01' FROM content_items WHERE language = $1`,
      [language],
    );
    const d = (await request({ filters: { languages: [language] } })).dataset;
    expect(d.memberCount).toBe(n);
    const items: { id: string; content_hash: string }[] = await t.sql(`SELECT id, content_hash FROM content_items WHERE language = $1`, [
      language,
    ]);
    const lines = items.map((i) => `${i.id}\t${i.content_hash}\n`).sort();
    expect(d.manifestDigest).toBe(crypto.createHash('sha256').update(lines.join('')).digest('hex'));
  });

  it("on the demo data set: members equal the explain path's eligible items at the snapshot", async () => {
    const fresh = await freshDatabaseConfig();
    const demo = await startTestApp({ databaseUrl: fresh.config.databaseUrl, dataDir: fresh.config.dataDir });
    try {
      expect(await seedDemoIfEmpty(demo.context())).toBe(true);
      const d = ok(await demo.gql(DatasetRequestDocument, { input: { name: 'demo-all' } }, Role.ML_ENGINEER)).datasetRequest.dataset;
      const ids = (await demo.sql(`SELECT id FROM content_items ORDER BY id`)).map((r: any) => r.id);
      expect(ids).toHaveLength(3000);
      const eligible: string[] = [];
      for (let i = 0; i < ids.length; i += 1000) {
        const v = await demo
          .services()
          .eligibility.verdicts(demo.context(), ids.slice(i, i + 1000), 'eu-ai-training', new Date(d.snapshotAt));
        eligible.push(...v.filter((x) => x.eligible).map((x) => x.itemId));
      }
      expect(d.memberCount).toBe(eligible.length);
      expect(
        (await demo.sql(`SELECT item_id FROM dataset_members WHERE dataset_id = $1 ORDER BY item_id`, [d.id])).map((r: any) => r.item_id),
      ).toEqual(eligible.sort());
      expect(d.memberCount).toBeGreaterThan(500);
      const v = ok(
        await demo.gql(
          `query($id: ID!) { dataset(id: $id) { buildVerification { reproduced memberCount expectedCount } } }`,
          { id: d.id },
          Role.AUDITOR,
        ),
      );
      expect(v.dataset.buildVerification).toEqual({ reproduced: true, memberCount: d.memberCount, expectedCount: d.memberCount });
    } finally {
      await demo.close();
      await fresh.drop();
    }
  });

  it('samples deterministically, caps, and counts versions per name', async () => {
    const wd = await world(40);
    const name = uniq('sample');
    const a = (await request({ name, filters: { languages: [wd.language] }, sample: { rate: 0.5, seed: 42 } })).dataset;
    const b = (await request({ name, filters: { languages: [wd.language] }, sample: { rate: 0.5, seed: 42 } })).dataset;
    const c = (await request({ name, filters: { languages: [wd.language] }, sample: { rate: 0.5, seed: 7 } })).dataset;
    expect([a.version, b.version, c.version]).toEqual([1, 2, 3]);
    expect(await members(b.id)).toEqual(await members(a.id));
    expect(b.manifestDigest).toBe(a.manifestDigest);
    expect(await members(c.id)).not.toEqual(await members(a.id));
    const all = (await request({ filters: { languages: [wd.language] } })).dataset;
    expect(a.memberCount).toBeLessThan(all.memberCount);
    expect(a.memberCount).toBeGreaterThan(0);
    const capped = (await request({ filters: { languages: [wd.language] }, cap: 3 })).dataset;
    expect(capped.memberCount).toBe(3);
    expect((await request({ filters: { languages: [wd.language] }, cap: 3 })).dataset.manifestDigest).toBe(capped.manifestDigest);
  });

  it("leaves the transaction's planner settings as they were after the build's evaluation", async () => {
    const { language } = await world(4);
    const settings: string[] = [];
    await runAudited(t.context(Role.ML_ENGINEER), 'datasetRequest', {}, async (tx) => {
      settings.push(await parallelTupleCost(tx.manager));
      const outcome = await t.services().datasets.request(tx, {
        name: uniq('ds'),
        policyKey: 'eu-ai-training',
        filters: { languages: [language] },
      } as any);
      expect(outcome.payload.dataset?.memberCount).toBeGreaterThan(0);
      settings.push(await parallelTupleCost(tx.manager));
      return outcome;
    });
    expect(settings[1]).toBe(settings[0]);
  });

  it("runs a statement with a cost of rows to the leader, then the transaction's own value again, or the rollback restores it", async () => {
    await t.db.dataSource.transaction(async (m) => {
      const initial = await parallelTupleCost(m);
      expect(await withParallelTupleCost(m, BUILD_PARALLEL_TUPLE_COST, () => parallelTupleCost(m))).toBe(String(BUILD_PARALLEL_TUPLE_COST));
      expect(await parallelTupleCost(m)).toBe(initial);
      // A value the caller's transaction set itself is the one it gets back, not the server's default.
      await m.query(`SET LOCAL parallel_tuple_cost = 0.05`);
      await withParallelTupleCost(m, BUILD_PARALLEL_TUPLE_COST, () => m.query('SELECT 1'));
      expect(await parallelTupleCost(m)).toBe('0.05');
      await m.query('SAVEPOINT failing');
      await expect(withParallelTupleCost(m, 0.02, () => m.query('SELECT 1/0'))).rejects.toThrow(/division by zero/);
      await m.query('ROLLBACK TO SAVEPOINT failing');
      expect(await parallelTupleCost(m)).toBe('0.05');
    });
  });

  it('refuses a DRY_RUN policy, bad input and the wrong role, writing nothing', async () => {
    const key = uniq('dry').toLowerCase();
    ok(
      await t.gql(`mutation($i: PolicyPublishInput!) { policyPublish(input: $i) { policy { id } } }`, {
        i: { key, legalBasis: 'x', platforms: ['FACEBOOK'], kinds: ['POST'], mode: 'DRY_RUN' },
      }),
    );
    const before = (await t.sql(`SELECT count(*)::int AS n FROM datasets`))[0].n;
    const partitions = async () =>
      (await t.sql(`SELECT count(*)::int AS n FROM pg_inherits WHERE inhparent = 'dataset_members'::regclass`))[0].n;
    const partitionsBefore = await partitions();
    expect((await request({ policyKey: key })).userErrors[0]).toMatchObject({ code: 'POLICY_NOT_ENFORCED' });
    expect((await request({ sample: { rate: 2, seed: 1 } })).userErrors[0]).toMatchObject({ code: 'BAD_USER_INPUT', field: 'sample.rate' });
    expect((await request({ name: 'bad name!' })).userErrors[0]).toMatchObject({ code: 'BAD_USER_INPUT', field: 'name' });
    for (const role of [Role.AUDITOR, Role.PRIVACY_OFFICER, Role.LINEAGE_READER]) {
      expect((await t.gql(DatasetRequestDocument, { input: { name: 'x' } }, role)).errors?.[0].extensions?.code).toBe('FORBIDDEN');
    }
    expect((await t.sql(`SELECT count(*)::int AS n FROM datasets`))[0].n).toBe(before);
    // Other tests on a shared database add dataset rows of their own (lineage fixtures have no members): count both.
    expect(await partitions()).toBe(partitionsBefore);
  });
});

describe('datasets list', () => {
  it("pages through every version with each page's endCursor, newest first, without repeats", async () => {
    const name = uniq('pages');
    const built: string[] = [];
    for (let i = 0; i < 5; i++) built.push((await request({ name, filters: { languages: [lang()] } })).dataset.id);
    const seen: string[] = [];
    let after: string | null = null;
    for (let page = 0; page < 10; page++) {
      const r: any = ok(
        await t.gql(
          `query($f: DatasetsFilter, $after: String) { datasets(filter: $f, first: 2, after: $after) { edges { node { id version } } pageInfo { hasNextPage endCursor } } }`,
          { f: { name }, after },
          Role.ML_ENGINEER,
        ),
      ).datasets;
      seen.push(...r.edges.map((e: any) => e.node.id));
      if (!r.pageInfo.hasNextPage) break;
      after = r.pageInfo.endCursor;
    }
    expect(seen).toEqual([...built].reverse());
  });

  it('walks newest first by (created_at, id), ties and microseconds included, each version once, with the filtered totalCount', async () => {
    const name = uniq('walk');
    // Newest first, pages of two: two versions a microsecond apart across the first page's end (a key cut to
    // milliseconds would skip one) and three sharing one instant across the second's (the id breaks the tie).
    const instants = [
      '2026-03-01T11:00:00Z',
      '2026-03-01T10:00:00.000002Z',
      '2026-03-01T10:00:00.000001Z',
      '2026-03-01T09:00:00Z',
      '2026-03-01T09:00:00Z',
      '2026-03-01T09:00:00Z',
      '2026-02-28T23:59:59.999999Z',
    ];
    for (const [i, at] of instants.entries()) await fixtureDataset(name, i + 1, at);
    const expected = (await t.sql(`SELECT id FROM datasets WHERE name = $1 ORDER BY created_at DESC, id DESC`, [name])).map(
      (r: any) => r.id,
    );
    const pages = await walk(
      t,
      `query($after: String) { datasets(filter: { name: "${name}" }, first: 2, after: $after) { totalCount edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }`,
      (d) => d.datasets,
      Role.AUDITOR,
    );
    const seen = pages.flatMap((p) => p.edges.map((e: any) => e.node.id));
    expect(seen).toEqual(expected);
    expect(new Set(seen).size).toBe(instants.length);
    expect(pages).toHaveLength(Math.ceil(instants.length / 2));
    for (const p of pages) expect(p.totalCount).toBe(instants.length);
  });

  it("refuses another list's cursor and a tampered one", async () => {
    const name = uniq('refuse');
    for (let v = 1; v <= 3; v++) await fixtureDataset(name, v, '2026-03-01T10:00:00Z');
    const q = `query($after: String) { datasets(filter: { name: "${name}" }, first: 1, after: $after) { edges { node { id } } pageInfo { endCursor } } }`;
    const own = ok(await t.gql(q, {}, Role.AUDITOR)).datasets.pageInfo.endCursor;
    expect(ok(await t.gql(q, { after: own }, Role.AUDITOR)).datasets.edges).toHaveLength(1);
    for (const after of [await usersCursor(t), ...tampered(own)])
      expect(codeOf(await t.gql(q, { after }, Role.AUDITOR))).toBe('BAD_USER_INPUT');
  });
});

describe('dataset members', () => {
  const q = `query($id: ID!, $after: String) { dataset(id: $id) { members(first: 2, after: $after) { totalCount edges { cursor node { itemId } } pageInfo { hasNextPage endCursor } } } }`;

  it("walks the members in item id order, each once, with the dataset's member count as totalCount", async () => {
    const wd = await world(16);
    const d = (await request({ filters: { languages: [wd.language] } })).dataset;
    expect(d.memberCount).toBeGreaterThan(4);
    const pages = await walk(t, q, (r) => r.dataset.members, Role.AUDITOR, { id: d.id });
    const seen = pages.flatMap((p) => p.edges.map((e: any) => e.node.itemId));
    expect(seen).toEqual(await members(d.id));
    expect(new Set(seen).size).toBe(d.memberCount);
    expect(pages).toHaveLength(Math.ceil(d.memberCount / 2));
    for (const p of pages) expect(p.totalCount).toBe(d.memberCount);
  });

  it("refuses another list's cursor and a tampered one", async () => {
    const wd = await world(8);
    const d = (await request({ filters: { languages: [wd.language] } })).dataset;
    const own = ok(await t.gql(q, { id: d.id }, Role.AUDITOR)).dataset.members.pageInfo.endCursor;
    expect(ok(await t.gql(q, { id: d.id, after: own }, Role.AUDITOR)).dataset.members.edges.length).toBeGreaterThan(0);
    const datasets = ok(await t.gql(`{ datasets(first: 1) { pageInfo { endCursor } } }`, {}, Role.AUDITOR)).datasets.pageInfo.endCursor;
    for (const after of [datasets, ...tampered(own)])
      expect(codeOf(await t.gql(q, { id: d.id, after }, Role.AUDITOR))).toBe('BAD_USER_INPUT');
  });
});

describe('derivations', () => {
  it('filter, sample, union and deduplicate, re-checked against the policy now, with DERIVED_FROM edges', async () => {
    const wd = await world(15);
    const parent = (await request({ filters: { languages: [wd.language] } })).dataset;
    const other = (await request({ filters: { languages: [wd.language] }, sample: { rate: 0.5, seed: 3 } })).dataset;
    // One author objects after the parent was built: no derived child may contain their items.
    ok(await object(wd.adults[0]));
    const objected = new Set(wd.items.filter((i) => i.author === wd.adults[0]).map((i) => i.id));
    const parentMembers = await members(parent.id);
    expect(parentMembers.some((id) => objected.has(id))).toBe(true);

    const union = ok(
      await t.gql(
        DatasetDeriveDocument,
        { input: { name: uniq('u'), operation: 'UNION', parentIds: [parent.id, other.id] } },
        Role.ML_ENGINEER,
      ),
    ).datasetDerive;
    expect(union.userErrors).toEqual([]);
    expect(await members(union.dataset.id)).toEqual(parentMembers.filter((id: string) => !objected.has(id)));
    expect(union.dataset.parents.map((p: any) => p.id).sort()).toEqual([parent.id, other.id].sort());

    const filtered = ok(
      await t.gql(
        DatasetDeriveDocument,
        { input: { name: uniq('f'), operation: 'FILTER', parentIds: [parent.id], filters: { platforms: ['INSTAGRAM'] } } },
        Role.ML_ENGINEER,
      ),
    ).datasetDerive;
    expect(filtered.dataset.memberCount).toBe(0);

    const sampled = ok(
      await t.gql(
        DatasetDeriveDocument,
        { input: { name: uniq('s'), operation: 'SAMPLE', parentIds: [parent.id], sample: { rate: 0.5, seed: 3 } } },
        Role.ML_ENGINEER,
      ),
    ).datasetDerive;
    expect((await members(sampled.dataset.id)).every((id: string) => parentMembers.includes(id) && !objected.has(id))).toBe(true);

    const dedup = ok(
      await t.gql(
        DatasetDeriveDocument,
        { input: { name: uniq('d'), operation: 'DEDUPLICATE', parentIds: [parent.id] } },
        Role.ML_ENGINEER,
      ),
    ).datasetDerive;
    const hashes = await t.sql(`SELECT DISTINCT content_hash FROM dataset_members WHERE dataset_id = $1 AND item_id <> ALL($2::uuid[])`, [
      parent.id,
      [...objected],
    ]);
    expect(dedup.dataset.memberCount).toBe(hashes.length);
    const edges = await t.sql(`SELECT upstream_id, type, transformation FROM lineage_edges WHERE downstream_id = $1`, [dedup.dataset.id]);
    expect(edges).toEqual([{ upstream_id: parent.id, type: 'DERIVED_FROM', transformation: { operation: 'DEDUPLICATE' } }]);
    const bad = ok(
      await t.gql(
        DatasetDeriveDocument,
        { input: { name: uniq('x'), operation: 'FILTER', parentIds: [parent.id, other.id] } },
        Role.ML_ENGINEER,
      ),
    ).datasetDerive;
    expect(bad.userErrors.map((e: any) => e.field)).toEqual(['parentIds', 'filters']);
  });
});

describe('propagation, remediation, verification and export', () => {
  it("taints exactly the datasets and runs holding the objector's content, and remediation drops exactly those items", async () => {
    const wd = await world(15);
    const ds = (await request({ filters: { languages: [wd.language] } })).dataset;
    const unrelated = (await request({ filters: { languages: [lang()] } })).dataset;
    const run = ok(
      await t.gql(
        TrainingRunRecordDocument,
        { input: { modelName: uniq('model'), modelVersion: '1', datasetIds: [ds.id] } },
        Role.ML_ENGINEER,
      ),
    ).trainingRunRecord.trainingRun;
    const otherRun = ok(
      await t.gql(
        TrainingRunRecordDocument,
        { input: { modelName: uniq('model'), modelVersion: '1', datasetIds: [unrelated.id] } },
        Role.ML_ENGINEER,
      ),
    ).trainingRunRecord.trainingRun;
    expect(run.reviewStatus).toBe('CLEAN');
    const exported = await fetch(`${t.url}/datasets/${ds.id}/export.ndjson`, {
      headers: { authorization: `Bearer ${t.tokens.ML_ENGINEER}` },
    });
    expect(exported.status).toBe(200);
    const lines = (await exported.text())
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines).toHaveLength(ds.memberCount);
    expect(Object.keys(lines[0]).sort()).toEqual(['contentHash', 'createdAt', 'id', 'kind', 'language', 'platform', 'text']);
    const digest = crypto
      .createHash('sha256')
      .update(lines.map((l) => `${l.id}\t${l.contentHash}\n`).join(''))
      .digest('hex');
    expect(digest).toBe(ds.manifestDigest);

    ok(await object(wd.adults[1], 'PUBLIC_CONTENT'));
    const newlyIneligible = (await members(ds.id)).filter((id: string) => wd.items.find((i) => i.id === id)!.author === wd.adults[1]);
    expect(newlyIneligible.length).toBeGreaterThan(0);
    const q = `query($a: ID!, $b: ID!, $r: ID!, $o: ID!) {
      a: dataset(id: $a) { taint { tainted taintedCount reasons { reason count } } }
      b: dataset(id: $b) { taint { tainted taintedCount } }
      r: trainingRun(id: $r) { reviewStatus } o: trainingRun(id: $o) { reviewStatus } }`;
    const after = ok(await t.gql(q, { a: ds.id, b: unrelated.id, r: run.id, o: otherRun.id }, Role.AUDITOR));
    expect(after.a.taint).toEqual({
      tainted: true,
      taintedCount: newlyIneligible.length,
      reasons: [{ reason: 'OBJECTED', count: newlyIneligible.length }],
    });
    expect(after.b.taint).toEqual({ tainted: false, taintedCount: 0 });
    expect([after.r.reviewStatus, after.o.reviewStatus]).toEqual(['TAINTED_PENDING', 'CLEAN']);

    const refused = await fetch(`${t.url}/datasets/${ds.id}/export.ndjson`, {
      headers: { authorization: `Bearer ${t.tokens.ML_ENGINEER}` },
    });
    expect(refused.status).toBe(409);
    expect((await refused.json()).error.code).toBe('DATASET_TAINTED');

    const review = ok(
      await t.gql(
        `mutation($i: TrainingRunReviewInput!) { trainingRunReview(input: $i) { trainingRun { reviewStatus reviews { decision taintedMembers } } userErrors { code } } }`,
        { i: { runId: run.id, decision: 'RISK_ACCEPTED', reason: 'one post out of a million' } },
        Role.PRIVACY_OFFICER,
      ),
    ).trainingRunReview;
    expect(review.trainingRun.reviewStatus).toBe('RISK_ACCEPTED');
    expect(review.trainingRun.reviews[0]).toEqual({ decision: 'RISK_ACCEPTED', taintedMembers: newlyIneligible.length });

    const remediated = ok(await t.gql(DatasetRemediateDocument, { input: { datasetId: ds.id } }, Role.ML_ENGINEER)).datasetRemediate;
    expect(remediated.userErrors).toEqual([]);
    expect(remediated.dataset).toMatchObject({
      name: ds.name,
      version: ds.version + 1,
      memberCount: ds.memberCount - newlyIneligible.length,
    });
    expect(await members(remediated.dataset.id)).toEqual((await members(ds.id)).filter((id: string) => !newlyIneligible.includes(id)));
    const old = ok(
      await t.gql(`query($id: ID!) { dataset(id: $id) { status supersededBy { id } } }`, { id: ds.id }, Role.ML_ENGINEER),
    ).dataset;
    expect(old).toEqual({ status: 'SUPERSEDED', supersededBy: { id: remediated.dataset.id } });
    expect(
      (await t.sql(`SELECT type FROM lineage_edges WHERE upstream_id = $1 AND downstream_id = $2`, [ds.id, remediated.dataset.id]))[0].type,
    ).toBe('REMEDIATED_FROM');
    const superseded = await fetch(`${t.url}/datasets/${ds.id}/export.ndjson`, {
      headers: { authorization: `Bearer ${t.tokens.AUDITOR}` },
    });
    expect((await superseded.json()).error.code).toBe('DATASET_SUPERSEDED');
    expect(
      ok(await t.gql(DatasetRemediateDocument, { input: { datasetId: ds.id } }, Role.ML_ENGINEER)).datasetRemediate.userErrors[0].code,
    ).toBe('CONFLICT');
    const fresh = await fetch(`${t.url}/datasets/${remediated.dataset.id}/export.ndjson`, {
      headers: { authorization: `Bearer ${t.tokens.AUDITOR}` },
    });
    expect(fresh.status).toBe(200);
    expect(
      (await fresh.text())
        .trim()
        .split('\n')
        .every((l) => JSON.parse(l).text === null),
    ).toBe(true);
  });

  it('taints from every kind of later fact: visibility, deletion, erasure, re-ingest', async () => {
    const wd = await world(10);
    const ds = (await request({ filters: { languages: [wd.language] } })).dataset;
    const memberIds = await members(ds.id);
    const ext = async (id: string) => (await t.sql(`SELECT external_id FROM content_items WHERE id = $1`, [id]))[0].external_id;
    const [a, b] = memberIds;
    ok(
      await t.gql(
        `mutation($i: ContentVisibilityChangeInput!) { contentVisibilityChange(input: $i) { userErrors { code } } }`,
        { i: { changes: [{ externalId: await ext(a), visibility: 'ONLY_ME' }] } },
        Role.INGEST_SERVICE,
      ),
    );
    ok(
      await t.gql(
        `mutation($i: ContentDeleteInput!) { contentDelete(input: $i) { userErrors { code } } }`,
        { i: { items: [{ externalId: await ext(b) }] } },
        Role.INGEST_SERVICE,
      ),
    );
    const erasedAuthor = wd.items.find((i) => memberIds.includes(i.id) && i.id !== a && i.id !== b)!.author;
    ok(
      await t.gql(`mutation($i: ErasureRequestInput!) { erasureRequest(input: $i) { userErrors { code } } }`, {
        i: { userId: erasedAuthor, reason: 'DSAR' },
      }),
    );
    const erasedCount = memberIds.filter((id) => wd.items.find((i) => i.id === id)!.author === erasedAuthor && id !== a && id !== b).length;
    const taint = ok(
      await t.gql(`query($id: ID!) { dataset(id: $id) { taint { taintedCount reasons { reason count } } } }`, { id: ds.id }, Role.AUDITOR),
    ).dataset.taint;
    const reasons = Object.fromEntries(taint.reasons.map((r: any) => [r.reason, r.count]));
    expect(reasons.NOT_PUBLIC).toBeGreaterThanOrEqual(1);
    expect(reasons.CONTENT_DELETED).toBeGreaterThanOrEqual(1);
    expect(reasons.AUTHOR_ERASED).toBe(
      erasedCount + [a, b].filter((id) => wd.items.find((i) => i.id === id)!.author === erasedAuthor).length,
    );
    // Cross-check with a full re-evaluation of every member now.
    const verdicts = await t.services().eligibility.verdicts(t.context(), memberIds, 'eu-ai-training');
    expect(taint.taintedCount).toBe(verdicts.filter((v) => !v.eligible).length);
  });

  it("verifies honest builds, and catches members altered behind the service's back", async () => {
    const wd = await world(12);
    const ds = (await request({ filters: { languages: [wd.language] } })).dataset;
    ok(await object(wd.adults[2]));
    const verify = async () =>
      ok(
        await t.gql(
          `query($id: ID!) { dataset(id: $id) { buildVerification { reproduced memberCount expectedCount missingCount unexpectedCount } } }`,
          { id: ds.id },
          Role.AUDITOR,
        ),
      ).dataset.buildVerification;
    // A later objection taints the dataset but does not make the build wrong.
    expect(await verify()).toMatchObject({ reproduced: true, missingCount: 0, unexpectedCount: 0 });
    const outsider = wd.items.find((i) => i.author === wd.minor)!.id;
    await t.sql(`INSERT INTO dataset_members (dataset_id, item_id, author_id, content_hash) VALUES ($1, $2, $3, repeat('0', 64))`, [
      ds.id,
      outsider,
      wd.minor,
    ]);
    expect(await verify()).toMatchObject({ reproduced: false, unexpectedCount: 1, missingCount: 0 });
    await t.sql(
      `DELETE FROM dataset_members WHERE dataset_id = $1 AND item_id IN ($2, (SELECT item_id FROM dataset_members WHERE dataset_id = $1 AND item_id <> $2 LIMIT 1))`,
      [ds.id, outsider],
    );
    expect(await verify()).toMatchObject({ reproduced: false, unexpectedCount: 0, missingCount: 1 });
  });

  it("lists every dataset and run holding a person's content in their footprint", async () => {
    const wd = await world(10);
    const person = wd.adults[0];
    const a = (await request({ filters: { languages: [wd.language] } })).dataset;
    const b = (await request({ filters: { languages: [wd.language] }, cap: 1 })).dataset;
    const run = ok(
      await t.gql(
        TrainingRunRecordDocument,
        { input: { modelName: uniq('m'), modelVersion: 'v1', datasetIds: [a.id, b.id] } },
        Role.ML_ENGINEER,
      ),
    ).trainingRunRecord.trainingRun;
    const fp = ok(
      await t.gql(
        `query($u: ID!) { subjectFootprint(userId: $u) { contentCount datasets { itemCount dataset { id taint { tainted } } } trainingRuns { viaDatasetIds trainingRun { id reviewStatus } } } }`,
        { u: person },
        Role.PRIVACY_OFFICER,
      ),
    ).subjectFootprint;
    const held = await t.sql(`SELECT dataset_id, count(*)::int AS n FROM dataset_members WHERE author_id = $1 GROUP BY dataset_id`, [
      person,
    ]);
    expect(fp.contentCount).toBe(wd.items.filter((i) => i.author === person).length);
    expect(fp.datasets.map((d: any) => [d.dataset.id, d.itemCount]).sort()).toEqual(held.map((h: any) => [h.dataset_id, h.n]).sort());
    expect(fp.datasets.map((d: any) => d.dataset.id)).toContain(a.id);
    expect(fp.trainingRuns.map((r: any) => r.trainingRun.id)).toEqual([run.id]);
    expect(fp.trainingRuns[0].viaDatasetIds).toEqual(
      held
        .map((h: any) => h.dataset_id)
        .filter((id: string) => [a.id, b.id].includes(id))
        .sort(),
    );
    expect(
      (await t.gql(`query($u: ID!) { subjectFootprint(userId: $u) { contentCount } }`, { u: person }, Role.ML_ENGINEER)).errors?.[0]
        .extensions?.code,
    ).toBe('FORBIDDEN');
  });
});

describe('dataset card', () => {
  it('describes purpose, policy, snapshot, composition, exclusions, lineage and digest, as Markdown and as HTML with SVG charts', async () => {
    const wd = await world(12);
    const ds = (await request({ filters: { languages: [wd.language] }, purpose: 'tone tuning for the assistant' })).dataset;
    const md: string = ok(await t.gql(`query($id: ID!) { dataset(id: $id) { card } }`, { id: ds.id }, Role.LINEAGE_READER)).dataset.card;
    for (const part of [
      '# Dataset card',
      'tone tuning for the assistant',
      'eu-ai-training v1',
      'legitimate interest',
      ds.snapshotAt.slice(0, 19),
      ds.manifestDigest,
      '### By platform',
      '### By kind',
      '### By language',
      '### By country',
      '## Exclusions at build time',
      '## Lineage',
    ])
      expect(md).toContain(part);
    const langRow = md.split('\n').find((l) => l.startsWith(`| ${wd.language} |`))!;
    expect(langRow).toContain(`| ${ds.memberCount} | 100.0% |`);
    const anonymous = await fetch(`${t.url}/datasets/${ds.id}/card`);
    expect(anonymous.status).toBe(401);
    const ingest = await fetch(`${t.url}/datasets/${ds.id}/card`, { headers: { authorization: `Bearer ${t.tokens.INGEST_SERVICE}` } });
    expect(ingest.status).toBe(403);
    const page = await fetch(`${t.url}/datasets/${ds.id}/card`, { headers: { authorization: `Bearer ${t.tokens.AUDITOR}` } });
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('<svg');
    expect(html).toContain(ds.manifestDigest);
    expect(html).not.toMatch(/<script|https?:\/\/(?!www\.w3\.org)/);
    // The HTML Policy section says what the Markdown one says.
    const mdPolicy = md.split('## Policy\n\n')[1].split('\n\n')[0].split('\n');
    const htmlPolicy = html.split('<h2>Policy</h2><p>')[1].split('</p>')[0].split('<br>');
    expect(htmlPolicy).toEqual(mdPolicy.map((l) => l.replace(/\\(.)/g, '$1')));
    expect(htmlPolicy.join(' ')).toMatch(/purpose [A-Z_]+, legal basis: .*platforms .*kinds .*excluded labels/);
  });
});

describe('dataset card links (cardUrl)', () => {
  const urlOf = async (id: string, as: Role) =>
    ok(await t.gql(`query($id: ID!) { dataset(id: $id) { cardUrl } }`, { id }, as)).dataset.cardUrl as string;
  const problem = async (res: Response) => ({ status: res.status, code: ((await res.json()) as any).error?.code });

  it('opens the HTML card in a plain browser tab (no Authorization) for the roles that read cards, for that dataset only', async () => {
    const a = (await request({ filters: { languages: [lang()] }, purpose: 'card link test' })).dataset;
    const b = (await request({ filters: { languages: [lang()] } })).dataset;
    for (const role of [Role.PRIVACY_OFFICER, Role.AUDITOR, Role.LINEAGE_READER, Role.ML_ENGINEER]) {
      const link = await urlOf(a.id, role);
      expect(link).toMatch(new RegExp(`^/datasets/${a.id}/card\\?sig=[\\w-]+\\.[\\w-]+\\.[\\w-]+$`));
      const page = await fetch(`${t.url}${link}`);
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toMatch(/text\/html/);
      expect(page.headers.get('referrer-policy')).toBe('no-referrer');
      const html = await page.text();
      expect(html).toContain(a.manifestDigest);
      // The page does not repeat the signature.
      expect(html).not.toContain(link.split('sig=')[1]);
    }
    const link = await urlOf(a.id, Role.AUDITOR);
    const sig = link.split('sig=')[1];
    // Another dataset's signature does not open this one.
    const other = (await urlOf(b.id, Role.AUDITOR)).split('sig=')[1];
    expect(await problem(await fetch(`${t.url}/datasets/${a.id}/card?sig=${other}`))).toEqual({ status: 403, code: 'FORBIDDEN' });
    // Altered: the payload (another dataset's id inside, same signature) or the signature itself.
    const [h, p, s] = sig.split('.');
    const payload = JSON.parse(Buffer.from(p, 'base64url').toString());
    const forged = Buffer.from(JSON.stringify({ ...payload, ds: b.id })).toString('base64url');
    expect(await problem(await fetch(`${t.url}/datasets/${b.id}/card?sig=${h}.${forged}.${s}`))).toEqual({
      status: 401,
      code: 'UNAUTHENTICATED',
    });
    const flipped = s.slice(0, -2) + (s.at(-2) === 'A' ? 'B' : 'A') + s.at(-1);
    expect(await problem(await fetch(`${t.url}/datasets/${a.id}/card?sig=${h}.${p}.${flipped}`))).toEqual({
      status: 401,
      code: 'UNAUTHENTICATED',
    });
    expect(await problem(await fetch(`${t.url}/datasets/${a.id}/card?sig=nonsense`))).toEqual({ status: 401, code: 'UNAUTHENTICATED' });
    // Expired.
    const { cardLink } = await import('../../src/modules/datasets/card-link');
    const expired = await cardLink(t.config, a.id, { subject: 'test-auditor', roles: [Role.AUDITOR] }, -60);
    const res = await fetch(`${t.url}${expired}`);
    expect(res.status).toBe(401);
    expect(((await res.json()) as any).error.message).toMatch(/expired/);
    // A link is not a bearer token, and a bearer token is not a link.
    expect((await t.gql('{ viewer { subject } }', {}, sig)).status).toBe(401);
    expect(await problem(await fetch(`${t.url}/datasets/${a.id}/card?sig=${t.tokens.AUDITOR}`))).toEqual({
      status: 401,
      code: 'UNAUTHENTICATED',
    });
    // A role that may not read cards gets no link, and a link made for it is refused.
    expect(
      (await t.gql(`query($id: ID!) { dataset(id: $id) { cardUrl } }`, { id: a.id }, Role.INGEST_SERVICE)).errors?.[0].extensions?.code,
    ).toBe('FORBIDDEN');
    const ingest = await cardLink(t.config, a.id, { subject: 'test-ingest', roles: [Role.INGEST_SERVICE] });
    expect(await problem(await fetch(`${t.url}${ingest}`))).toEqual({ status: 403, code: 'FORBIDDEN' });
  });

  it("keeps ML engineers to their own datasets: another engineer's link for a dataset they cannot see finds nothing", async () => {
    const a = (await request({ filters: { languages: [lang()] } })).dataset;
    const { cardLink } = await import('../../src/modules/datasets/card-link');
    const stranger = await cardLink(t.config, a.id, { subject: 'another-engineer', roles: [Role.ML_ENGINEER] });
    expect(await problem(await fetch(`${t.url}${stranger}`))).toEqual({ status: 404, code: 'NOT_FOUND' });
  });
});

describe('dataset card with hostile text', () => {
  it('shows a purpose holding HTML, script, links, images and Markdown blocks as plain text', async () => {
    const MarkdownIt = require('markdown-it');
    const purpose =
      '<script>alert(1)</script> [click](javascript:alert(1)) ![x](https://evil.example/x.png) <img src=x onerror=alert(1)> ' +
      '<javascript:alert(3)> **bold** `code` | a | b |\n# injected heading\n\n[ref]: javascript:alert(2)\n[ref] &lt;b&gt; \\[y](javascript:alert(4))';
    const r = await request({ filters: { languages: [lang()] }, purpose });
    expect(r.userErrors).toEqual([]);
    const md: string = ok(await t.gql(`query($id: ID!) { dataset(id: $id) { card } }`, { id: r.dataset.id }, Role.ML_ENGINEER)).dataset
      .card;
    // CommonMark with raw HTML allowed (as many renderers do): nothing of the purpose may become markup.
    const rendered: string = new MarkdownIt({ html: true }).render(md);
    expect(rendered).not.toMatch(/<script|<img|<a\b|<h1>injected|<strong>bold|<code>code|<[a-z]+[^>]*\s(href|src|onerror)=/i);
    // With GFM-style autolinks too: no javascript: link, no image.
    expect(new MarkdownIt({ html: true, linkify: true }).render(md)).not.toMatch(/href="javascript|<img|<script/i);
    // What the purpose says is still all there, as text: the line that shows it, rendered, reads as the purpose did.
    const line = md.split('\n').find((l) => l.startsWith('**Purpose:**'))!;
    const text = new MarkdownIt()
      .renderInline(line.replace('**Purpose:** ', '').trimEnd())
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>')
      .replace(/&quot;/g, '"')
      .replace(/&amp;/g, '&');
    expect(text).toBe(purpose.replace(/\s+/g, ' '));
    const html = await (
      await fetch(`${t.url}/datasets/${r.dataset.id}/card`, { headers: { authorization: `Bearer ${t.tokens.AUDITOR}` } })
    ).text();
    expect(html).not.toMatch(/<script|<img|<a\b|<[a-z]+[^>]*\s(href|src|onerror)=/i);
  });
});

describe('export format', () => {
  it('round-trips any text through the NDJSON export, and undoes COPY escapes split across chunks', async () => {
    const { unescapeCopyText } = await import('../../src/modules/datasets/dataset.export');
    const tricky = 'He said "hi"\n\tC:\\dir\\ ü 🎉 \\\\ \u0001 end\\';
    const language = lang();
    const u = await w.user();
    const id = await w.item(u, { language, text: tricky });
    const ds = (await request({ filters: { languages: [language] } })).dataset;
    const res = await fetch(`${t.url}/datasets/${ds.id}/export.ndjson`, { headers: { authorization: `Bearer ${t.tokens.ML_ENGINEER}` } });
    const [line] = (await res.text())
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(line).toMatchObject({ id, text: tricky });
    // Feed an escaped COPY line one byte at a time: every split point must decode to the same JSON.
    const copyLine = Buffer.from(JSON.stringify({ text: tricky }).replace(/\\/g, '\\\\') + '\n');
    const out: string[] = [];
    const tr = unescapeCopyText();
    tr.on('data', (d) => out.push(String(d)));
    for (let i = 0; i < copyLine.length; i++) tr.write(copyLine.subarray(i, i + 1));
    tr.end();
    await new Promise((r) => tr.on('end', r));
    expect(JSON.parse(out.join(''))).toEqual({ text: tricky });
  });
});
