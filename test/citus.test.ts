import fs from 'node:fs';
import { Role } from '../src/common/auth';
import { citusPlanPath, citusViolations, parseCitusPlan } from '../src/db/citus';
import { ingest, ok, startTestApp, TestApp, uniq } from './helpers';

/**
 * The schema against Citus's rules, with the layout of deploy/citus/distribute.sql (the SQL the compose profile runs).
 * There is no Citus here: the rules are checked on the catalog of the migrated schema, with a dataset version built so
 * that its partition is checked too.
 */
describe('Citus readiness', () => {
  let t: TestApp;
  const plan = parseCitusPlan(fs.readFileSync(citusPlanPath(), 'utf8'));

  beforeAll(async () => {
    t = await startTestApp();
    const ids = await ingest(t, [{ externalId: uniq('cu'), birthDate: '1990-01-01', country: 'DE' }]);
    const author = Object.keys(ids)[0];
    await ingest(t, [], [{ externalId: uniq('ci'), authorExternalId: author, platform: 'FACEBOOK', kind: 'POST', text: 'hello', language: 'de', createdAt: '2025-01-01T00:00:00Z', visibility: 'PUBLIC' }]);
    ok(await t.gql(`mutation($input: DatasetRequestInput!) { datasetRequest(input: $input) { dataset { id memberCount } } }`, { input: { name: uniq('citus') } }, Role.ML_ENGINEER));
    expect((await t.sql(`SELECT count(*)::int AS n FROM pg_inherits WHERE inhparent = 'dataset_members'::regclass`))[0].n).toBeGreaterThan(0);
  });
  afterAll(async () => t?.close());

  it('distributes content, visibility history and dataset members by author, co-located', () => {
    expect(Object.fromEntries(plan.distributed)).toEqual({
      content_items: { column: 'author_id', colocateWith: undefined },
      visibility_changes: { column: 'author_id', colocateWith: 'content_items' },
      dataset_members: { column: 'author_id', colocateWith: 'content_items' },
    });
    expect([...plan.reference].sort()).toEqual(['consent_events', 'datasets', 'lineage_edges', 'policies', 'training_run_reviews', 'training_runs', 'users']);
    expect([...plan.local]).toEqual(['audit_events']);
  });

  it('the migrated schema, dataset partitions included, breaks none of Citus\'s rules', async () => {
    expect(await citusViolations(t.db.dataSource.manager, plan)).toEqual([]);
  });

  it('finds each kind of violation in a schema that breaks the rules', async () => {
    const s = `citus_bad_${Date.now()}`;
    await t.sql(`CREATE SCHEMA ${s}`);
    try {
      await t.sql(`CREATE TABLE ${s}.owners (id uuid PRIMARY KEY)`);
      await t.sql(`CREATE TABLE ${s}.items (id uuid PRIMARY KEY, owner_id uuid NOT NULL, code text UNIQUE)`);
      await t.sql(`CREATE TABLE ${s}.notes (id integer GENERATED ALWAYS AS IDENTITY, owner_id uuid, item_id uuid REFERENCES ${s}.items (id))`);
      await t.sql(`CREATE TABLE ${s}.tags (item_id uuid NOT NULL, owner_id uuid NOT NULL) PARTITION BY LIST (item_id)`);
      await t.sql(`CREATE TABLE ${s}.tags_1 PARTITION OF ${s}.tags FOR VALUES IN ('00000000-0000-4000-8000-000000000001')`);
      await t.sql(`ALTER TABLE ${s}.tags_1 ADD PRIMARY KEY (item_id)`);
      await t.sql(`CREATE TABLE ${s}.lookups (item_id uuid, owner_id uuid, FOREIGN KEY (item_id) REFERENCES ${s}.items (id))`);
      await t.sql(`CREATE TABLE ${s}.stray (id integer)`);
      await t.sql(`CREATE FUNCTION ${s}.noop() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$`);
      await t.sql(`CREATE TRIGGER items_noop BEFORE INSERT ON ${s}.items FOR EACH ROW EXECUTE FUNCTION ${s}.noop()`);
      const bad = parseCitusPlan(`
        SELECT create_distributed_table('notes', 'owner_id', colocate_with => 'items'); -- before its FK target
        SELECT create_distributed_table('items', 'owner_id');
        SELECT create_distributed_table('tags', 'owner_id', colocate_with => 'items');
        SELECT create_reference_table('lookups');
        SELECT create_reference_table('owners');
      `);
      const problems = await citusViolations(t.db.dataSource.manager, bad, s);
      expect(problems.sort()).toEqual(
        [
          'stray: not in the plan (distribute it, make it a reference table or keep it local)',
          'items: unique key items_pkey (id) does not include the distribution column owner_id',
          'items: unique key items_code_key (code) does not include the distribution column owner_id',
          'items: trigger items_noop on a distributed table',
          'notes: distribution column owner_id may be NULL',
          'notes: identity column id is integer; Citus supports only bigint identity columns on distributed tables',
          'notes: foreign key notes_item_id_fkey to items: items must be converted before notes',
          'notes: foreign key notes_item_id_fkey to items: does not join the distribution columns (notes.owner_id = items.owner_id)',
          'tags_1: unique key tags_1_pkey (item_id) does not include the distribution column owner_id',
          'lookups: foreign key lookups_item_id_fkey to items: a reference table cannot reference a distributed table',
        ].sort(),
      );
    } finally {
      await t.sql(`DROP SCHEMA ${s} CASCADE`);
    }
  });
});
