import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Knowledge ordered by commit (DESIGN.md §3 "Knowledge time"). Every fact that can change eligibility carries the id of
 * the transaction that recorded it (`xid8`, which never wraps), and every dataset build records the PostgreSQL snapshot
 * its membership statement ran on. A fact is known to a build exactly when `pg_visible_in_snapshot(fact xid, snapshot)`:
 * when it had committed before the build looked, not when its transaction began.
 *
 * - Append-only facts (ledger events, visibility changes) get `recorded_xid` by column default.
 * - Facts kept in place (erasure, account and content deletion, birth date, country, labels) get their xid, and a
 *   recorded time where they had none, stamped by triggers whenever the fact changes, so that no writer can forget.
 * - Corrections keep their history: the version a correction replaces goes to `user_attribute_history` or
 *   `content_label_history`, with the xid and time it was recorded and the xid that superseded it.
 * - Valid times can never be later than their recorded time (NOT VALID: rows from before are left as they were).
 *
 * Rows from before this migration have no xid: they are judged by their recorded time, as before, and a dataset built
 * before it (no snapshot) is judged by its snapshot time.
 */
/** Trigger body shared by users and content_items: a deletion is known from now, effective no later than now. */
const STAMP_DELETION = `IF TG_OP = 'INSERT' OR NEW.deleted_at IS DISTINCT FROM OLD.deleted_at THEN
          NEW.deleted_at := least(NEW.deleted_at, now());
          NEW.deletion_xid := CASE WHEN NEW.deleted_at IS NULL THEN NULL ELSE pg_current_xact_id() END;
          NEW.deletion_recorded_at := CASE WHEN NEW.deleted_at IS NULL THEN NULL ELSE now() END;
        END IF;`;

export class KnowledgeBySnapshot1764460000005 implements MigrationInterface {
  name = 'KnowledgeBySnapshot1764460000005';

