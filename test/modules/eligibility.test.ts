import fc from 'fast-check';
import { Role } from '../../src/common/auth';
import { eligibleItemsSql } from '../../src/modules/eligibility/eligibility.store';
import { NOW } from '../../src/modules/eligibility/eligibility.rules';
import { countStatements, ok, uniq, onCitus, useTestApp } from '../helpers';
import { EligibilityForIdsDocument } from '../generated/graphql';
import { World } from '../world';

const t = useTestApp();
const w = new World(t);

const explain = async (itemId: string, asOf?: string, policyKey = 'eu-ai-training') => {
  const [v] = await t.services().eligibility.verdicts(t.context(), [itemId], policyKey, asOf ? new Date(asOf) : undefined);
  return [...v.reasons].sort();
};

/** The bulk rendering of the same rules (the predicate used for counting, pages and dataset builds). */
const bulkEligible = async (itemIds: string[], policyId: string, asOf: string): Promise<Set<string>> => {
  const rows = await t.sql(
    `SELECT c.id FROM ${eligibleItemsSql('(SELECT * FROM content_items WHERE id = ANY($3::uuid[]))', '$1::uuid', { asOf: '$2::timestamptz' })} c`,
    [policyId, asOf, itemIds],
  );
  return new Set(rows.map((r: any) => r.id));
};

/** The bulk rendering now: the current state the database keeps (objections, latest visibility), not the history. */
const bulkEligibleNow = async (itemIds: string[], policyId: string): Promise<Set<string>> => {
  const rows = await t.sql(
    `SELECT c.id FROM ${eligibleItemsSql('(SELECT * FROM content_items WHERE id = ANY($2::uuid[]))', '$1::uuid', NOW)} c`,
    [policyId, itemIds],
  );
  return new Set(rows.map((r: any) => r.id));
};

