import crypto from 'node:crypto';
import { Role } from '../../src/common/auth';
import { openDatabase } from '../../src/db/data-source';
import { migrations } from '../../migrations';
import { freshDatabaseConfig, notOnCitus, ok, TestApp, uniq, useTestApp } from '../helpers';
import { PolicyPublishDocument } from '../generated/graphql';
import { World } from '../world';

/**
 * DESIGN.md §3 "DRY_RUN mode": whatever hands out content (the ML text gate, eligibleContent, builds, derivations,
 * remediations) uses the latest ENFORCE version of its policy key, and an ENFORCE version never goes below 18.
 */
const DS = `id name version memberCount policy { key version }`;
const REQUEST = `mutation($i: DatasetRequestInput!) { datasetRequest(input: $i) { dataset { ${DS} } userErrors { code message field } } }`;
const DERIVE = `mutation($i: DatasetDeriveInput!) { datasetDerive(input: $i) { dataset { ${DS} } userErrors { code message field } } }`;
const REMEDIATE = `mutation($i: DatasetRemediateInput!) { datasetRemediate(input: $i) { dataset { ${DS} } userErrors { code message field } } }`;
const lang = () => String.fromCharCode(...Array.from({ length: 3 }, () => 97 + crypto.randomInt(26)));

/** The app of a describe block, on the shared test database or (fresh) a database of its own. */
function testApp(options: { fresh?: boolean } = {}) {
  const t = useTestApp(options);
  return { t, w: new World(t) };
}

const publish = async (t: TestApp, i: Record<string, unknown>) =>
  ok(
    await t.gql(PolicyPublishDocument, {
      input: {
        legalBasis: 'GDPR Art. 6(1)(f)',
        platforms: ['FACEBOOK', 'INSTAGRAM', 'AI_ASSISTANT'],
        kinds: ['POST', 'COMMENT', 'AI_PROMPT'],
        ...i,
      },
    }),
  ).policyPublish;

describe('a DRY_RUN version of the default policy', () => {
  // Its own database: this test publishes versions of the default policy key, which every other test relies on.
  const app = testApp({ fresh: true });

  it('changes no answer an ML engineer gets: contentItem, contentItems, eligibleContent and dataset members', async () => {
    const { t, w } = app;
    const language = lang();
    const adult = await w.user();
    const minor = await w.user({ birthDate: '2012-01-01' });
    const american = await w.user({ country: 'US' });
    const items = {
      adult: await w.item(adult, { language, text: 'adult text' }),
      minor: await w.item(minor, { language, text: 'minor text' }),
      special: await w.item(adult, { language, text: 'special text', labels: ['SPECIAL_CATEGORY'] }),
      american: await w.item(american, { language, text: 'american text' }),
    };
    // A dataset under another ENFORCE key that covers the US: its American member's text is gated by the default policy.
    const worldKey = uniq('world').toLowerCase();
    await publish(t, { key: worldKey, regions: ['DE', 'US'], excludedLabels: ['SPECIAL_CATEGORY'], mode: 'ENFORCE' });
    const ds = ok(
      await t.gql(REQUEST, { i: { name: uniq('ds'), policyKey: worldKey, filters: { languages: [language] } } }, Role.ML_ENGINEER),
    ).datasetRequest;
    expect(ds.userErrors).toEqual([]);
    expect(ds.dataset.memberCount).toBe(2);

    const ask = async () => {
      const one = await Promise.all(
        Object.values(items).map(
          async (id) => ok(await t.gql(`query($id: ID!) { contentItem(id: $id) { id text } }`, { id }, Role.ML_ENGINEER)).contentItem,
        ),
      );
      const list = ok(
        await t.gql(
          `query($l: String!) { contentItems(first: 10, filter: { languages: [$l] }) { edges { node { id text } } } }`,
          { l: language },
          Role.ML_ENGINEER,
        ),
      );
      const eligible = await t.gql(
        `query($l: String!) { eligibleContent(first: 10, filter: { languages: [$l] }) { totalCount edges { node { id text } } } }`,
        { l: language },
        Role.ML_ENGINEER,
      );
      const members = ok(
        await t.gql(
          `query($id: ID!) { dataset(id: $id) { members { edges { node { itemId item { text } } } } } }`,
          { id: ds.dataset.id },
          Role.ML_ENGINEER,
        ),
      );
      return {
        one,
        list: list.contentItems.edges,
        eligible: { data: eligible.data, errors: eligible.errors?.map((e) => e.extensions?.code) },
        members: members.dataset.members.edges,
      };
    };
    const before = await ask();
    expect(before.one.map((c: any) => c.text)).toEqual(['adult text', null, null, null]);
    expect(before.eligible.data.eligibleContent.edges.map((e: any) => e.node.id)).toEqual([items.adult]);

    const dry = await publish(t, { key: 'eu-ai-training', minimumAge: 13, regions: ['DE', 'US'], excludedLabels: [], mode: 'DRY_RUN' });
    expect(dry.userErrors).toEqual([]);
    expect(dry.policy).toMatchObject({ version: 2, mode: 'DRY_RUN' });
    // The DRY_RUN version really would admit all four: its report says so.
    const report = ok(
      await t.gql(`query($l: String!) { eligibilityReport(filter: { languages: [$l] }) { mode eligible } }`, { l: language }, Role.AUDITOR),
    ).eligibilityReport;
    expect(report).toEqual({ mode: 'DRY_RUN', eligible: 4 });

    expect(await ask()).toEqual(before);
    // A dataset request on the default key still builds under the ENFORCE version.
    const built = ok(
      await t.gql(REQUEST, { i: { name: uniq('ds'), filters: { languages: [language] } } }, Role.ML_ENGINEER),
    ).datasetRequest;
    expect(built.dataset).toMatchObject({ memberCount: 1, policy: { key: 'eu-ai-training', version: 1 } });
  });
});

