import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * "What changed since instant X" indexes. A dataset's taint can only come from facts recorded after its snapshot
 * (nothing takes effect in the future), so taint is computed from these few changes instead of re-evaluating every
 * member.
 */
export class ChangeIndexes1764460000003 implements MigrationInterface {
  name = 'ChangeIndexes1764460000003';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX consent_events_recorded_idx ON consent_events (recorded_at)`);
    await q.query(`CREATE INDEX users_updated_idx ON users (updated_at)`);
    await q.query(`CREATE INDEX content_items_updated_idx ON content_items (updated_at)`);
    await q.query(
      `CREATE INDEX content_items_deletion_recorded_idx ON content_items (deletion_recorded_at) WHERE deletion_recorded_at IS NOT NULL`,
    );
    await q.query(`CREATE INDEX visibility_changes_recorded_idx ON visibility_changes (recorded_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const index of [
      'consent_events_recorded_idx',
      'users_updated_idx',
      'content_items_updated_idx',
      'content_items_deletion_recorded_idx',
      'visibility_changes_recorded_idx',
    ]) {
      await q.query(`DROP INDEX ${index}`);
    }
  }
}