describe('the rules, case by case (DESIGN.md §3)', () => {
  it('applies each reason code', async () => {
    const adult = await w.user();
    const cases: [string, () => Promise<string>, string[]][] = [
      ['eligible', () => w.item(adult), []],
      ['private message', () => w.item(adult, { kind: 'PRIVATE_MESSAGE' }), ['KIND_NOT_COVERED', 'PRIVATE_MESSAGE']],
      ['friends only', () => w.item(adult, { visibility: 'FRIENDS' }), ['NOT_PUBLIC']],
      ['no visibility known', () => w.item(adult, { visibility: null }), ['NOT_PUBLIC']],
      [
        'AI prompt: visibility does not apply',
        () => w.item(adult, { platform: 'AI_ASSISTANT', kind: 'AI_PROMPT', visibility: 'ONLY_ME' }),
        [],
      ],
      ['minor at creation', async () => w.item(await w.user({ birthDate: '2012-05-05' })), ['AUTHOR_MINOR_AT_CREATION']],
      ['unknown age', async () => w.item(await w.user({ birthDate: null })), ['AUTHOR_AGE_UNKNOWN']],
      ['non-EU author', async () => w.item(await w.user({ country: 'US' })), ['REGION_NOT_COVERED']],
      ['deleted content', () => w.item(adult, { deletedAt: '2025-06-01T00:00:00Z' }), ['CONTENT_DELETED']],
      ['erased author', async () => w.item(await w.user({ erasedAt: '2026-01-01T00:00:00Z' })), ['AUTHOR_ERASED']],
      ['excluded label', () => w.item(adult, { labels: ['SPECIAL_CATEGORY'] }), ['EXCLUDED_LABEL']],
      [
        'several at once',
        async () => w.item(await w.user({ birthDate: null, country: 'US' }), { visibility: 'FRIENDS', labels: ['SPECIAL_CATEGORY'] }),
        ['AUTHOR_AGE_UNKNOWN', 'EXCLUDED_LABEL', 'NOT_PUBLIC', 'REGION_NOT_COVERED'],
      ],
    ];
    for (const [name, make, expected] of cases) {
      const id = await make();
      expect({ name, reasons: await explain(id) }).toEqual({ name, reasons: [...expected].sort() });
    }
  });

  it('counts ages in whole years on UTC calendar dates', async () => {
    const teen = await w.user({ birthDate: '2008-06-15' });
    expect(await explain(await w.item(teen, { createdAt: '2026-06-14T23:59:59.999Z' }))).toEqual(['AUTHOR_MINOR_AT_CREATION']);
    expect(await explain(await w.item(teen, { createdAt: '2026-06-15T00:00:00Z' }))).toEqual([]);
  });

  it('lets someone born on 29 February come of age on 1 March in a non-leap year', async () => {
    const leapling = await w.user({ birthDate: '2008-02-29' });
    expect(await explain(await w.item(leapling, { createdAt: '2026-02-28T23:59:59Z' }))).toEqual(['AUTHOR_MINOR_AT_CREATION']);
    expect(await explain(await w.item(leapling, { createdAt: '2026-03-01T00:00:00Z' }))).toEqual([]);
    const older = await w.user({ birthDate: '2004-02-29' });
    expect(await explain(await w.item(older, { createdAt: '2022-02-28T12:00:00Z' }))).toEqual(['AUTHOR_MINOR_AT_CREATION']);
    expect(await explain(await w.item(older, { createdAt: '2022-03-01T00:00:00Z' }))).toEqual([]);
  });

  it('keeps content posted as a minor ineligible after the author turns 18', async () => {
    const grown = await w.user({ birthDate: '2007-01-10' });
    const early = await w.item(grown, { createdAt: '2024-01-01T00:00:00Z' });
    expect(await explain(early)).toEqual(['AUTHOR_MINOR_AT_CREATION']);
  });

  it('honours an objection effective exactly at asOf, and not a moment before', async () => {
    const u = await w.user();
    const item = await w.item(u, { createdAt: '2024-01-01T00:00:00Z' });
    await w.event(u, 'OBJECTION', 'ALL_AI_TRAINING', '2025-03-01T12:00:00Z');
    expect(await explain(item, '2025-03-01T12:00:00Z')).toEqual(['OBJECTED']);
    expect(await explain(item, '2025-03-01T11:59:59.999Z')).toEqual([]);
  });

  it('follows objection, withdrawal and objection again', async () => {
    const u = await w.user();
    const item = await w.item(u, { createdAt: '2024-01-01T00:00:00Z' });
    await w.event(u, 'OBJECTION', 'PUBLIC_CONTENT', '2025-01-01T00:00:00Z');
    await w.event(u, 'OBJECTION_WITHDRAWN', 'PUBLIC_CONTENT', '2025-02-01T00:00:00Z');
    await w.event(u, 'OBJECTION', 'PUBLIC_CONTENT', '2025-03-01T00:00:00Z');
    expect(await explain(item, '2024-12-31T00:00:00Z')).toEqual([]);
    expect(await explain(item, '2025-01-15T00:00:00Z')).toEqual(['OBJECTED']);
    expect(await explain(item, '2025-02-15T00:00:00Z')).toEqual([]);
    expect(await explain(item, '2025-03-15T00:00:00Z')).toEqual(['OBJECTED']);
  });

  it('applies each scope to the kinds it covers, and keeps scopes independent', async () => {
    const make = async () => {
      const u = await w.user();
      return { u, post: await w.item(u), prompt: await w.item(u, { platform: 'AI_ASSISTANT', kind: 'AI_PROMPT' }) };
    };
    const pub = await make();
    await w.event(pub.u, 'OBJECTION', 'PUBLIC_CONTENT', '2025-06-01T00:00:00Z');
    expect([await explain(pub.post), await explain(pub.prompt)]).toEqual([['OBJECTED'], []]);
    const ai = await make();
    await w.event(ai.u, 'OBJECTION', 'AI_INTERACTIONS', '2025-06-01T00:00:00Z');
    expect([await explain(ai.post), await explain(ai.prompt)]).toEqual([[], ['OBJECTED']]);
    const all = await make();
    await w.event(all.u, 'OBJECTION', 'ALL_AI_TRAINING', '2025-06-01T00:00:00Z');
    expect([await explain(all.post), await explain(all.prompt)]).toEqual([['OBJECTED'], ['OBJECTED']]);
    // Withdrawing ALL_AI_TRAINING leaves a separate PUBLIC_CONTENT objection in force.
    const both = await make();
    await w.event(both.u, 'OBJECTION', 'PUBLIC_CONTENT', '2025-06-01T00:00:00Z');
    await w.event(both.u, 'OBJECTION', 'ALL_AI_TRAINING', '2025-06-02T00:00:00Z');
    await w.event(both.u, 'OBJECTION_WITHDRAWN', 'ALL_AI_TRAINING', '2025-06-03T00:00:00Z');
    expect([await explain(both.post), await explain(both.prompt)]).toEqual([['OBJECTED'], []]);
  });

  it('evaluates visibility at asOf: changes to and from PUBLIC before and after it', async () => {
    const u = await w.user();
    const item = await w.item(u, { createdAt: '2024-01-01T00:00:00Z', visibility: 'FRIENDS' });
    await w.visibility(item, 'PUBLIC', '2024-06-01T00:00:00Z');
    await w.visibility(item, 'ONLY_ME', '2025-06-01T00:00:00Z');
    expect(await explain(item, '2024-03-01T00:00:00Z')).toEqual(['NOT_PUBLIC']);
    expect(await explain(item, '2024-06-01T00:00:00Z')).toEqual([]);
    expect(await explain(item, '2025-05-31T23:59:59Z')).toEqual([]);
    expect(await explain(item, '2025-06-01T00:00:00Z')).toEqual(['NOT_PUBLIC']);
  });

  it('counts deletion and erasure only from their instant on', async () => {
    const u = await w.user({ erasedAt: '2025-06-01T00:00:00Z' });
    const item = await w.item(u, { createdAt: '2024-01-01T00:00:00Z' });
    expect(await explain(item, '2025-05-01T00:00:00Z')).toEqual([]);
    expect(await explain(item, '2025-06-01T00:00:00Z')).toEqual(['AUTHOR_ERASED']);
    const deleted = await w.item(await w.user(), { createdAt: '2024-01-01T00:00:00Z', deletedAt: '2025-01-01T00:00:00Z' });
    expect(await explain(deleted, '2024-12-31T00:00:00Z')).toEqual([]);
    expect(await explain(deleted, '2025-01-01T00:00:00Z')).toEqual(['CONTENT_DELETED']);
  });

  it("applies a policy's window, platforms, kinds, regions and minimum age", async () => {
    const key = uniq('pol').toLowerCase();
    const published = ok(
      await t.gql(
        `mutation($input: PolicyPublishInput!) { policyPublish(input: $input) { policy { id version } userErrors { code field } } }`,
        {
          input: {
            key,
            legalBasis: 'test',
            minimumAge: 21,
            regions: ['DE'],
            platforms: ['FACEBOOK'],
            kinds: ['POST'],
            windowStart: '2024-01-01T00:00:00Z',
            windowEnd: '2025-01-01T00:00:00Z',
            excludedLabels: [],
            mode: 'ENFORCE',
          },
        },
      ),
    );
    expect(published.policyPublish.policy.version).toBe(1);
    const u = await w.user({ birthDate: '2003-03-01', country: 'DE' });
    expect(await explain(await w.item(u, { createdAt: '2024-02-29T12:00:00Z' }), undefined, key)).toEqual(['AUTHOR_MINOR_AT_CREATION']);
    expect(await explain(await w.item(u, { createdAt: '2024-03-01T00:00:00Z' }), undefined, key)).toEqual([]);
    expect(await explain(await w.item(u, { createdAt: '2025-01-01T00:00:00Z' }), undefined, key)).toEqual(['OUTSIDE_WINDOW']);
    expect(
      await explain(
        await w.item(u, { createdAt: '2024-06-01T00:00:00Z', platform: 'INSTAGRAM', kind: 'COMMENT', labels: ['SPECIAL_CATEGORY'] }),
        undefined,
        key,
      ),
    ).toEqual(['KIND_NOT_COVERED', 'PLATFORM_NOT_COVERED']);
    expect(await explain(await w.item(await w.user({ country: 'FR' }), { createdAt: '2024-06-01T00:00:00Z' }), undefined, key)).toEqual([
      'REGION_NOT_COVERED',
    ]);
  });

  it('counts a fact from the moment it is committed, not from when its transaction began (knowledge time)', async () => {
    const u = await w.user();
    const item = await w.item(u);
    const writer = await t.db.dataSource.createQueryRunner();
    await writer.connect();
    try {
      await writer.startTransaction();
      await writer.query(
        `INSERT INTO consent_events (user_id, type, scope, effective_at, channel, actor) VALUES ($1, 'OBJECTION', 'ALL_AI_TRAINING', '2025-01-01', 'SETTINGS', 't')`,
        [u],
      );
      // On the embedded database (one connection) the writer's own statements are the only ones: check after commit.
      if (process.env.DATABASE_URL) expect(await explain(item)).toEqual([]);
      await writer.commitTransaction();
    } finally {
      await writer.release();
    }
    expect(await explain(item)).toEqual(['OBJECTED']);
  });
});

