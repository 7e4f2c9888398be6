import { DataSource } from 'typeorm';
import { openDatabase } from '../../src/db/data-source';
import { migrations } from '../../migrations';
import { appendMutationEvent } from '../../src/modules/audit/audit.service';
import { freshDatabaseConfig, useTestApp } from '../helpers';

// Each test needs a database the migrations have not touched: on Citus a plain Citus database, before distribute.sql
// (operators migrate first, then distribute).
describe('migrations', () => {
  it('run up, down and up again on an empty database', async () => {
    const fresh = await freshDatabaseConfig({ plain: true });
    const db = await openDatabase(fresh.config, { runMigrations: false });
    try {
      const ds: DataSource = db.dataSource;
      const tables = async () =>
        (
          await ds.query(
            `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' AND table_name <> 'schema_migrations' ORDER BY 1`,
          )
        ).map((r: any) => r.table_name);
      expect(await tables()).toEqual([]);
      const applied = await ds.runMigrations();
      expect(applied.map((m) => m.name)).toEqual(migrations.map((m) => new m().name));
      const afterUp = await tables();
      expect(afterUp).toEqual(
        expect.arrayContaining(['users', 'content_items', 'visibility_changes', 'consent_events', 'policies', 'audit_events']),
      );
      expect(await ds.query(`SELECT key, version, mode FROM policies`)).toEqual([{ key: 'eu-ai-training', version: 1, mode: 'ENFORCE' }]);
      for (let i = 0; i < migrations.length; i++) await ds.undoLastMigration();
      expect(await tables()).toEqual([]);
      await ds.runMigrations();
      expect(await tables()).toEqual(afterUp);
      expect(await ds.showMigrations()).toBe(false);
    } finally {
      await db.close();
      await fresh.drop();
    }
  });
});

describe('distributable keys migration on existing data', () => {
  it('backfills the author of visibility changes, re-keys content and member partitions by author, and goes back', async () => {
    const fresh = await freshDatabaseConfig({ plain: true });
    const db = await openDatabase(fresh.config, { runMigrations: false });
    const ds: DataSource = db.dataSource;
    const keyOf = async (table: string, type: 'p' | 'u' | 'f') =>
      (
        await ds.query(
          `SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = $1::regclass AND contype = $2 ORDER BY conname`,
          [table, type],
        )
      ).map((r: any) => r.def);
    // Undoes migrations, newest first, up to and including `name` (later migrations exist).
    const undoThrough = async (name: string) => {
      for (;;) {
        const [last] = await ds.query(`SELECT name FROM schema_migrations ORDER BY timestamp DESC, id DESC LIMIT 1`);
        await ds.undoLastMigration();
        if (last.name === name) return;
      }
    };
    try {
      await ds.runMigrations();
      await undoThrough('DistributableKeys1764460000004');
      // Data in the shape before the migration: a dataset partition keyed by item only, history without the author.
      const [u] = await ds.query(`INSERT INTO users (external_id, country) VALUES ('m-u', 'DE') RETURNING id`);
      const [c] = await ds.query(
        `INSERT INTO content_items (external_id, author_id, platform, kind, language, content_hash, created_at) VALUES ('m-c', $1, 'FACEBOOK', 'POST', 'de', repeat('a', 64), now()) RETURNING id`,
        [u.id],
      );
      await ds.query(
        `INSERT INTO visibility_changes (item_id, visibility, changed_at) VALUES ($1, 'PUBLIC', now()), ($1, 'FRIENDS', now())`,
        [c.id],
      );
      const dataset = '00000000-0000-4000-8000-000000000001';
      await ds.query(`CREATE TABLE dataset_members_m (LIKE dataset_members)`);
      await ds.query(`INSERT INTO dataset_members_m VALUES ($1, $2, $3, repeat('a', 64))`, [dataset, c.id, u.id]);
      await ds.query(`ALTER TABLE dataset_members_m ADD PRIMARY KEY (item_id)`);
      await ds.query(`ALTER TABLE dataset_members ATTACH PARTITION dataset_members_m FOR VALUES IN ('${dataset}')`);

      await ds.runMigrations();
      expect(await ds.query(`SELECT DISTINCT author_id FROM visibility_changes`)).toEqual([{ author_id: u.id }]);
      expect(await keyOf('content_items', 'p')).toEqual(['PRIMARY KEY (id, author_id)']);
      expect(await keyOf('content_items', 'u')).toEqual(['UNIQUE (external_id, author_id)']);
      expect(await keyOf('visibility_changes', 'f')).toEqual(['FOREIGN KEY (item_id, author_id) REFERENCES content_items(id, author_id)']);
      expect(await keyOf('dataset_members_m', 'p')).toEqual(['PRIMARY KEY (item_id, author_id)']);
      // A history row cannot name another author than its item's.
      const [other] = await ds.query(`INSERT INTO users (external_id, country) VALUES ('m-u2', 'DE') RETURNING id`);
      await expect(
        ds.query(`INSERT INTO visibility_changes (item_id, author_id, visibility, changed_at) VALUES ($1, $2, 'PUBLIC', now())`, [
          c.id,
          other.id,
        ]),
      ).rejects.toThrow(/foreign key/);

      await undoThrough('DistributableKeys1764460000004');
      expect(await keyOf('content_items', 'p')).toEqual(['PRIMARY KEY (id)']);
      expect(await keyOf('dataset_members_m', 'p')).toEqual(['PRIMARY KEY (item_id)']);
      expect(await ds.query(`SELECT count(*)::int AS n FROM visibility_changes`)).toEqual([{ n: 2 }]);
    } finally {
      await db.close();
      await fresh.drop();
    }
  });
});

