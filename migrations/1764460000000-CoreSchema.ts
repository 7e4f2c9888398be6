import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Users, content, visibility history, the consent ledger, policies and the audit log (DESIGN.md §2).
 * Enumerations are CHECK constraints so that bad rows are refused by the database itself, whoever writes them.
 */
export class CoreSchema1764460000000 implements MigrationInterface {
  name = 'CoreSchema1764460000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE users (
        id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        external_id   text NOT NULL UNIQUE CHECK (length(external_id) BETWEEN 1 AND 200),
        handle        text CHECK (length(handle) <= 200),
        email         text CHECK (length(email) <= 320),
        birth_date    date CHECK (birth_date >= DATE '1880-01-01'),
        country       char(2) NOT NULL CHECK (country ~ '^[A-Z]{2}$'),
        erased_at     timestamptz,
        erased_by     text,
        erasure_reason text,
        deleted_at    timestamptz,
        created_at    timestamptz NOT NULL DEFAULT now(),
        updated_at    timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE content_items (
        id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        external_id   text NOT NULL UNIQUE CHECK (length(external_id) BETWEEN 1 AND 200),
        author_id     uuid NOT NULL REFERENCES users(id),
        platform      text NOT NULL CHECK (platform IN ('FACEBOOK','INSTAGRAM','AI_ASSISTANT')),
        kind          text NOT NULL CHECK (kind IN ('POST','COMMENT','PHOTO_CAPTION','REEL_CAPTION','REVIEW','AI_PROMPT','PRIVATE_MESSAGE')),
        text          text CHECK (length(text) <= 65536),
        language      text NOT NULL CHECK (language ~ '^[a-z]{2,3}$'),
        content_hash  text NOT NULL CHECK (content_hash ~ '^[0-9a-f]{64}$'),
        created_at    timestamptz NOT NULL,
        labels        text[] NOT NULL DEFAULT '{}',
        deleted_at    timestamptz,
        deletion_recorded_at timestamptz,
        ingested_at   timestamptz NOT NULL DEFAULT now(),
        updated_at    timestamptz NOT NULL DEFAULT now(),
        CHECK ((deleted_at IS NULL) = (deletion_recorded_at IS NULL))
      )`);
    await q.query(`CREATE INDEX content_items_author_idx ON content_items (author_id)`);
    await q.query(`
      CREATE TABLE visibility_changes (
        id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        item_id      uuid NOT NULL REFERENCES content_items(id),
        visibility   text NOT NULL CHECK (visibility IN ('PUBLIC','FRIENDS','ONLY_ME')),
        changed_at   timestamptz NOT NULL,
        recorded_at  timestamptz NOT NULL DEFAULT now()
      )`);
    // The explain and bulk paths both look up "latest change at or before T" per item.
    await q.query(
      `CREATE INDEX visibility_changes_item_time_idx ON visibility_changes (item_id, changed_at DESC, id DESC) INCLUDE (visibility, recorded_at)`,
    );
    await q.query(`
      CREATE TABLE consent_events (
        id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        user_id         uuid NOT NULL REFERENCES users(id),
        type            text NOT NULL CHECK (type IN ('OBJECTION','OBJECTION_WITHDRAWN')),
        scope           text NOT NULL CHECK (scope IN ('ALL_AI_TRAINING','PUBLIC_CONTENT','AI_INTERACTIONS')),
        effective_at    timestamptz NOT NULL,
        recorded_at     timestamptz NOT NULL DEFAULT now(),
        channel         text NOT NULL CHECK (channel IN ('OBJECTION_FORM','SETTINGS','PRIVACY_STAFF','BULK_IMPORT','REGULATOR')),
        actor           text NOT NULL,
        reason          text CHECK (length(reason) <= 2000),
        idempotency_key text UNIQUE CHECK (length(idempotency_key) BETWEEN 1 AND 200),
        request_digest  text,
        CHECK (effective_at <= recorded_at)
      )`);
    await q.query(
      `CREATE INDEX consent_events_user_scope_idx ON consent_events (user_id, scope, effective_at DESC, recorded_at DESC, id DESC)`,
    );
    await q.query(`
      CREATE TABLE policies (
        id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        key             text NOT NULL CHECK (key ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
        version         integer NOT NULL CHECK (version >= 1),
        purpose         text NOT NULL CHECK (purpose IN ('AI_MODEL_TRAINING')),
        legal_basis     text NOT NULL CHECK (length(legal_basis) BETWEEN 1 AND 500),
        description     text,
        minimum_age     integer NOT NULL CHECK (minimum_age BETWEEN 0 AND 120),
        regions         text[] NOT NULL,
        platforms       text[] NOT NULL CHECK (platforms <@ ARRAY['FACEBOOK','INSTAGRAM','AI_ASSISTANT']),
        kinds           text[] NOT NULL CHECK (kinds <@ ARRAY['POST','COMMENT','PHOTO_CAPTION','REEL_CAPTION','REVIEW','AI_PROMPT','PRIVATE_MESSAGE']),
        window_start    timestamptz,
        window_end      timestamptz,
        excluded_labels text[] NOT NULL DEFAULT '{}',
        mode            text NOT NULL CHECK (mode IN ('ENFORCE','DRY_RUN')),
        created_at      timestamptz NOT NULL DEFAULT now(),
        created_by      text NOT NULL,
        UNIQUE (key, version),
        CHECK (window_start IS NULL OR window_end IS NULL OR window_start < window_end)
      )`);
    await q.query(`
      CREATE TABLE audit_events (
        id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        occurred_at   timestamptz NOT NULL,
        actor_subject text NOT NULL,
        actor_roles   text[] NOT NULL,
        operation     text NOT NULL,
        target_ids    text[] NOT NULL,
        input         jsonb NOT NULL,
        request_id    text NOT NULL,
        prev_hash     text NOT NULL,
        hash          text NOT NULL UNIQUE
      )`);
    await q.query(`CREATE INDEX audit_events_operation_idx ON audit_events (operation, id)`);
    // Ledger, audit log and published policies are append-only: a correction is a new row.
    await q.query(`
      CREATE FUNCTION reject_modification() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP USING ERRCODE = 'insufficient_privilege';
      END $$`);
    for (const table of ['consent_events', 'audit_events', 'policies']) {
      await q.query(
        `CREATE TRIGGER ${table}_append_only BEFORE UPDATE OR DELETE ON ${table} FOR EACH ROW EXECUTE FUNCTION reject_modification()`,
      );
      await q.query(
        `CREATE TRIGGER ${table}_no_truncate BEFORE TRUNCATE ON ${table} FOR EACH STATEMENT EXECUTE FUNCTION reject_modification()`,
      );
    }
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE audit_events`);
    await q.query(`DROP TABLE policies`);
    await q.query(`DROP TABLE consent_events`);
    await q.query(`DROP TABLE visibility_changes`);
    await q.query(`DROP TABLE content_items`);
    await q.query(`DROP TABLE users`);
    await q.query(`DROP FUNCTION reject_modification()`);
  }
}
