import { MigrationInterface, QueryRunner } from 'typeorm';
import { appendEvent } from '../src/modules/audit/audit.service';
import { ledgerBinding, ledgerIdRanges } from '../src/modules/audit/ledger-binding';

/**
 * Tamper evidence that survives a database superuser (README "Audit checkpoints"):
 * - audit_events.hash_version: 1 for the events written so far (hash over occurred_at in milliseconds, verified as
 *   before), 2 from now on (occurred_at at full microsecond precision, and the ledger rows the event wrote);
 * - audit_events.ledger: the consent-ledger rows an event wrote (id ranges, count, SHA-256 of their content);
 * - audit_checkpoints: Ed25519-signed checkpoints of the chain (also kept in a file outside the database);
 * - every append-only table refuses TRUNCATE (training_run_reviews and lineage_edges did not).
 * Ledger rows written before this migration are bound by one `auditUpgrade` event, so that a row added later behind
 * the service's back is told apart from them.
 */
export class AuditAnchors1764460000006 implements MigrationInterface {
  name = 'AuditAnchors1764460000006';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE audit_events ADD COLUMN hash_version smallint NOT NULL DEFAULT 1 CHECK (hash_version IN (1, 2))`);
    await q.query(`ALTER TABLE audit_events ALTER COLUMN hash_version SET DEFAULT 2`);
    await q.query(`ALTER TABLE audit_events ADD COLUMN ledger jsonb`);
    await q.query(`
      CREATE TABLE audit_checkpoints (
        id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        last_event_id bigint NOT NULL,
        last_hash     text NOT NULL CHECK (last_hash ~ '^[0-9a-f]{64}$'),
        event_count   bigint NOT NULL CHECK (event_count >= 1),
        signed_at     timestamptz NOT NULL,
        key_id        text NOT NULL,
        signature     text NOT NULL UNIQUE
      )`);
    await q.query(
      `CREATE TRIGGER audit_checkpoints_append_only BEFORE UPDATE OR DELETE ON audit_checkpoints FOR EACH ROW EXECUTE FUNCTION reject_modification()`,
    );
    for (const table of ['audit_checkpoints', 'training_run_reviews', 'lineage_edges']) {
      await q.query(
        `CREATE TRIGGER ${table}_no_truncate BEFORE TRUNCATE ON ${table} FOR EACH STATEMENT EXECUTE FUNCTION reject_modification()`,
      );
    }
    const ids: { id: string }[] = await q.query(`SELECT id::text AS id FROM consent_events ORDER BY id`);
    if (ids.length) {
      const ledger = await ledgerBinding(q.manager, ledgerIdRanges(ids.map((r) => r.id)));
      await appendEvent(
        q.manager,
        { subject: 'migration', roles: [], requestId: this.name },
        'auditUpgrade',
        { reason: 'ledger rows that predate ledger binding' },
        [],
        ledger,
      );
    }
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of ['training_run_reviews', 'lineage_edges']) await q.query(`DROP TRIGGER ${table}_no_truncate ON ${table}`);
    await q.query(`DROP TABLE audit_checkpoints`);
    // Events hashed with version 2 cannot be verified by the code before this migration: refuse rather than break.
    const [{ n }] = await q.query(`SELECT count(*)::int AS n FROM audit_events WHERE hash_version = 2`);
    if (n > 0) throw new Error(`${n} audit events use hash version 2; reverting would make the chain unverifiable`);
    await q.query(`ALTER TABLE audit_events DROP COLUMN ledger`);
    await q.query(`ALTER TABLE audit_events DROP COLUMN hash_version`);
  }
}