describe('the eligibility query', () => {
  it('answers one verdict per id in request order, with unknown ids marked, in a constant number of statements', async () => {
    const u = await w.user();
    const ids = await Promise.all([w.item(u), w.item(u, { visibility: 'FRIENDS' }), w.item(u, { kind: 'PRIVATE_MESSAGE' })]);
    const missing = '00000000-0000-0000-0000-000000000000';
    const res = ok(await t.gql(EligibilityForIdsDocument, { ids: [ids[2], missing, ids[0], ids[1]] }, Role.AUDITOR)).eligibility;
    expect(res.map((v: any) => [v.itemId, v.found, v.eligible, v.item?.id ?? null])).toEqual([
      [ids[2], true, false, ids[2]],
      [missing, false, false, null],
      [ids[0], true, true, ids[0]],
      [ids[1], true, false, ids[1]],
    ]);
    expect(res[3].reasons).toEqual(['NOT_PUBLIC']);

    const many = await t.sql(`SELECT id FROM content_items LIMIT 1000`);
    const one = await countStatements(t, () => t.gql(EligibilityForIdsDocument, { ids: [ids[0]] }, Role.AUDITOR));
    const thousand = await countStatements(t, () => t.gql(EligibilityForIdsDocument, { ids: many.map((r: any) => r.id) }, Role.AUDITOR));
    expect(thousand.result.errors).toBeUndefined();
    expect(thousand.statements).toBe(one.statements);
    expect(one.statements).toBeLessThanOrEqual(3);
  });

  it('judges under the version asked for, or the latest, now and at an instant, and names a version that does not exist', async () => {
    const key = uniq('versions').toLowerCase();
    const publish = async (kinds: string[]) =>
      ok(
        await t.gql(`mutation($input: PolicyPublishInput!) { policyPublish(input: $input) { policy { id version } } }`, {
          input: { key, legalBasis: 'versions', platforms: ['FACEBOOK', 'INSTAGRAM', 'AI_ASSISTANT'], kinds, mode: 'ENFORCE' },
        }),
      ).policyPublish.policy;
    const v1 = await publish(['POST']);
    const v2 = await publish(['COMMENT']);
    const u = await w.user();
    const post = await w.item(u, { kind: 'POST' });
    const q = `query($ids: [ID!]!, $key: String!, $v: Int, $asOf: DateTimeISO) {
      eligibility(itemIds: $ids, policyKey: $key, policyVersion: $v, asOf: $asOf) { itemId found eligible reasons policy { id version } } }`;
    const verdict = async (v: number | null, asOf?: string) => ok(await t.gql(q, { ids: [post], key, v, asOf }, Role.AUDITOR)).eligibility;
    const now = new Date().toISOString();
    for (const asOf of [undefined, now]) {
      expect(await verdict(null, asOf)).toEqual([
        { itemId: post, found: true, eligible: false, reasons: ['KIND_NOT_COVERED'], policy: v2 },
      ]);
      expect(await verdict(1, asOf)).toEqual([{ itemId: post, found: true, eligible: true, reasons: [], policy: v1 }]);
    }
    // No ids: the version is still looked up.
    expect(ok(await t.gql(q, { ids: [], key, v: 2 }, Role.AUDITOR)).eligibility).toEqual([]);
    expect((await t.gql(q, { ids: [], key, v: 3 }, Role.AUDITOR)).errors?.[0].extensions?.code).toBe('NOT_FOUND');
    const missing = await t.gql(q, { ids: [post], key, v: 3 }, Role.AUDITOR);
    expect(missing.errors?.[0].message).toBe(`No policy "${key}" version 3`);
    expect(missing.errors?.[0].extensions).toMatchObject({ code: 'NOT_FOUND', field: 'policyKey' });
  });

  it('refuses more than 1,000 ids, an asOf in the future and an unknown policy', async () => {
    const q = `query($ids: [ID!]!, $asOf: DateTimeISO, $key: String!) { eligibility(itemIds: $ids, asOf: $asOf, policyKey: $key) { eligible } }`;
    const ids = Array.from({ length: 1001 }, () => '00000000-0000-0000-0000-000000000000');
    expect((await t.gql(q, { ids, key: 'eu-ai-training' })).errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
    expect((await t.gql(q, { ids: [], key: 'eu-ai-training', asOf: '2999-01-01T00:00:00Z' })).errors?.[0].extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'asOf',
    });
    expect((await t.gql(q, { ids: [], key: 'no-such-policy' })).errors?.[0].extensions?.code).toBe('NOT_FOUND');
  });
});