describe('knowledge by snapshot migration on existing data', () => {
  it('leaves older facts without an xid (judged by recorded time), stamps every new fact, and goes back', async () => {
    const fresh = await freshDatabaseConfig({ plain: true });
    const db = await openDatabase(fresh.config, { runMigrations: false });
    const ds: DataSource = db.dataSource;
    try {
      // Up to the migration before it only (a later one, AuditAnchors, cannot be undone once it has signed events).
      const later = (ds.migrations as unknown as unknown[]).splice(
        migrations.findIndex((m) => new m().name === 'KnowledgeBySnapshot1764460000005'),
      );
      await ds.runMigrations();
      (ds.migrations as unknown as unknown[]).push(...later);
      const [u] = await ds.query(`INSERT INTO users (external_id, country, birth_date) VALUES ('k-u', 'DE', '1990-01-01') RETURNING id`);
      await ds.query(
        `INSERT INTO consent_events (user_id, type, scope, effective_at, recorded_at, channel, actor)
        VALUES ($1, 'OBJECTION', 'ALL_AI_TRAINING', '2025-01-01', '2025-01-02', 'SETTINGS', 't')`,
        [u.id],
      );
      await ds.runMigrations();
      const [old] = await ds.query(
        `SELECT e.recorded_xid, u.attributes_xid, u.attributes_recorded_at = '-infinity' AS always
        FROM consent_events e JOIN users u ON u.id = e.user_id WHERE u.id = $1`,
        [u.id],
      );
      expect(old).toEqual({ recorded_xid: null, attributes_xid: null, always: true });
      // Known to a snapshot taken now through the recorded-time fallback; not to a dataset that looked before it.
      const [k] = await ds.query(
        `SELECT coalesce(pg_visible_in_snapshot(recorded_xid, pg_current_snapshot()), recorded_at <= now()) AS now,
        coalesce(pg_visible_in_snapshot(recorded_xid, NULL), recorded_at <= '2025-01-01T12:00:00Z') AS before FROM consent_events WHERE user_id = $1`,
        [u.id],
      );
      expect(k).toEqual({ now: true, before: false });
      await ds.query(`UPDATE users SET country = 'US', deleted_at = now() + interval '1 day' WHERE id = $1`, [u.id]);
      const [stamped] = await ds.query(
        `SELECT attributes_xid IS NOT NULL AS attributes, deletion_xid IS NOT NULL AS deletion,
        deleted_at <= deletion_recorded_at AS clamped FROM users WHERE id = $1`,
        [u.id],
      );
      expect(stamped).toEqual({ attributes: true, deletion: true, clamped: true });
    } finally {
      await db.close();
      await fresh.drop();
    }
  });
});

