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
const lang = () => String.fromCharCode(...Array.from({ length: 3 }, () => 97 + crypto.randomInt(26)));

const publish = async (t: TestApp, i: Record<string, unknown>) =>
  ok(await t.gql(PUBLISH, { i: { legalBasis: 'GDPR Art. 6(1)(f)', platforms: ['FACEBOOK', 'INSTAGRAM', 'AI_ASSISTANT'], kinds: ['POST', 'COMMENT', 'AI_PROMPT'], ...i } })).policyPublish;

describe('a DRY_RUN version of the default policy', () => {
  let t: TestApp;
  let drop: () => Promise<void>;
  beforeAll(async () => {
    // Its own database: this test publishes versions of the default policy key, which every other test relies on.
    const fresh = await freshDatabaseConfig();
    drop = fresh.drop;
    t = await startTestApp(fresh.config);
  });
  afterAll(async () => {
    await t?.close();
    await drop?.();
  });

  it('changes no answer an ML engineer gets: contentItem, contentItems, eligibleContent and dataset members', async () => {
    const w = new World(t);
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