describe('DRY_RUN', () => {
  it('reports what would be excluded, excludes nothing and hands out no content', async () => {
    const key = uniq('dry').toLowerCase();
    ok(
      await t.gql(`mutation($input: PolicyPublishInput!) { policyPublish(input: $input) { policy { id } } }`, {
        input: { key, legalBasis: 'preview', platforms: ['FACEBOOK', 'INSTAGRAM', 'AI_ASSISTANT'], kinds: ['POST'], mode: 'DRY_RUN' },
      }),
    );
    const u = await w.user();
    const comment = await w.item(u, { kind: 'COMMENT' });
    const [v] = await t.services().eligibility.verdicts(t.context(), [comment], key);
    expect(v).toMatchObject({ eligible: false, excluded: false, reasons: ['KIND_NOT_COVERED'] });
    const report = ok(
      await t.gql(
        `query($key: String!, $a: ID) { eligibilityReport(policyKey: $key, filter: { authorId: $a }) { mode evaluated eligible wouldExclude excluded reasons { reason count } } }`,
        { key, a: u },
      ),
    ).eligibilityReport;
    expect(report).toEqual({
      mode: 'DRY_RUN',
      evaluated: 1,
      eligible: 0,
      wouldExclude: 1,
      excluded: 0,
      reasons: [{ reason: 'KIND_NOT_COVERED', count: 1 }],
    });
    for (const role of [Role.ML_ENGINEER, Role.PRIVACY_OFFICER]) {
      const res = await t.gql(
        `query($key: String!) { eligibleContent(policyKey: $key, first: 5) { edges { node { id } } } }`,
        { key },
        role,
      );
      expect(res.errors?.[0].extensions?.code).toBe('POLICY_NOT_ENFORCED');
    }
  });
});

