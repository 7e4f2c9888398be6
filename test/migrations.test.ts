import { DataSource } from 'typeorm';
import { openDatabase } from '../src/db/data-source';
import { migrations } from '../migrations';
import { freshDatabaseConfig, startTestApp, TestApp } from './helpers';

describe('migrations', () => {
  it('run up, down and up again on an empty database', async () => {
    const fresh = await freshDatabaseConfig();
    const db = await openDatabase(fresh.config, { runMigrations: false });
    try {
      const ds: DataSource = db.dataSource;
      const tables = async () =>
        (await ds.query(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_name <> 'schema_migrations' ORDER BY 1`)).map((r: any) => r.table_name);
      expect(await tables()).toEqual([]);
      const applied = await ds.runMigrations();
      expect(applied.map((m) => m.name)).toEqual(migrations.map((m) => new m().name));
      const afterUp = await tables();
      expect(afterUp).toEqual(expect.arrayContaining(['users', 'content_items', 'visibility_changes', 'consent_events', 'policies', 'audit_events']));
      expect((await ds.query(`SELECT key, version, mode FROM policies`))).toEqual([{ key: 'eu-ai-training', version: 1, mode: 'ENFORCE' }]);
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

describe('database constraints', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
    const [u] = await t.sql(`INSERT INTO users (external_id, country, birth_date) VALUES ('constraint-user-' || gen_random_uuid(), 'DE', '1990-01-01') RETURNING id`);
    await t.sql(`INSERT INTO consent_events (user_id, type, scope, effective_at, channel, actor) VALUES ($1, 'OBJECTION', 'ALL_AI_TRAINING', now(), 'SETTINGS', 'test')`, [u.id]);
    await t.services().audit.append(t.db.dataSource.manager, t.context(), 'constraintTest', {}, [u.id]);
  });
  afterAll(async () => t?.close());

  it.each([
    ['UPDATE consent_events SET reason = $$x$$'],
    ['DELETE FROM consent_events'],
    ['TRUNCATE consent_events CASCADE'],
    ['UPDATE audit_events SET operation = $$x$$'],
    ['DELETE FROM audit_events'],
    ['TRUNCATE audit_events'],
    ['UPDATE policies SET minimum_age = 16'],
    ['DELETE FROM policies'],
  ])('refuses %s: the ledger, the audit log and published policies are append-only', async (sql) => {
    await expect(t.sql(sql)).rejects.toThrow(/append-only/);
  });

  it.each([
    [`INSERT INTO users (external_id, country) VALUES ('x-' || gen_random_uuid(), 'germany')`],
    [`INSERT INTO content_items (external_id, author_id, platform, kind, language, content_hash, created_at) VALUES ('c-' || gen_random_uuid(), gen_random_uuid(), 'FACEBOOK', 'POST', 'de', repeat('a', 64), now())`],
    [`INSERT INTO policies (key, version, purpose, legal_basis, minimum_age, regions, platforms, kinds, mode, created_by) VALUES ('p', 1, 'AI_MODEL_TRAINING', 'x', 18, '{DE}', '{MYSPACE}', '{POST}', 'ENFORCE', 't')`],
    [`INSERT INTO consent_events (user_id, type, scope, effective_at, channel, actor) SELECT id, 'OBJECTION', 'ALL_AI_TRAINING', now() + interval '1 day', 'SETTINGS', 't' FROM users LIMIT 1`],
  ])('refuses bad rows in the database itself: %s', async (sql) => {
    await expect(t.sql(sql)).rejects.toThrow();
  });
});
