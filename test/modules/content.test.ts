import { Role } from '../../src/common/auth';
import { factory, ingest, ok, uniq, useTestApp } from '../helpers';
import { ContentIngestDocument } from '../generated/graphql';

const t = useTestApp();

const count = async (table: string) => (await t.sql(`SELECT count(*)::int AS n FROM ${table}`))[0].n as number;

describe('contentIngest, visibility and deletion', () => {
  let author: ReturnType<typeof factory.user>;
  beforeAll(async () => {
    author = factory.user();
    await ingest(t, [author]);
  });

  it('creates items with their content hash and first visibility, and updates by externalId', async () => {
    const item = factory.item(author.externalId, { text: 'hello world' });
    const r1 = ok(await t.gql(ContentIngestDocument, { input: { items: [item] } }, Role.INGEST_SERVICE)).contentIngest;
    expect(r1.createdCount).toBe(1);
    expect(r1.items[0].contentHash).toBe('b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9');
    const r2 = ok(
      await t.gql(ContentIngestDocument, { input: { items: [{ ...item, text: 'changed' }] } }, Role.INGEST_SERVICE),
    ).contentIngest;
    expect(r2).toMatchObject({ createdCount: 0, updatedCount: 1 });
    expect(r2.items[0].id).toBe(r1.items[0].id);
    const q = `query($id: ID!) { contentItem(id: $id) { text visibility visibilityHistory { visibility changedAt } author { externalId } } }`;
    const read = ok(await t.gql(q, { id: r1.items[0].id })).contentItem;
    expect(read).toMatchObject({ text: 'changed', visibility: 'PUBLIC', author: { externalId: author.externalId } });
    expect(read.visibilityHistory).toHaveLength(1);
  });

  it.each([
    ['unknown author', { authorExternalId: 'nobody-' + Math.random() }, 'items[0].authorExternalId', 'NOT_FOUND'],
    ['future createdAt', { createdAt: '2999-01-01T00:00:00Z' }, 'items[0].createdAt', 'BAD_USER_INPUT'],
    ['language', { language: 'German' }, 'items[0].language', 'BAD_USER_INPUT'],
    ['oversized text', { text: 'x'.repeat(65537) }, 'items[0].text', 'BAD_USER_INPUT'],
    ['label', { labels: ['bad label'] }, 'items[0].labels[0]', 'BAD_USER_INPUT'],
  ])('refuses %s, naming row and field, writing nothing', async (_n, bad, field, code) => {
    const before = await count('content_items');
    const res = ok(await t.gql(ContentIngestDocument, { input: { items: [factory.item(author.externalId, bad)] } }, Role.INGEST_SERVICE));
    expect(res.contentIngest.userErrors[0]).toMatchObject({ code, field });
    expect(await count('content_items')).toBe(before);
  });

  it('refuses to move an existing item to another author (CONFLICT)', async () => {
    const other = factory.user();
    await ingest(t, [other]);
    const item = factory.item(author.externalId);
    await ingest(t, [], [item]);
    const res = ok(
      await t.gql(ContentIngestDocument, { input: { items: [{ ...item, authorExternalId: other.externalId }] } }, Role.INGEST_SERVICE),
    );
    expect(res.contentIngest.userErrors[0]).toMatchObject({ code: 'CONFLICT', field: 'items[0].externalId' });
  });

  it('keeps one author per external id when ingests for two authors race (the key includes the author)', async () => {
    const [a, b] = [factory.user(), factory.user()];
    await ingest(t, [a, b]);
    for (let round = 0; round < 5; round++) {
      const externalId = uniq('race');
      const [ra, rb] = await Promise.all(
        [a, b].map((u) =>
          t.gql(ContentIngestDocument, { input: { items: [{ ...factory.item(u.externalId), externalId }] } }, Role.INGEST_SERVICE),
        ),
      );
      const codes = [ok(ra).contentIngest, ok(rb).contentIngest].map((r) => r.userErrors[0]?.code ?? 'OK').sort();
      expect(codes).toEqual(['CONFLICT', 'OK']);
      expect((await t.sql(`SELECT count(*)::int AS n FROM content_items WHERE external_id = $1`, [externalId]))[0].n).toBe(1);
    }
  });

  it('records visibility changes and deletions, all or nothing', async () => {
    const item = factory.item(author.externalId, { createdAt: '2024-01-01T00:00:00Z' });
    const ids = await ingest(t, [], [item]);
    const change = `mutation($input: ContentVisibilityChangeInput!) { contentVisibilityChange(input: $input) { items { id visibility } userErrors { code field } } }`;
    const okRes = ok(
      await t.gql(
        change,
        { input: { changes: [{ externalId: item.externalId, visibility: 'FRIENDS', changedAt: '2024-06-01T00:00:00Z' }] } },
        Role.INGEST_SERVICE,
      ),
    );
    expect(okRes.contentVisibilityChange.items[0]).toEqual({ id: ids[item.externalId], visibility: 'FRIENDS' });
    const before = await count('visibility_changes');
    const bad = ok(
      await t.gql(
        change,
        {
          input: {
            changes: [
              { externalId: item.externalId, visibility: 'PUBLIC' },
              { externalId: item.externalId, visibility: 'PUBLIC', changedAt: '2023-01-01T00:00:00Z' },
            ],
          },
        },
        Role.INGEST_SERVICE,
      ),
    );
    expect(bad.contentVisibilityChange.userErrors[0]).toMatchObject({ code: 'BAD_USER_INPUT', field: 'changes[1].changedAt' });
    expect(await count('visibility_changes')).toBe(before);

    const del = `mutation($input: ContentDeleteInput!) { contentDelete(input: $input) { items { id deletedAt } userErrors { code field } } }`;
    const missing = ok(
      await t.gql(del, { input: { items: [{ externalId: item.externalId }, { externalId: 'missing-' + uniq() }] } }, Role.INGEST_SERVICE),
    );
    expect(missing.contentDelete.userErrors[0]).toMatchObject({ code: 'NOT_FOUND', field: 'items[1].externalId' });
    expect((await t.sql(`SELECT deleted_at FROM content_items WHERE id = $1`, [ids[item.externalId]]))[0].deleted_at).toBeNull();
    const deleted = ok(await t.gql(del, { input: { items: [{ externalId: item.externalId }] } }, Role.INGEST_SERVICE));
    expect(deleted.contentDelete.items[0].deletedAt).toBeTruthy();
  });
});
