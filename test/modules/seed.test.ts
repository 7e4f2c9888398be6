import { Role } from '../../src/common/auth';
import { runAudited } from '../../src/modules/audit/audited-mutation';
import { writeSynthetic } from '../../src/modules/seed/synthetic';
import { startFreshTestApp, TestApp, uniq } from '../helpers';

// A database of its own: the bulk seed drops and re-creates indexes, keys and foreign keys.
let t: TestApp;
afterAll(async () => t?.close());

const CATALOG = `SELECT conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid) AS d FROM pg_constraint
                 WHERE conrelid::regclass::text IN ('users', 'content_items', 'visibility_changes', 'consent_events', 'content_label_history')
                 UNION ALL SELECT indexdef FROM pg_indexes WHERE tablename IN ('users', 'content_items', 'visibility_changes', 'consent_events', 'content_label_history')
                 UNION ALL SELECT tgrelid::regclass::text || ' ' || tgname || ' ' || tgenabled::text FROM pg_trigger WHERE NOT tgisinternal
                 ORDER BY 1`;

describe('bulk synthetic seed', () => {
  it('loads 50,000 items with its keys, indexes and foreign keys deferred, and leaves the catalog (triggers enabled) and the current state as the migrations and triggers would', async () => {
    t = await startFreshTestApp();
    const before = (await t.sql(CATALOG)).map((r: any) => r.d);
    const prefix = `${uniq('sy')}-`;
    const seed = (p: string) =>
      runAudited(t.context(Role.INGEST_SERVICE), 'syntheticSeed', {}, async (tx) => {
        await writeSynthetic(tx.manager, { users: 5000, items: 50000, objections: 2000, seed: 3, prefix: p });
        return { payload: undefined, targetIds: [] };
      });
    await seed(prefix);
    expect((await t.sql(CATALOG)).map((r: any) => r.d)).toEqual(before);
    // Deterministic: a second data set of the same spec has the same shape (ids differ by prefix).
    const shape = `SELECT kind, visibility_now, count(*)::int AS n FROM content_items WHERE starts_with(external_id, $1) GROUP BY 1, 2 ORDER BY 1, 2`;
    const first = await t.sql(shape, [prefix]);
    await seed(`${prefix}2-`);
    expect(await t.sql(shape, [`${prefix}2-`])).toEqual(first);
    // Every item's current visibility is its latest change, as the trigger keeps it.
    // (A join on the distribution column rather than a correlated subquery, so that Citus runs it on the workers.)
    const [{ n: wrongVisibility }] = await t.sql(`SELECT count(*)::int AS n FROM content_items c
      LEFT JOIN (SELECT DISTINCT ON (author_id, item_id) author_id, item_id, visibility FROM visibility_changes ORDER BY author_id, item_id, changed_at DESC, id DESC) v
        ON v.author_id = c.author_id AND v.item_id = c.id
      WHERE c.visibility_now IS DISTINCT FROM v.visibility`);
    expect(wrongVisibility).toBe(0);
    // Each person's objection flags are the deciding event of each scope.
    const [{ n: wrongObjections }] =
      await t.sql(`SELECT count(*)::int AS n FROM users u WHERE u.objects_all_ai_training IS DISTINCT FROM coalesce((
      SELECT e.type = 'OBJECTION' FROM consent_events e WHERE e.user_id = u.id AND e.scope = 'ALL_AI_TRAINING'
      ORDER BY e.effective_at DESC, e.recorded_at DESC, e.id DESC LIMIT 1), false)`);
    expect(wrongObjections).toBe(0);
    const [{ n: objecting }] = await t.sql(
      `SELECT count(*)::int AS n FROM users WHERE objects_all_ai_training AND starts_with(external_id, $1)`,
      [prefix],
    );
    expect(objecting).toBeGreaterThan(100);
    // The keys hold: a duplicate item is refused.
    await expect(
      t.sql(`INSERT INTO content_items SELECT * FROM content_items WHERE starts_with(external_id, $1) LIMIT 1`, [prefix]),
    ).rejects.toThrow(/duplicate key/);
  }, 600_000);
});