describe('database constraints', () => {
  const t = useTestApp();
  beforeAll(async () => {
    const [u] = await t.sql(
      `INSERT INTO users (external_id, country, birth_date) VALUES ('constraint-user-' || gen_random_uuid(), 'DE', '1990-01-01') RETURNING id`,
    );
    await t.sql(
      `INSERT INTO consent_events (user_id, type, scope, effective_at, channel, actor) VALUES ($1, 'OBJECTION', 'ALL_AI_TRAINING', now(), 'SETTINGS', 'test')`,
      [u.id],
    );
    await appendMutationEvent(t.db.dataSource.manager, t.context(), 'constraintTest', {}, [u.id]);
  });

  it.each([
    ['UPDATE consent_events SET reason = $$x$$'],
    ['DELETE FROM consent_events'],
    ['TRUNCATE consent_events CASCADE'],
    ['UPDATE audit_events SET operation = $$x$$'],
    ['DELETE FROM audit_events'],
    ['TRUNCATE audit_events'],
    ['UPDATE policies SET minimum_age = 16'],
    ['DELETE FROM policies'],
    ['TRUNCATE policies CASCADE'],
    ['TRUNCATE training_run_reviews'],
    ['TRUNCATE lineage_edges'],
    ['TRUNCATE audit_checkpoints'],
  ])('refuses %s: the ledger, the audit log and its checkpoints, published policies, reviews and lineage are append-only', async (sql) => {
    await expect(t.sql(sql)).rejects.toThrow(/append-only/);
  });

  it.each([['UPDATE audit_checkpoints SET event_count = 0'], ['DELETE FROM audit_checkpoints']])(
    'refuses %s: checkpoints are append-only',
    async (sql) => {
      // A row to refuse to change, in a transaction rolled back (no unsigned checkpoint is left in the shared database).
      const runner = t.db.dataSource.createQueryRunner();
      await runner.startTransaction();
      try {
        await runner.query(`INSERT INTO audit_checkpoints (last_event_id, last_hash, event_count, signed_at, key_id, signature)
        VALUES (1, repeat('0', 64), 1, now(), 'test', 'unsigned')`);
        await expect(runner.query(sql)).rejects.toThrow(/append-only/);
      } finally {
        await runner.rollbackTransaction();
        await runner.release();
      }
    },
  );

  it('refuses TRUNCATE on every table that refuses UPDATE and DELETE', async () => {
    const tables = await t.sql(
      `SELECT c.relname AS table, bool_or(t.tgtype & 32 <> 0) AS no_truncate
       FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_proc p ON p.oid = t.tgfoid
       WHERE p.proname = 'reject_modification' AND NOT t.tgisinternal GROUP BY c.relname ORDER BY 1`,
    );
    expect(tables.map((r: any) => r.table)).toEqual(
      expect.arrayContaining(['audit_checkpoints', 'audit_events', 'consent_events', 'lineage_edges', 'policies', 'training_run_reviews']),
    );
    expect(tables.filter((r: any) => !r.no_truncate)).toEqual([]);
  });

  it.each([
    [`INSERT INTO users (external_id, country) VALUES ('x-' || gen_random_uuid(), 'germany')`],
    [
      `INSERT INTO content_items (external_id, author_id, platform, kind, language, content_hash, created_at) VALUES ('c-' || gen_random_uuid(), gen_random_uuid(), 'FACEBOOK', 'POST', 'de', repeat('a', 64), now())`,
    ],
    [
      `INSERT INTO policies (key, version, purpose, legal_basis, minimum_age, regions, platforms, kinds, mode, created_by) VALUES ('p', 1, 'AI_MODEL_TRAINING', 'x', 18, '{DE}', '{MYSPACE}', '{POST}', 'ENFORCE', 't')`,
    ],
    [
      `INSERT INTO consent_events (user_id, type, scope, effective_at, channel, actor) SELECT id, 'OBJECTION', 'ALL_AI_TRAINING', now() + interval '1 day', 'SETTINGS', 't' FROM users LIMIT 1`,
    ],
  ])('refuses bad rows in the database itself: %s', async (sql) => {
    await expect(t.sql(sql)).rejects.toThrow();
  });
});
