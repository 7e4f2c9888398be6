import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { Client } from 'pg';
import { Role } from '../../src/common/auth';
import { citusLayoutViolations, citusPlanPath, citusViolations, parseCitusPlan } from '../../src/db/citus';
import { freshDatabaseConfig, ingest, notOnCitus, ok, onCitus, uniq, useTestApp } from '../helpers';
import { openDatabase } from '../../src/db/data-source';
import {
  distributedBuildSql,
  eligibleCandidatesSql,
  MembershipInput,
  membersFromEligibleSql,
} from '../../src/modules/datasets/dataset.membership.store';
import { NOW } from '../../src/modules/eligibility/eligibility.rules';
import { sqlParams } from '../../src/db/sql';

/**
 * The schema against Citus's rules, with the layout of deploy/citus/distribute.sql (the SQL the compose profile runs).
 * There is no Citus here: the rules are checked on the catalog of the migrated schema, with a dataset version built so
 * that its partition is checked too.
 */
describe('Citus readiness', () => {
  const plan = parseCitusPlan(fs.readFileSync(citusPlanPath(), 'utf8'));
  const t = useTestApp();

  beforeAll(async () => {
    const ids = await ingest(t, [{ externalId: uniq('cu'), birthDate: '1990-01-01', country: 'DE' }]);
    const author = Object.keys(ids)[0];
    await ingest(
      t,
      [],
      [
        {
          externalId: uniq('ci'),
          authorExternalId: author,
          platform: 'FACEBOOK',
          kind: 'POST',
          text: 'hello',
          language: 'de',
          createdAt: '2025-01-01T00:00:00Z',
          visibility: 'PUBLIC',
        },
      ],
    );
    ok(
      await t.gql(
        `mutation($input: DatasetRequestInput!) { datasetRequest(input: $input) { dataset { id memberCount } } }`,
        { input: { name: uniq('citus') } },
        Role.ML_ENGINEER,
      ),
    );
    expect((await t.sql(`SELECT count(*)::int AS n FROM pg_inherits WHERE inhparent = 'dataset_members'::regclass`))[0].n).toBeGreaterThan(
      0,
    );
  });

  it('distributes content, visibility history and dataset members by author, co-located', () => {
    expect(Object.fromEntries(plan.distributed)).toEqual({
      content_items: { column: 'author_id', colocateWith: undefined },
      visibility_changes: { column: 'author_id', colocateWith: 'content_items' },
      content_label_history: { column: 'author_id', colocateWith: 'content_items' },
      dataset_members: { column: 'author_id', colocateWith: 'content_items' },
      dataset_build_candidates: { column: 'author_id', colocateWith: 'content_items' },
    });
    expect([...plan.reference].sort()).toEqual([
      'consent_events',
      'datasets',
      'lineage_edges',
      'policies',
      'training_run_reviews',
      'training_runs',
      'user_attribute_history',
      'users',
    ]);
    expect([...plan.local]).toEqual(['audit_events', 'audit_checkpoints']);
    // The append-only triggers of the ledger, policies, reviews and lineage stay: the plan enables them.
    expect(plan.unsafeTriggers).toBe(true);
  });

  it("the migrated schema, dataset partitions included, breaks none of Citus's rules", async () => {
    expect(await citusViolations(t.db.dataSource.manager, plan)).toEqual([]);
  });

  it('finds each kind of violation in a schema that breaks the rules', async () => {
    const s = `citus_bad_${Date.now()}`;
    await t.sql(`CREATE SCHEMA ${s}`);
    try {
      await t.sql(`CREATE TABLE ${s}.owners (id uuid PRIMARY KEY)`);
      await t.sql(`CREATE TABLE ${s}.items (id uuid PRIMARY KEY, owner_id uuid NOT NULL, code text UNIQUE)`);
      await t.sql(
        `CREATE TABLE ${s}.notes (id integer GENERATED ALWAYS AS IDENTITY, owner_id uuid, item_id uuid REFERENCES ${s}.items (id))`,
      );
      await t.sql(`CREATE TABLE ${s}.tags (item_id uuid NOT NULL, owner_id uuid NOT NULL) PARTITION BY LIST (item_id)`);
      await t.sql(`CREATE TABLE ${s}.tags_1 PARTITION OF ${s}.tags FOR VALUES IN ('00000000-0000-4000-8000-000000000001')`);
      await t.sql(`ALTER TABLE ${s}.tags_1 ADD PRIMARY KEY (item_id)`);
      await t.sql(`CREATE TABLE ${s}.lookups (item_id uuid, owner_id uuid, FOREIGN KEY (item_id) REFERENCES ${s}.items (id))`);
      await t.sql(`CREATE TABLE ${s}.stray (id integer)`);
      await t.sql(`CREATE FUNCTION ${s}.noop() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$`);
      await t.sql(`CREATE TRIGGER items_noop BEFORE INSERT ON ${s}.items FOR EACH ROW EXECUTE FUNCTION ${s}.noop()`);
      await t.sql(`CREATE TRIGGER owners_noop BEFORE INSERT ON ${s}.owners FOR EACH ROW EXECUTE FUNCTION ${s}.noop()`);
      // Citus counts key columns only: an INCLUDE column does not make a unique index distributable.
      await t.sql(`CREATE UNIQUE INDEX items_code_including ON ${s}.items (code) INCLUDE (owner_id)`);
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
          'items: trigger items_noop on a distributed table needs citus.enable_unsafe_triggers',
          'owners: trigger owners_noop on a reference table needs citus.enable_unsafe_triggers',
          'items: unique key items_code_including (code) does not include the distribution column owner_id',
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

  it('reads the actual layout only on a Citus coordinator, and there finds the plan', async () => {
    // On a cluster laid out by deploy/citus/setup.sh, dataset partitions included; elsewhere there is no Citus metadata.
    expect(await citusLayoutViolations(t.db.dataSource.manager, plan)).toEqual(onCitus ? [] : null);
  });

  notOnCitus('Citus keeps pg_dist_partition in pg_catalog, which a stand-in earlier on the search path cannot shadow').it(
    "on a Citus coordinator, compares the tables' actual layout (pg_dist_partition) with the plan",
    async () => {
      // Citus's catalog as the plan would leave it, in a schema searched first. One connection throughout (the embedded
      // database has only one).
      const s = `citus_fake_${Date.now()}`;
      const runner = t.db.dataSource.createQueryRunner();
      const q = (sql: string, params?: unknown[]) => runner.query(sql, params);
      const row = async (table: string, kind: 'distributed' | 'reference' | 'local', column?: string, colocation = 2) => {
        const [a] = column
          ? await q(`SELECT attnum FROM pg_attribute WHERE attrelid = $1::regclass AND attname = $2`, [table, column])
          : [undefined];
        await q(`DELETE FROM ${s}.pg_dist_partition WHERE logicalrelid = $1::regclass`, [table]);
        await q(`INSERT INTO ${s}.pg_dist_partition VALUES ($1::regclass, $2, $3, $4, $5)`, [
          table,
          kind === 'distributed' ? 'h' : 'n',
          a ? `{VAR :varno 1 :varattno ${a.attnum} :vartype 2950 :vartypmod -1}` : null,
          kind === 'local' ? 0 : kind === 'reference' ? 1 : colocation,
          kind === 'reference' ? 't' : 's',
        ]);
      };
      try {
        await q(`CREATE SCHEMA ${s}`);
        await q(
          `CREATE TABLE ${s}.pg_dist_partition (logicalrelid regclass, partmethod "char", partkey text, colocationid int, repmodel "char")`,
        );
        for (const table of plan.reference) await row(table, 'reference');
        for (const [table, d] of plan.distributed) await row(table, 'distributed', d.column);
        for (const table of plan.local) await row(table, 'local');
        await q(`SET search_path = ${s}, public`);
        expect(await citusLayoutViolations(runner.manager, plan)).toEqual([]);
        await row('visibility_changes', 'distributed', 'author_id', 3);
        await row('dataset_members', 'distributed', 'item_id');
        await row('consent_events', 'local');
        await q(`DELETE FROM ${s}.pg_dist_partition WHERE logicalrelid = 'lineage_edges'::regclass`);
        expect((await citusLayoutViolations(runner.manager, plan))!.sort()).toEqual(
          [
            'consent_events: planned reference, but it is local',
            'dataset_members: planned distribution by author_id, but it is distributed by item_id',
            'lineage_edges: planned reference, but Citus does not manage it',
            'visibility_changes: planned co-located with content_items, but it is not',
          ].sort(),
        );
      } finally {
        await q('RESET search_path');
        await q(`DROP SCHEMA IF EXISTS ${s} CASCADE`);
        await runner.release();
      }
    },
  );
});

/**
 * deploy/citus/distribute.sql as written, run by psql against a stand-in for Citus's functions and catalog
 * (test/support/citus-stub.sql): it converts each table once as planned, leaves the foreign keys as they were, and a
 * second run converts nothing. Needs a PostgreSQL server and psql.
 */
const onPostgres = process.env.DATABASE_URL
  ? notOnCitus('the cluster itself was laid out by this script (deploy/citus/setup.sh)').describe
  : describe.skip;
onPostgres('deploy/citus/distribute.sql', () => {
  it('converts every table once as planned, keeps the foreign keys, and changes nothing when run again', async () => {
    const fresh = await freshDatabaseConfig();
    const db = await openDatabase(fresh.config);
    await db.close();
    const client = new Client({ connectionString: fresh.config.databaseUrl });
    await client.connect();
    const plan = parseCitusPlan(fs.readFileSync(citusPlanPath(), 'utf8'));
    try {
      await client.query(fs.readFileSync(path.join(__dirname, '..', 'support', 'citus-stub.sql'), 'utf8'));
      const fks = async () =>
        (
          await client.query(
            `SELECT conrelid::regclass::text AS t, conname, pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE contype = 'f' ORDER BY 1, 2`,
          )
        ).rows;
      const before = await fks();
      expect(before.length).toBeGreaterThan(0);
      const psql = () =>
        spawnSync('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', fresh.config.databaseUrl!, '-f', citusPlanPath()], {
          env: { ...process.env, PGOPTIONS: '-c search_path=citus_stub,public' },
          encoding: 'utf8',
        });
      const first = psql();
      expect({ status: first.status, stderr: first.stderr }).toEqual({ status: 0, stderr: '' });
      const calls = (await client.query(`SELECT fn, tbl FROM citus_stub.calls ORDER BY at`)).rows;
      expect(calls.map((c) => c.tbl)).toEqual(plan.order);
      expect(calls.filter((c) => c.fn === 'create_distributed_table').map((c) => c.tbl)).toEqual([...plan.distributed.keys()]);
      expect(await fks()).toEqual(before);

      const second = psql();
      expect(second.status).toBe(0);
      expect((await client.query(`SELECT count(*)::int AS n FROM citus_stub.calls`)).rows[0].n).toBe(calls.length);
      expect(await fks()).toEqual(before);

      // The layout check reads the (stand-in) catalog and finds the plan.
      const again = await openDatabase(
        {
          databaseUrl: `${fresh.config.databaseUrl}?options=${encodeURIComponent('-c search_path=citus_stub,public')}`,
          dataDir: fresh.config.dataDir,
        },
        { runMigrations: false },
      );
      try {
        expect(await citusLayoutViolations(again.dataSource.manager, plan)).toEqual([]);
      } finally {
        await again.close();
      }
    } finally {
      await client.end();
      await fresh.drop();
    }
  });
});

/**
 * On a real cluster (DATABASE_KIND=citus): where a dataset build's members are computed and written. A distributed
 * INSERT … SELECT is pushed down when Citus plans it as one task per shard that reads and writes on the worker, with no
 * "pull to coordinator" and no distributed subplan (an intermediate result gathered on the coordinator).
 */
const citusOnly = onCitus ? describe : describe.skip;
citusOnly('dataset builds on a Citus cluster', () => {
  const t = useTestApp();
  let policyId: string;
  const datasetId = '00000000-0000-4000-8000-0000000000c1';
  beforeAll(async () => {
    policyId = (await t.sql(`SELECT id FROM policies ORDER BY created_at LIMIT 1`))[0].id;
  });

  /** EXPLAIN of `statement` (rendered for a request with no filters) into a distributed partition of dataset_members. */
  /** EXPLAIN of `statement` into a fresh partition; `params` are the statement's own (the policy's id is `$1` when it reads it). */
  async function explainInto(statement: (m: MembershipInput, part: string) => string, params: unknown[]): Promise<string> {
    const runner = t.db.dataSource.createQueryRunner();
    await runner.startTransaction();
    try {
      const part = `dataset_members_explain_${Date.now()}`;
      await runner.query(`CREATE TABLE ${part} PARTITION OF dataset_members FOR VALUES IN ('${datasetId}')`);
      const [kind] = await runner.query(`SELECT citus_table_type FROM citus_tables WHERE table_name = $1::regclass`, [part]);
      expect(kind.citus_table_type).toBe('distributed'); // a partition of a distributed table is distributed with it
      const { p } = sqlParams(...params);
      const sql = statement({ spec: {}, policyId: '$1::uuid', times: NOW, p }, part);
      return (await runner.query(`EXPLAIN ${sql}`, params)).map((r: any) => r['QUERY PLAN']).join('\n');
    } finally {
      await runner.rollbackTransaction();
      await runner.release();
    }
  }

  const pushedDown = (plan: string) => {
    expect(plan).not.toMatch(/pull to coordinator|Distributed Subplan|repartition/);
    expect(plan).toMatch(/^Custom Scan \(Citus Adaptive\)/);
    expect(plan).toMatch(/Task Count: 32/); // one task per shard of content_items
    expect(plan).toMatch(/Insert on dataset_members_explain_\d+_\d+/); // the worker inserts into its shard
  };

  it('the members of a build, as one INSERT … SELECT into a distributed partition, are written by the workers', async () => {
    pushedDown(
      await explainInto(
        (m, part) =>
          `INSERT INTO ${part} (dataset_id, item_id, author_id, content_hash)
       SELECT '${datasetId}'::uuid, id, author_id, content_hash FROM ${membersFromEligibleSql(m, eligibleCandidatesSql(m))} s`,
        [policyId],
      ),
    );
  });

  it('a build on the cluster evaluates and writes on the workers: candidates with their reasons, then the members', async () => {
    const build = (part: string) => distributedBuildSql(part, `'${datasetId}'::uuid`);
    const candidates = await explainInto((m, part) => build(part).candidates(m), [policyId]);
    expect(candidates).not.toMatch(/pull to coordinator|Distributed Subplan|repartition/);
    expect(candidates).toMatch(/Task Count: 32/);
    expect(candidates).toMatch(/Insert on dataset_build_candidates_\d+/);
    pushedDown(await explainInto((m, part) => build(part).members(m), [])); // the members read the candidates, not the policy
  });

  it('the service builds that way: a distributed partition, counts that agree with it, nothing left behind', async () => {
    const d = ok(
      await t.gql(
        `mutation($input: DatasetRequestInput!) { datasetRequest(input: $input) { dataset { id memberCount candidateCount } } }`,
        { input: { name: uniq('citus-build') } },
        Role.ML_ENGINEER,
      ),
    ).datasetRequest.dataset;
    const [part] = await t.sql(
      `SELECT c.citus_table_type AS kind FROM pg_inherits i JOIN citus_tables c ON c.table_name = i.inhrelid::regclass
      WHERE i.inhparent = 'dataset_members'::regclass AND i.inhrelid::regclass::text = $1`,
      [`dataset_members_${d.id.replace(/-/g, '')}`],
    );
    expect(part.kind).toBe('distributed');
    expect((await t.sql(`SELECT count(*)::int AS n FROM dataset_members WHERE dataset_id = $1`, [d.id]))[0].n).toBe(d.memberCount);
    expect((await t.sql(`SELECT count(*)::int AS n FROM dataset_build_candidates`))[0].n).toBe(0);
    const v = ok(
      await t.gql(
        `query($id: ID!) { dataset(id: $id) { buildVerification { reproduced memberCount expectedCount } } }`,
        { id: d.id },
        Role.AUDITOR,
      ),
    );
    expect(v.dataset.buildVerification).toEqual({ reproduced: true, memberCount: d.memberCount, expectedCount: d.memberCount });
  });
});