describe('derivations and remediations under a stricter ENFORCE version', () => {
  const app = testApp();

  it('re-check every parent member against the latest ENFORCE version of the key, and record that version', async () => {
    const { t, w } = app;
    const key = uniq('strict').toLowerCase();
    await publish(t, { key, regions: ['DE'], mode: 'ENFORCE' });
    const language = lang();
    const young = await w.user({ birthDate: '1990-01-01' });
    const old = await w.user({ birthDate: '1960-01-01' });
    const ids: Record<string, string[]> = { young: [], old: [] };
    for (let i = 0; i < 3; i++) {
      ids.young.push(await w.item(young, { language, text: `young ${i}` }));
      ids.old.push(await w.item(old, { language, text: `old ${i}` }));
    }
    const request = async () =>
      ok(await t.gql(REQUEST, { i: { name: uniq('p'), policyKey: key, filters: { languages: [language] } } }, Role.ML_ENGINEER))
        .datasetRequest.dataset;
    const v1Parent = await request();
    expect(v1Parent).toMatchObject({ memberCount: 6, policy: { key, version: 1 } });

    // Stricter: authors must have been 50 when they posted. Then a DRY_RUN version that would admit everyone again.
    await publish(t, { key, minimumAge: 50, regions: ['DE'], mode: 'ENFORCE' });
    await publish(t, { key, minimumAge: 18, regions: ['DE', 'US'], mode: 'DRY_RUN' });
    const v2Parent = await request();
    expect(v2Parent).toMatchObject({ memberCount: 3, policy: { key, version: 2 } });
    const members = async (id: string) =>
      (await t.sql(`SELECT item_id FROM dataset_members WHERE dataset_id = $1 ORDER BY item_id`, [id])).map((r: any) => r.item_id);

    const derive = async (input: Record<string, unknown>) =>
      ok(await t.gql(DERIVE, { i: { name: uniq('d'), ...input } }, Role.ML_ENGINEER)).datasetDerive;
    for (const input of [
      { operation: 'DEDUPLICATE', parentIds: [v1Parent.id] },
      { operation: 'SAMPLE', parentIds: [v1Parent.id], sample: { rate: 1, seed: 1 } },
    ]) {
      const child = await derive(input);
      expect(child.userErrors).toEqual([]);
      expect(child.dataset).toMatchObject({ memberCount: 3, policy: { key, version: 2 } });
      expect(await members(child.dataset.id)).toEqual([...ids.old].sort());
    }
    // Parents built under different versions of one key: allowed, all re-checked under the latest ENFORCE version.
    const union = await derive({ operation: 'UNION', parentIds: [v1Parent.id, v2Parent.id] });
    expect(union.userErrors).toEqual([]);
    expect(union.dataset).toMatchObject({ memberCount: 3, policy: { key, version: 2 } });
    // Parents under different keys: refused.
    const other = ok(await t.gql(REQUEST, { i: { name: uniq('o'), filters: { languages: [language] } } }, Role.ML_ENGINEER)).datasetRequest
      .dataset;
    const mixed = await derive({ operation: 'UNION', parentIds: [v1Parent.id, other.id] });
    expect(mixed.userErrors).toEqual([expect.objectContaining({ code: 'CONFLICT', field: 'parentIds' })]);

    const remediated = ok(await t.gql(REMEDIATE, { i: { datasetId: v1Parent.id } }, Role.ML_ENGINEER)).datasetRemediate;
    expect(remediated.userErrors).toEqual([]);
    expect(remediated.dataset).toMatchObject({ name: v1Parent.name, version: 2, memberCount: 3, policy: { key, version: 2 } });
    expect(await members(remediated.dataset.id)).toEqual([...ids.old].sort());
  });
});

