import crypto from 'node:crypto';
import { Role } from '../src/common/auth';
import { freshDatabaseConfig, ok, startTestApp, TestApp, uniq } from './helpers';
import { World } from './world';

/**
 * DESIGN.md §3 "DRY_RUN mode": whatever hands out content (the ML text gate, eligibleContent, builds, derivations,
 * remediations) uses the latest ENFORCE version of its policy key, and an ENFORCE version never goes below 18.
 */
const PUBLISH = `mutation($i: PolicyPublishInput!) { policyPublish(input: $i) { policy { id key version mode } userErrors { code field message } } }`;
const DS = `id name version memberCount policy { key version }`;
const REQUEST = `mutation($i: DatasetRequestInput!) { datasetRequest(input: $i) { dataset { ${DS} } userErrors { code message field } } }`;
const DERIVE = `mutation($i: DatasetDeriveInput!) { datasetDerive(input: $i) { dataset { ${DS} } userErrors { code message field } } }`;
const REMEDIATE = `mutation($i: DatasetRemediateInput!) { datasetRemediate(input: $i) { dataset { ${DS} } userErrors { code message field } } }`;
const lang = () => String.fromCharCode(...Array.from({ length: 3 }, () => 97 + crypto.randomInt(26)));

/** The app of a describe block, on the shared test database or (fresh) a database of its own. */
function testApp(options: { fresh?: boolean } = {}) {
  const app = {} as { t: TestApp; w: World; drop?: () => Promise<void> };
  beforeAll(async () => {
    const fresh = options.fresh ? await freshDatabaseConfig() : undefined;
    app.drop = fresh?.drop;
    app.t = await startTestApp(fresh?.config);
    app.w = new World(app.t);
  });
  afterAll(async () => {
    await app.t?.close();
    await app.drop?.();
  });
  return app;
}

const publish = async (t: TestApp, i: Record<string, unknown>) =>
  ok(await t.gql(PUBLISH, { i: { legalBasis: 'GDPR Art. 6(1)(f)', platforms: ['FACEBOOK', 'INSTAGRAM', 'AI_ASSISTANT'], kinds: ['POST', 'COMMENT', 'AI_PROMPT'], ...i } })).policyPublish;

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
    const ds = ok(await t.gql(REQUEST, { i: { name: uniq('ds'), policyKey: worldKey, filters: { languages: [language] } } }, Role.ML_ENGINEER)).datasetRequest;
    expect(ds.userErrors).toEqual([]);
    expect(ds.dataset.memberCount).toBe(2);

    const ask = async () => {
      const one = await Promise.all(
        Object.values(items).map(async (id) => ok(await t.gql(`query($id: ID!) { contentItem(id: $id) { id text } }`, { id }, Role.ML_ENGINEER)).contentItem),
      );
      const list = ok(await t.gql(`query($l: String!) { contentItems(first: 10, filter: { languages: [$l] }) { edges { node { id text } } } }`, { l: language }, Role.ML_ENGINEER));
      const eligible = await t.gql(`query($l: String!) { eligibleContent(first: 10, filter: { languages: [$l] }) { totalCount edges { node { id text } } } }`, { l: language }, Role.ML_ENGINEER);
      const members = ok(await t.gql(`query($id: ID!) { dataset(id: $id) { members { edges { node { itemId item { text } } } } } }`, { id: ds.dataset.id }, Role.ML_ENGINEER));
      return { one, list: list.contentItems.edges, eligible: { data: eligible.data, errors: eligible.errors?.map((e) => e.extensions?.code) }, members: members.dataset.members.edges };
    };
    const before = await ask();
    expect(before.one.map((c: any) => c.text)).toEqual(['adult text', null, null, null]);
    expect(before.eligible.data.eligibleContent.edges.map((e: any) => e.node.id)).toEqual([items.adult]);

    const dry = await publish(t, { key: 'eu-ai-training', minimumAge: 13, regions: ['DE', 'US'], excludedLabels: [], mode: 'DRY_RUN' });
    expect(dry.userErrors).toEqual([]);
    expect(dry.policy).toMatchObject({ version: 2, mode: 'DRY_RUN' });
    // The DRY_RUN version really would admit all four: its report says so.
    const report = ok(await t.gql(`query($l: String!) { eligibilityReport(filter: { languages: [$l] }) { mode eligible } }`, { l: language }, Role.AUDITOR)).eligibilityReport;
    expect(report).toEqual({ mode: 'DRY_RUN', eligible: 4 });

    expect(await ask()).toEqual(before);
    // A dataset request on the default key still builds under the ENFORCE version.
    const built = ok(await t.gql(REQUEST, { i: { name: uniq('ds'), filters: { languages: [language] } } }, Role.ML_ENGINEER)).datasetRequest;
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
    const request = async () => ok(await t.gql(REQUEST, { i: { name: uniq('p'), policyKey: key, filters: { languages: [language] } } }, Role.ML_ENGINEER)).datasetRequest.dataset;
    const v1Parent = await request();
    expect(v1Parent).toMatchObject({ memberCount: 6, policy: { key, version: 1 } });

    // Stricter: authors must have been 50 when they posted. Then a DRY_RUN version that would admit everyone again.
    await publish(t, { key, minimumAge: 50, regions: ['DE'], mode: 'ENFORCE' });
    await publish(t, { key, minimumAge: 18, regions: ['DE', 'US'], mode: 'DRY_RUN' });
    const v2Parent = await request();
    expect(v2Parent).toMatchObject({ memberCount: 3, policy: { key, version: 2 } });
    const members = async (id: string) => (await t.sql(`SELECT item_id FROM dataset_members WHERE dataset_id = $1 ORDER BY item_id`, [id])).map((r: any) => r.item_id);

    const derive = async (input: Record<string, unknown>) => ok(await t.gql(DERIVE, { i: { name: uniq('d'), ...input } }, Role.ML_ENGINEER)).datasetDerive;
    for (const input of [{ operation: 'DEDUPLICATE', parentIds: [v1Parent.id] }, { operation: 'SAMPLE', parentIds: [v1Parent.id], sample: { rate: 1, seed: 1 } }]) {
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
    const other = ok(await t.gql(REQUEST, { i: { name: uniq('o'), filters: { languages: [language] } } }, Role.ML_ENGINEER)).datasetRequest.dataset;
    const mixed = await derive({ operation: 'UNION', parentIds: [v1Parent.id, other.id] });
    expect(mixed.userErrors).toEqual([expect.objectContaining({ code: 'CONFLICT', field: 'parentIds' })]);

    const remediated = ok(await t.gql(REMEDIATE, { i: { datasetId: v1Parent.id } }, Role.ML_ENGINEER)).datasetRemediate;
    expect(remediated.userErrors).toEqual([]);
    expect(remediated.dataset).toMatchObject({ name: v1Parent.name, version: 2, memberCount: 3, policy: { key, version: 2 } });
    expect(await members(remediated.dataset.id)).toEqual([...ids.old].sort());
  });
});
