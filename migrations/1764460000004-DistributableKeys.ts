import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Keys that let a distributed PostgreSQL (Citus) shard the large tables by author without a redesign
 * (DESIGN.md §6, deploy/citus/distribute.sql):
 * - every unique key of content_items, visibility_changes and the dataset_members partitions includes author_id;
 * - visibility_changes carries its item's author, and its foreign key is (item_id, author_id), so that an item and its
 *   history always live on the same shard.
 * On a single server nothing changes for readers: (id, author_id) still serves lookups by id, and
 * (external_id, author_id) lookups by external id. The service keeps an external id to one author (content ingest
 * refuses to move an item), which the database can no longer enforce alone once the key includes the author.
 */
export class DistributableKeys1764460000004 implements MigrationInterface {
  name = 'DistributableKeys1764460000004';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE visibility_changes ADD COLUMN author_id uuid`);
    await q.query(`UPDATE visibility_changes v SET author_id = c.author_id FROM content_items c WHERE c.id = v.item_id`);
    await q.query(`ALTER TABLE visibility_changes ALTER COLUMN author_id SET NOT NULL`);
    await q.query(`ALTER TABLE visibility_changes DROP CONSTRAINT visibility_changes_item_id_fkey`);
    await q.query(
      `ALTER TABLE content_items DROP CONSTRAINT content_items_pkey, ADD CONSTRAINT content_items_pkey PRIMARY KEY (id, author_id)`,
    );
    await q.query(`ALTER TABLE content_items DROP CONSTRAINT content_items_external_id_key,
                     ADD CONSTRAINT content_items_external_id_key UNIQUE (external_id, author_id)`);
    await q.query(
      `ALTER TABLE visibility_changes DROP CONSTRAINT visibility_changes_pkey, ADD CONSTRAINT visibility_changes_pkey PRIMARY KEY (id, author_id)`,
    );
    await q.query(`ALTER TABLE visibility_changes ADD CONSTRAINT visibility_changes_item_id_fkey
                     FOREIGN KEY (item_id, author_id) REFERENCES content_items (id, author_id)`);
    await q.query(`DROP INDEX visibility_changes_item_time_idx`);
    await q.query(
      `CREATE INDEX visibility_changes_item_time_idx ON visibility_changes (item_id, changed_at DESC, id DESC) INCLUDE (visibility, recorded_at, author_id)`,
    );
    await this.rekeyMemberPartitions(q, '(item_id, author_id)');
  }

  async down(q: QueryRunner): Promise<void> {
    await this.rekeyMemberPartitions(q, '(item_id)');
    await q.query(`DROP INDEX visibility_changes_item_time_idx`);
    await q.query(
      `CREATE INDEX visibility_changes_item_time_idx ON visibility_changes (item_id, changed_at DESC, id DESC) INCLUDE (visibility, recorded_at)`,
    );
    await q.query(`ALTER TABLE visibility_changes DROP CONSTRAINT visibility_changes_item_id_fkey`);
    await q.query(
      `ALTER TABLE visibility_changes DROP CONSTRAINT visibility_changes_pkey, ADD CONSTRAINT visibility_changes_pkey PRIMARY KEY (id)`,
    );
    await q.query(
      `ALTER TABLE content_items DROP CONSTRAINT content_items_external_id_key, ADD CONSTRAINT content_items_external_id_key UNIQUE (external_id)`,
    );
    await q.query(`ALTER TABLE content_items DROP CONSTRAINT content_items_pkey, ADD CONSTRAINT content_items_pkey PRIMARY KEY (id)`);
    await q.query(
      `ALTER TABLE visibility_changes ADD CONSTRAINT visibility_changes_item_id_fkey FOREIGN KEY (item_id) REFERENCES content_items (id)`,
    );
    await q.query(`ALTER TABLE visibility_changes DROP COLUMN author_id`);
  }

  /** Each dataset version's partition has its own primary key (added after its load); give every one the same key. */
  private async rekeyMemberPartitions(q: QueryRunner, key: string): Promise<void> {
    const parts: { part: string; pkey: string }[] = await q.query(
      `SELECT i.inhrelid::regclass::text AS part, k.conname AS pkey
       FROM pg_inherits i JOIN pg_constraint k ON k.conrelid = i.inhrelid AND k.contype = 'p'
       WHERE i.inhparent = 'dataset_members'::regclass`,
    );
    for (const { part, pkey } of parts) {
      await q.query(`ALTER TABLE ${part} DROP CONSTRAINT ${pkey}, ADD PRIMARY KEY ${key}`);
    }
  }
}