describe('ENFORCE versions and the minimum age', () => {
  const app = testApp();

  it('refuses an ENFORCE version under 18 with BAD_USER_INPUT, writing nothing; DRY_RUN may go lower', async () => {
    const { t } = app;
    const key = uniq('age').toLowerCase();
    const count = async () => (await t.sql(`SELECT count(*)::int AS n FROM policies WHERE key = $1`, [key]))[0].n;
    for (const minimumAge of [0, 13, 17]) {
      const refused = await publish(t, { key, minimumAge, mode: 'ENFORCE' });
      expect(refused.policy).toBeNull();
      expect(refused.userErrors).toEqual([expect.objectContaining({ code: 'BAD_USER_INPUT', field: 'minimumAge' })]);
    }
    expect(await count()).toBe(0);
    expect((await publish(t, { key, minimumAge: 18, mode: 'ENFORCE' })).policy).toMatchObject({ version: 1, mode: 'ENFORCE' });
    expect((await publish(t, { key, minimumAge: 0, mode: 'DRY_RUN' })).policy).toMatchObject({ version: 2, mode: 'DRY_RUN' });
    expect(await count()).toBe(2);
  });

  it('is also a database constraint', async () => {
    const { t } = app;
    const insert = (mode: string, age: number) =>
      t.sql(
        `INSERT INTO policies (key, version, purpose, legal_basis, minimum_age, regions, platforms, kinds, excluded_labels, mode, created_by)
             VALUES ($1, 1, 'AI_MODEL_TRAINING', 'x', $2, '{DE}', '{FACEBOOK}', '{POST}', '{}', $3, 'test')`,
        [uniq('sql').toLowerCase(), age, mode],
      );
    await expect(insert('ENFORCE', 13)).rejects.toThrow(/policies_enforce_minimum_age/);
    await expect(insert('DRY_RUN', 13)).resolves.toBeDefined();
  });
});

describe('the minimum-age migration on a database that already holds an ENFORCE version under 18', () => {
  notOnCitus(
    'undoes and re-applies the later migrations on a schema already distributed, where Citus refuses some of their DDL ' +
      '(ADD COLUMN with a CHECK on a distributed table); a new cluster is migrated before it is distributed (deploy/citus/setup.sh)',
  ).it('keeps that version (policies are append-only), refuses new ones, and validates the check only on clean data', async () => {
    const fresh = await freshDatabaseConfig();
    const db = await openDatabase(fresh.config, { runMigrations: false });
    const ds = db.dataSource;
    const check = async () =>
      (await ds.query(`SELECT convalidated FROM pg_constraint WHERE conname = 'policies_enforce_minimum_age'`))[0]?.convalidated;
    const insert = (key: string, age: number) =>
      ds.query(
        `INSERT INTO policies (key, version, purpose, legal_basis, minimum_age, regions, platforms, kinds, excluded_labels, mode, created_by)
                VALUES ($1, 1, 'AI_MODEL_TRAINING', 'x', $2, '{DE}', '{FACEBOOK}', '{POST}', '{}', 'ENFORCE', 'test')`,
        [key, age],
      );
    try {
      await ds.runMigrations();
      expect(await check()).toBe(true);
      const later = migrations.length - migrations.findIndex((m) => new m().name === 'EnforceMinimumAge1764460000007');
      for (let i = 0; i < later; i++) await ds.undoLastMigration();
      expect(await check()).toBeUndefined();
      await insert('legacy-young', 13);
      await ds.runMigrations();
      expect(await check()).toBe(false);
      expect((await ds.query(`SELECT minimum_age FROM policies WHERE key = 'legacy-young'`))[0].minimum_age).toBe(13);
      await expect(insert('new-young', 17)).rejects.toThrow(/policies_enforce_minimum_age/);
    } finally {
      await db.close();
      await fresh.drop();
    }
  });
});