  async up(q: QueryRunner): Promise<void> {
    // A volatile default added together with the column would stamp old rows with this migration's xid: add, then set.
    const xidColumn = async (table: string, column: string, stampByDefault: boolean) => {
      await q.query(`ALTER TABLE ${table} ADD COLUMN ${column} xid8`);
      if (stampByDefault) await q.query(`ALTER TABLE ${table} ALTER COLUMN ${column} SET DEFAULT pg_current_xact_id()`);
    };
    await xidColumn('consent_events', 'recorded_xid', true);
    await xidColumn('visibility_changes', 'recorded_xid', true);
    await xidColumn('content_items', 'ingest_xid', true);
    await xidColumn('content_items', 'labels_xid', true);
    await xidColumn('content_items', 'deletion_xid', false);
    await xidColumn('users', 'attributes_xid', true);
    await xidColumn('users', 'erasure_xid', false);
    await xidColumn('users', 'deletion_xid', false);
    // Old rows' current values count as known since always (what the rules assumed until now).
    await q.query(`ALTER TABLE content_items ADD COLUMN labels_recorded_at timestamptz NOT NULL DEFAULT '-infinity'`);
    await q.query(`ALTER TABLE content_items ALTER COLUMN labels_recorded_at SET DEFAULT now()`);
    await q.query(`ALTER TABLE users ADD COLUMN attributes_recorded_at timestamptz NOT NULL DEFAULT '-infinity'`);
    await q.query(`ALTER TABLE users ALTER COLUMN attributes_recorded_at SET DEFAULT now()`);
    await q.query(`ALTER TABLE users ADD COLUMN deletion_recorded_at timestamptz`);
    await q.query(`UPDATE users SET deletion_recorded_at = deleted_at WHERE deleted_at IS NOT NULL`);
    await q.query(`ALTER TABLE users ADD CONSTRAINT users_deletion_recorded CHECK ((deleted_at IS NULL) = (deletion_recorded_at IS NULL))`);
    await q.query(`ALTER TABLE datasets ADD COLUMN knowledge_snapshot pg_snapshot`);

    await q.query(
      `ALTER TABLE visibility_changes ADD CONSTRAINT visibility_changes_not_future CHECK (changed_at <= recorded_at) NOT VALID`,
    );
    await q.query(
      `ALTER TABLE content_items ADD CONSTRAINT content_items_deletion_not_future CHECK (deleted_at <= deletion_recorded_at) NOT VALID`,
    );
    await q.query(`ALTER TABLE users ADD CONSTRAINT users_deletion_not_future CHECK (deleted_at <= deletion_recorded_at) NOT VALID`);

    await q.query(`
      CREATE FUNCTION stamp_user_knowledge() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'INSERT' OR NEW.erased_at IS DISTINCT FROM OLD.erased_at THEN
          NEW.erasure_xid := CASE WHEN NEW.erased_at IS NULL THEN NULL ELSE pg_current_xact_id() END;
        END IF;
        ${STAMP_DELETION}
        -- An erasure removes the birth date; that is the erasure's fact, not a correction.
        IF TG_OP = 'UPDATE' AND NEW.erased_at IS NULL
           AND (NEW.birth_date IS DISTINCT FROM OLD.birth_date OR NEW.country IS DISTINCT FROM OLD.country) THEN
          NEW.attributes_xid := pg_current_xact_id();
          NEW.attributes_recorded_at := now();
        END IF;
        RETURN NEW;
      END $$`);
    await q.query(`CREATE TRIGGER users_knowledge_insert BEFORE INSERT ON users FOR EACH ROW
      WHEN (NEW.erased_at IS NOT NULL OR NEW.deleted_at IS NOT NULL) EXECUTE FUNCTION stamp_user_knowledge()`);
    await q.query(`CREATE TRIGGER users_knowledge_update BEFORE UPDATE ON users FOR EACH ROW
      WHEN (NEW.erased_at IS DISTINCT FROM OLD.erased_at OR NEW.deleted_at IS DISTINCT FROM OLD.deleted_at
            OR NEW.birth_date IS DISTINCT FROM OLD.birth_date OR NEW.country IS DISTINCT FROM OLD.country)
      EXECUTE FUNCTION stamp_user_knowledge()`);
    await q.query(`
      CREATE FUNCTION stamp_content_knowledge() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        ${STAMP_DELETION}
        IF TG_OP = 'UPDATE' AND NEW.labels IS DISTINCT FROM OLD.labels THEN
          NEW.labels_xid := pg_current_xact_id();
          NEW.labels_recorded_at := now();
        END IF;
        RETURN NEW;
      END $$`);
    await q.query(`CREATE TRIGGER content_items_knowledge_insert BEFORE INSERT ON content_items FOR EACH ROW
      WHEN (NEW.deleted_at IS NOT NULL) EXECUTE FUNCTION stamp_content_knowledge()`);
    await q.query(`CREATE TRIGGER content_items_knowledge_update BEFORE UPDATE ON content_items FOR EACH ROW
      WHEN (NEW.deleted_at IS DISTINCT FROM OLD.deleted_at OR NEW.labels IS DISTINCT FROM OLD.labels)
      EXECUTE FUNCTION stamp_content_knowledge()`);

    // The versions that corrections replaced, keyed like their owners (content history is co-located by author).
    await q.query(`
      CREATE TABLE user_attribute_history (
        id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        user_id        uuid NOT NULL REFERENCES users(id),
        birth_date     date,
        country        char(2) NOT NULL,
        recorded_at    timestamptz NOT NULL,
        recorded_xid   xid8,
        superseded_at  timestamptz NOT NULL DEFAULT now(),
        superseded_xid xid8 NOT NULL DEFAULT pg_current_xact_id()
      )`);
    await q.query(`CREATE INDEX user_attribute_history_user_idx ON user_attribute_history (user_id, id DESC)`);
    await q.query(`CREATE INDEX user_attribute_history_superseded_idx ON user_attribute_history (superseded_xid)`);
    await q.query(`
      CREATE TABLE content_label_history (
        id             bigint GENERATED ALWAYS AS IDENTITY,
        item_id        uuid NOT NULL,
        author_id      uuid NOT NULL,
        labels         text[] NOT NULL,
        recorded_at    timestamptz NOT NULL,
        recorded_xid   xid8,
        superseded_at  timestamptz NOT NULL DEFAULT now(),
        superseded_xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
        PRIMARY KEY (id, author_id),
        FOREIGN KEY (item_id, author_id) REFERENCES content_items (id, author_id)
      )`);
    await q.query(`CREATE INDEX content_label_history_item_idx ON content_label_history (item_id, author_id, id DESC)`);
    await q.query(`CREATE INDEX content_label_history_superseded_idx ON content_label_history (superseded_xid)`);

    // "Which facts did this snapshot not know?": taint reads these ranges (xid at or above the snapshot's xmin).
    await q.query(`CREATE INDEX consent_events_recorded_xid_idx ON consent_events (recorded_xid)`);
    await q.query(`CREATE INDEX visibility_changes_recorded_xid_idx ON visibility_changes (recorded_xid)`);
    await q.query(`CREATE INDEX content_items_deletion_xid_idx ON content_items (deletion_xid) WHERE deletion_xid IS NOT NULL`);
    await q.query(`CREATE INDEX users_erasure_xid_idx ON users (erasure_xid) WHERE erasure_xid IS NOT NULL`);
    await q.query(`CREATE INDEX users_deletion_xid_idx ON users (deletion_xid) WHERE deletion_xid IS NOT NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE content_label_history`);
    await q.query(`DROP TABLE user_attribute_history`);
    await q.query(`DROP TRIGGER content_items_knowledge_insert ON content_items`);
    await q.query(`DROP TRIGGER content_items_knowledge_update ON content_items`);
    await q.query(`DROP FUNCTION stamp_content_knowledge()`);
    await q.query(`DROP TRIGGER users_knowledge_insert ON users`);
    await q.query(`DROP TRIGGER users_knowledge_update ON users`);
    await q.query(`DROP FUNCTION stamp_user_knowledge()`);
    await q.query(`ALTER TABLE users DROP CONSTRAINT users_deletion_not_future, DROP CONSTRAINT users_deletion_recorded`);
    await q.query(`ALTER TABLE content_items DROP CONSTRAINT content_items_deletion_not_future`);
    await q.query(`ALTER TABLE visibility_changes DROP CONSTRAINT visibility_changes_not_future`);
    await q.query(`ALTER TABLE datasets DROP COLUMN knowledge_snapshot`);
    await q.query(`ALTER TABLE users DROP COLUMN attributes_xid, DROP COLUMN erasure_xid, DROP COLUMN deletion_xid,
      DROP COLUMN attributes_recorded_at, DROP COLUMN deletion_recorded_at`);
    await q.query(
      `ALTER TABLE content_items DROP COLUMN ingest_xid, DROP COLUMN labels_xid, DROP COLUMN deletion_xid, DROP COLUMN labels_recorded_at`,
    );
    await q.query(`ALTER TABLE visibility_changes DROP COLUMN recorded_xid`);
    await q.query(`ALTER TABLE consent_events DROP COLUMN recorded_xid`);
  }
}