describe('enforcement for ML engineers', () => {
  it('never hands the text of an item ineligible now to an ML engineer, by any path', async () => {
    const u = await w.user();
    const objectedSince = await w.item(u, { createdAt: '2024-01-01T00:00:00Z' });
    await w.event(u, 'OBJECTION', 'ALL_AI_TRAINING', new Date(Date.now() - 60_000).toISOString());
    const fine = await w.item(await w.user(), { createdAt: '2024-01-01T00:00:00Z' });
    const asOf = '2025-01-01T00:00:00Z';
    // At asOf the objected item was eligible: privacy staff see that verdict.
    expect(await explain(objectedSince, asOf)).toEqual([]);
    const ml = Role.ML_ENGINEER;
    const one = ok(await t.gql(`query($id: ID!) { contentItem(id: $id) { id text } }`, { id: objectedSince }, ml));
    expect(one.contentItem).toEqual({ id: objectedSince, text: null });
    const list = ok(
      await t.gql(`query($a: ID) { contentItems(first: 10, filter: { authorId: $a }) { edges { node { id text } } } }`, { a: u }, ml),
    );
    expect(list.contentItems.edges.map((e: any) => e.node.text)).toEqual([null]);
    const past = ok(
      await t.gql(
        `query($a: ID, $asOf: DateTimeISO) { eligibleContent(first: 10, asOf: $asOf, filter: { authorId: $a }) { totalCount edges { node { id text } } } }`,
        { a: u, asOf },
        ml,
      ),
    );
    expect(past.eligibleContent).toEqual({ totalCount: 0, edges: [] });
    // An auditor asking the same past question sees the item (eligible then), without text.
    const audit = await t.gql(
      `query($a: ID, $asOf: DateTimeISO) { eligibleContent(first: 10, asOf: $asOf, filter: { authorId: $a }) { edges { node { id text } } } }`,
      { a: u, asOf },
      Role.AUDITOR,
    );
    expect(audit.data.eligibleContent.edges.map((e: any) => e.node.id)).toEqual([objectedSince]);
    expect(audit.errors?.[0].extensions?.code).toBe('FORBIDDEN');
    // Nested: through the verdict's item (privacy staff path) and through the author.
    const nested = ok(
      await t.gql(`query($id: ID!) { contentItem(id: $id) { author { id } } user(id: "${u}") { id } }`, { id: objectedSince }, ml),
    );
    expect(nested.contentItem.author.id).toBe(u);
    // And the eligible item's text is there.
    expect(ok(await t.gql(`query($id: ID!) { contentItem(id: $id) { text } }`, { id: fine }, ml)).contentItem.text).toBe('text');
  });

  const PAGE_TEXT = `query($a: ID) { eligibleContent(first: 10, filter: { authorId: $a }) { edges { node { id text } } } }`;
  const ONE_TEXT = `query($id: ID!) { contentItem(id: $id) { id text } }`;
  const texts = (res: any) => res.eligibleContent.edges.map((e: any) => [e.node.id, e.node.text]);

  it('hands an ML engineer the text of eligibleContent through the primed gate: no eligibility statement for text', async () => {
    const u = await w.user();
    const ids = [await w.item(u, { text: 'one' }), await w.item(u, { text: 'two' }), await w.item(u, { text: 'three' })];
    const byId = new Map([
      [ids[0], 'one'],
      [ids[1], 'two'],
      [ids[2], 'three'],
    ]);
    const minorItem = await w.item(await w.user({ birthDate: '2012-01-01' }), { text: 'minor' });
    const objector = await w.user();
    const objectedItem = await w.item(objector, { text: 'objected' });
    await w.event(objector, 'OBJECTION', 'ALL_AI_TRAINING', new Date(Date.now() - 60_000).toISOString());
    const ml = Role.ML_ENGINEER;

    const withText = await countStatements(t, async () => ok(await t.gql(PAGE_TEXT, { a: u }, ml)));
    expect(texts(withText.result)).toEqual([...ids].sort().map((id) => [id, byId.get(id)]));
    // The page's rows are eligible now under the default policy: the gate is primed with them, so asking for their text
    // issues no statement beyond the page's own (neither the policy lookup nor an eligibility query, let alone one per item).
    const idsOnly = await countStatements(t, () =>
      t.gql(`query($a: ID) { eligibleContent(first: 10, filter: { authorId: $a }) { edges { node { id } } } }`, { a: u }, ml),
    );
    expect(withText.statements).toBe(idsOnly.statements);

    // Ineligible items reached another way, in the same request or on their own: no text.
    const mixed = ok(
      await t.gql(
        `query($a: ID, $m: ID!, $o: ID!) {
          eligibleContent(first: 10, filter: { authorId: $a }) { edges { node { id text } } }
          minor: contentItem(id: $m) { id text }
          objected: contentItem(id: $o) { id text }
        }`,
        { a: u, m: minorItem, o: objectedItem },
        ml,
      ),
    );
    expect(texts(mixed)).toHaveLength(3);
    expect(mixed.minor).toEqual({ id: minorItem, text: null });
    expect(mixed.objected).toEqual({ id: objectedItem, text: null });
    for (const id of [minorItem, objectedItem]) expect(ok(await t.gql(ONE_TEXT, { id }, ml)).contentItem).toEqual({ id, text: null });
    // Privacy staff read the text whatever the verdict.
    expect(ok(await t.gql(ONE_TEXT, { id: minorItem }, Role.PRIVACY_OFFICER)).contentItem.text).toBe('minor');
  });

  it('does not hand out the text of an item that became ineligible after a request primed the gate', async () => {
    const u = await w.user();
    const item = await w.item(u, { text: 'soon objected' });
    const ml = Role.ML_ENGINEER;
    expect(texts(ok(await t.gql(PAGE_TEXT, { a: u }, ml)))).toEqual([[item, 'soon objected']]);
    // Through the services as well: a context whose gate eligibleContent primed.
    const primed = t.context(ml);
    const page = await t.services().eligibility.eligibleContent(primed, 'eu-ai-training', undefined, { authorId: u });
    expect(await t.services().content.textFor(primed, page.edges[0].node)).toBe('soon objected');

    await w.event(u, 'OBJECTION', 'ALL_AI_TRAINING', new Date(Date.now() - 1_000).toISOString());
    // A new request evaluates the gate afresh: nothing primed earlier (by that request or another) carries over.
    expect(ok(await t.gql(ONE_TEXT, { id: item }, ml)).contentItem).toEqual({ id: item, text: null });
    expect(ok(await t.gql(PAGE_TEXT, { a: u }, ml)).eligibleContent.edges).toEqual([]);
    const fresh = t.context(ml);
    expect(fresh.loaders.eligibleNow).not.toBe(primed.loaders.eligibleNow);
    const [row] = await t.services().content.byIds(fresh, [item]);
    expect(await t.services().content.textFor(fresh, row!)).toBeNull();
  });

  it('gates the text of eligibleContent under another policy key by the default policy, in the page and beside it', async () => {
    const key = uniq('wide').toLowerCase();
    ok(
      await t.gql(`mutation($input: PolicyPublishInput!) { policyPublish(input: $input) { policy { id } userErrors { code } } }`, {
        input: {
          key,
          legalBasis: 'test',
          regions: ['DE', 'US'],
          platforms: ['FACEBOOK'],
          kinds: ['POST'],
          excludedLabels: ['SPECIAL_CATEGORY'],
          mode: 'ENFORCE',
        },
      }),
    );
    const american = await w.user({ country: 'US' });
    const item = await w.item(american, { text: 'american' });
    expect(await explain(item)).toEqual(['REGION_NOT_COVERED']);
    const ml = Role.ML_ENGINEER;
    const res = ok(
      await t.gql(
        `query($k: String!, $a: ID, $id: ID!) {
          eligibleContent(policyKey: $k, first: 10, filter: { authorId: $a }) { edges { node { id text } } }
          contentItem(id: $id) { id text }
        }`,
        { k: key, a: american, id: item },
        ml,
      ),
    );
    // Eligible under the wider key, so listed; not eligible now under the default policy, so no text, on either path.
    expect(texts(res)).toEqual([[item, null]]);
    expect(res.contentItem).toEqual({ id: item, text: null });
  });

  it('pages eligible content stably with keyset cursors', async () => {
    const u = await w.user();
    const made = [];
    for (let i = 0; i < 7; i++) made.push(await w.item(u, { kind: i % 3 === 0 ? 'PRIVATE_MESSAGE' : 'POST' }));
    const q = `query($a: ID, $after: String) { eligibleContent(first: 2, after: $after, filter: { authorId: $a }) { totalCount edges { node { id text } } pageInfo { hasNextPage endCursor } } }`;
    const seen: string[] = [];
    let after: string | null = null;
    for (;;) {
      const page: any = ok(await t.gql(q, { a: u, after }, Role.ML_ENGINEER)).eligibleContent;
      expect(page.totalCount).toBe(4);
      seen.push(...page.edges.map((e: any) => e.node.id));
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
    expect(seen).toEqual(made.filter((_, i) => i % 3 !== 0).sort());
  });
});

/** An independent reading of DESIGN.md §3 in TypeScript, for the property test. */
// eslint-disable-next-line @typescript-eslint/no-namespace -- one name for the reference implementation's types and rules
namespace Reference {
  export interface U {
    id: string;
    birthDate: string | null;
    country: string;
    erasedAt: number | null;
  }
  export interface I {
    id: string;
    author: U;
    platform: string;
    kind: string;
    createdAt: number;
    labels: string[];
    deletedAt: number | null;
    vis: { v: string; at: number; seq: number }[];
  }
  export interface E {
    user: string;
    type: string;
    scope: string;
    eff: number;
    rec: number;
    seq: number;
  }
  export interface P {
    minimumAge: number;
    regions: string[];
    platforms: string[];
    kinds: string[];
    windowStart: number | null;
    windowEnd: number | null;
    excluded: string[];
  }

  function comesOfAge(birth: string, age: number): number {
    const [y, m, d] = birth.split('-').map(Number);
    const year = y + age;
    if (m === 2 && d === 29) {
      const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
      return leap ? Date.UTC(year, 1, 29) : Date.UTC(year, 2, 1);
    }
    return Date.UTC(year, m - 1, d);
  }

  export function reasons(c: I, p: P, T: number, events: E[]): string[] {
    const out: string[] = [];
    const u = c.author;
    if (c.kind === 'PRIVATE_MESSAGE') out.push('PRIVATE_MESSAGE');
    if (c.kind !== 'AI_PROMPT') {
      const seen = c.vis.filter((v) => v.at <= T).sort((a, b) => b.at - a.at || b.seq - a.seq)[0];
      if (seen?.v !== 'PUBLIC') out.push('NOT_PUBLIC');
    }
    if (u.birthDate && c.createdAt < comesOfAge(u.birthDate, p.minimumAge)) out.push('AUTHOR_MINOR_AT_CREATION');
    if (!u.birthDate) out.push('AUTHOR_AGE_UNKNOWN');
    if (!p.regions.includes(u.country)) out.push('REGION_NOT_COVERED');
    const scopes = c.kind === 'AI_PROMPT' ? ['ALL_AI_TRAINING', 'AI_INTERACTIONS'] : ['ALL_AI_TRAINING', 'PUBLIC_CONTENT'];
    const objected = scopes.some((s) => {
      const latest = events
        .filter((e) => e.user === u.id && e.scope === s && e.eff <= T)
        .sort((a, b) => b.eff - a.eff || b.rec - a.rec || b.seq - a.seq)[0];
      return latest?.type === 'OBJECTION';
    });
    if (objected) out.push('OBJECTED');
    if (c.deletedAt !== null && c.deletedAt <= T) out.push('CONTENT_DELETED');
    if (u.erasedAt !== null && u.erasedAt <= T) out.push('AUTHOR_ERASED');
    if (!p.platforms.includes(c.platform)) out.push('PLATFORM_NOT_COVERED');
    if (!p.kinds.includes(c.kind)) out.push('KIND_NOT_COVERED');
    if ((p.windowStart !== null && c.createdAt < p.windowStart) || (p.windowEnd !== null && c.createdAt >= p.windowEnd))
      out.push('OUTSIDE_WINDOW');
    if (c.labels.some((l) => p.excluded.includes(l))) out.push('EXCLUDED_LABEL');
    return out.sort();
  }
}

describe('property: explain path, bulk path and the reference agree', () => {
  // Instants from a small set, so that ties (same effective-at, same change time, asOf exactly on an event) happen often.
  const INSTANTS = [
    '2023-03-01T00:00:00Z',
    '2024-02-29T00:00:00Z',
    '2024-06-15T00:00:00Z',
    '2025-01-01T00:00:00Z',
    '2025-06-15T00:00:00Z',
    '2026-02-28T12:00:00Z',
    '2026-03-01T00:00:00Z',
  ].map((s) => Date.parse(s));
  const instant = fc.constantFrom(...INSTANTS);
  const userArb = fc.record({
    birthDate: fc.option(
      fc.constantFrom('1990-05-05', '2006-06-15', '2007-02-28', '2008-02-29', '2008-03-01', '2005-06-15', '2003-03-01'),
      { nil: null },
    ),
    country: fc.constantFrom('DE', 'FR', 'US'),
    erasedAt: fc.option(instant, { nil: null, freq: 5 }),
  });
  const itemArb = (nUsers: number) =>
    fc.record({
      author: fc.nat(nUsers - 1),
      platform: fc.constantFrom('FACEBOOK', 'INSTAGRAM', 'AI_ASSISTANT'),
      kind: fc.constantFrom('POST', 'COMMENT', 'AI_PROMPT', 'PRIVATE_MESSAGE', 'REVIEW'),
      createdAt: instant,
      labels: fc.constantFrom([], [], ['SPECIAL_CATEGORY'], ['OTHER']),
      deletedAt: fc.option(instant, { nil: null, freq: 5 }),
      vis: fc.array(fc.record({ v: fc.constantFrom('PUBLIC', 'FRIENDS', 'ONLY_ME'), at: instant }), { maxLength: 3 }),
    });
  const worldArb = fc.integer({ min: 1, max: 4 }).chain((nUsers) =>
    fc.record({
      users: fc.array(userArb, { minLength: nUsers, maxLength: nUsers }),
      items: fc.array(itemArb(nUsers), { minLength: 1, maxLength: 8 }),
      events: fc.array(
        fc.record({
          user: fc.nat(nUsers - 1),
          type: fc.constantFrom('OBJECTION', 'OBJECTION_WITHDRAWN'),
          scope: fc.constantFrom('ALL_AI_TRAINING', 'PUBLIC_CONTENT', 'AI_INTERACTIONS'),
          eff: instant,
          rec: instant,
        }),
        { maxLength: 6 },
      ),
      asOf: instant,
    }),
  );

  it('for every item of random worlds, under two policies', async () => {
    const custom = ok(
      await t.gql(`mutation($input: PolicyPublishInput!) { policyPublish(input: $input) { policy { id key } } }`, {
        input: {
          key: uniq('prop').toLowerCase(),
          legalBasis: 'test',
          minimumAge: 21,
          regions: ['DE', 'US'],
          platforms: ['FACEBOOK', 'AI_ASSISTANT'],
          kinds: ['POST', 'AI_PROMPT', 'PRIVATE_MESSAGE'],
          windowStart: '2024-01-01T00:00:00Z',
          windowEnd: '2026-01-01T00:00:00Z',
          excludedLabels: ['SPECIAL_CATEGORY'],
          mode: 'ENFORCE',
        },
      }),
    ).policyPublish.policy;
    const policies = [
      {
        key: 'eu-ai-training',
        id: (await t.sql(`SELECT id FROM policies WHERE key = 'eu-ai-training' ORDER BY version DESC LIMIT 1`))[0].id,
        p: {
          minimumAge: 18,
          regions: ['DE', 'FR'],
          platforms: ['FACEBOOK', 'INSTAGRAM', 'AI_ASSISTANT'],
          kinds: ['POST', 'COMMENT', 'PHOTO_CAPTION', 'REEL_CAPTION', 'REVIEW', 'AI_PROMPT'],
          windowStart: null,
          windowEnd: null,
          excluded: ['SPECIAL_CATEGORY'],
        },
      },
      {
        key: custom.key,
        id: custom.id,
        p: {
          minimumAge: 21,
          regions: ['DE', 'US'],
          platforms: ['FACEBOOK', 'AI_ASSISTANT'],
          kinds: ['POST', 'AI_PROMPT', 'PRIVATE_MESSAGE'],
          windowStart: Date.parse('2024-01-01T00:00:00Z'),
          windowEnd: Date.parse('2026-01-01T00:00:00Z'),
          excluded: ['SPECIAL_CATEGORY'],
        },
      },
    ];
    await fc.assert(
      fc.asyncProperty(worldArb, async (world) => {
        const users: Reference.U[] = [];
        for (const u of world.users) {
          const id = await w.user({
            birthDate: u.birthDate,
            country: u.country,
            erasedAt: u.erasedAt === null ? null : new Date(u.erasedAt).toISOString(),
          });
          users.push({ id, ...u });
        }
        const items: Reference.I[] = [];
        let seq = 0;
        for (const it of world.items) {
          const id = await w.item(users[it.author].id, {
            platform: it.platform,
            kind: it.kind,
            createdAt: new Date(it.createdAt).toISOString(),
            labels: it.labels,
            deletedAt: it.deletedAt === null ? null : new Date(it.deletedAt).toISOString(),
            visibility: null,
          });
          const vis = [];
          for (const v of it.vis) {
            await w.visibility(id, v.v, new Date(v.at).toISOString(), new Date(v.at).toISOString());
            vis.push({ ...v, seq: ++seq });
          }
          items.push({
            id,
            author: users[it.author],
            platform: it.platform,
            kind: it.kind,
            createdAt: it.createdAt,
            labels: it.labels,
            deletedAt: it.deletedAt,
            vis,
          });
        }
        const events: Reference.E[] = [];
        for (const e of world.events) {
          const rec = Math.max(e.rec, e.eff);
          await w.event(users[e.user].id, e.type as any, e.scope, new Date(e.eff).toISOString(), new Date(rec).toISOString());
          events.push({ user: users[e.user].id, type: e.type, scope: e.scope, eff: e.eff, rec, seq: ++seq });
        }
        const asOf = new Date(world.asOf).toISOString();
        for (const policy of policies) {
          const verdicts = await t.services().eligibility.verdicts(
            t.context(),
            items.map((i) => i.id),
            policy.key,
            new Date(asOf),
          );
          const bulk = await bulkEligible(
            items.map((i) => i.id),
            policy.id,
            asOf,
          );
          items.forEach((item, k) => {
            const expected = Reference.reasons(item, policy.p, world.asOf, events);
            const explained = [...verdicts[k].reasons].sort();
            expect({ item: k, policy: policy.key, reasons: explained }).toEqual({ item: k, policy: policy.key, reasons: expected });
            expect({ item: k, policy: policy.key, bulk: bulk.has(item.id) }).toEqual({
              item: k,
              policy: policy.key,
              bulk: expected.length === 0,
            });
          });
          // Now: the current state kept by the database agrees with the history and the reference, on both paths (the
          // verdicts now, with every reason, read the current state as the bulk path does).
          const now = await bulkEligibleNow(
            items.map((i) => i.id),
            policy.id,
          );
          const verdictsNow = await t.services().eligibility.verdicts(
            t.context(),
            items.map((i) => i.id),
            policy.key,
          );
          items.forEach((item, k) => {
            const expected = Reference.reasons(item, policy.p, Date.now(), events);
            expect({ item: k, policy: policy.key, now: now.has(item.id) }).toEqual({
              item: k,
              policy: policy.key,
              now: expected.length === 0,
            });
            expect({ item: k, policy: policy.key, reasonsNow: [...verdictsNow[k].reasons].sort() }).toEqual({
              item: k,
              policy: policy.key,
              reasonsNow: expected,
            });
          });
        }
      }),
      // On Citus every world row is a distributed write (reference rows on three nodes, two-phase commit): fewer worlds.
      {
        numRuns: Number(process.env.PROPERTY_RUNS ?? (onCitus ? 25 : 150)),
        seed: process.env.PROPERTY_SEED ? Number(process.env.PROPERTY_SEED) : undefined,
      },
    );
  });
});
