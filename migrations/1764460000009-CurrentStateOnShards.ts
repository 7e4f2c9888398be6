import { MigrationInterface, QueryRunner } from 'typeorm';
import { OBJECTION_COLUMNS, objectedNow, visibilityNow } from './1764460000008-CurrentState';

/**
 * PL/pgSQL: set `variable` (regclass) to the table `target` as seen from the table the trigger fired on.
 *
 * On one PostgreSQL that is `target` itself. On Citus a trigger fires on a shard (`consent_events_102008`) on the node
 * that holds it, where the logical tables are distributed tables again: a statement on them from inside the trigger
 * would be planned as a distributed query (and Citus refuses row locks there). So the trigger works on the shard of
 * `target` that holds the same hash range, which Citus keeps on the same node: co-located shards of a distributed
 * table, or this node's placement of a reference table (both ranges NULL).
 */
const shardBeside = (variable: string, target: string) => `
        ${variable} := '${target}'::regclass;
        IF TG_TABLE_NAME <> TG_ARGV[0] AND to_regclass('pg_catalog.pg_dist_shard') IS NOT NULL THEN
          EXECUTE $q$SELECT format('%I.%I', $1, t.logicalrelid::regclass::text || '_' || t.shardid)::regclass
            FROM pg_dist_shard s JOIN pg_dist_shard t ON t.logicalrelid = $2 AND t.shardminvalue IS NOT DISTINCT FROM s.shardminvalue
            WHERE s.shardid = substring($3 from '_([0-9]+)$')::bigint$q$
            INTO ${variable} USING TG_TABLE_SCHEMA, '${target}'::regclass, TG_TABLE_NAME;
        END IF;`;

/**
 * The two refresh functions, shard-aware, locking the rows they refresh with `lock` (migration RefreshLocksNoKey
 * explains which).
 */
export function refreshFunctionsSql(lock: 'FOR UPDATE' | 'FOR NO KEY UPDATE'): string[] {
  const objections = Object.entries(OBJECTION_COLUMNS)
    .map(([scope, col]) => `${col} = ${objectedNow('u.id', scope, '%2$s')}`)
    .join(',\n            ');
  return [
    `
      CREATE OR REPLACE FUNCTION refresh_objections() RETURNS trigger LANGUAGE plpgsql AS $$
      DECLARE people regclass;
      BEGIN
        ${shardBeside('people', 'users')}
        EXECUTE format($q$SELECT count(*) FROM (SELECT 1 FROM %s WHERE id IN (SELECT user_id FROM new_events) ORDER BY id ${lock}) l$q$, people);
        EXECUTE format($q$UPDATE %1$s u SET
            ${objections}
          WHERE u.id IN (SELECT user_id FROM new_events)$q$, people, TG_RELID::regclass);
        RETURN NULL;
      END $$`,
    `
      CREATE OR REPLACE FUNCTION refresh_visibility() RETURNS trigger LANGUAGE plpgsql AS $$
      DECLARE items regclass;
      BEGIN
        ${shardBeside('items', 'content_items')}
        EXECUTE format($q$SELECT count(*) FROM (SELECT 1 FROM %s WHERE (id, author_id) IN (SELECT item_id, author_id FROM new_changes) ORDER BY id ${lock}) l$q$, items);
        EXECUTE format($q$UPDATE %1$s c SET visibility_now = l.visibility
          FROM (SELECT DISTINCT item_id, author_id FROM new_changes) t
          CROSS JOIN LATERAL (SELECT ${visibilityNow('t.item_id', 't.author_id', '%2$s')} AS visibility) l
          WHERE c.id = t.item_id AND c.author_id = t.author_id AND c.visibility_now IS DISTINCT FROM l.visibility$q$, items, TG_RELID::regclass);
        RETURN NULL;
      END $$`,
  ];
}

/**
 * The current-state triggers of migration CurrentState, made to work where the ledger and the visibility history are
 * Citus tables (deploy/citus/distribute.sql): same rule, same locks, but addressed to the tables beside the one the
 * trigger fired on (see `shardBeside`). On one PostgreSQL nothing changes but that the statements are dynamic.
 *
 * Each trigger names its own logical table as its argument, which is how it tells a shard from the table itself.
 */
export class CurrentStateOnShards1764460000009 implements MigrationInterface {
  name = 'CurrentStateOnShards1764460000009';

  async up(q: QueryRunner): Promise<void> {
    for (const sql of refreshFunctionsSql('FOR UPDATE')) await q.query(sql);
    await this.triggers(q, true);
  }

  async down(q: QueryRunner): Promise<void> {
    await this.triggers(q, false);
    // The functions of migration CurrentState come back with its own `up` if needed; their shard-aware versions also
    // work on one PostgreSQL, so they stay.
  }

  /** Re-creates the two triggers, with their own table's name as argument (`named`) or without. */
  private async triggers(q: QueryRunner, named: boolean): Promise<void> {
    await q.query(`DROP TRIGGER consent_events_refresh_objections ON consent_events`);
    await q.query(`CREATE TRIGGER consent_events_refresh_objections AFTER INSERT ON consent_events
      REFERENCING NEW TABLE AS new_events FOR EACH STATEMENT EXECUTE FUNCTION refresh_objections(${named ? `'consent_events'` : ''})`);
    await q.query(`DROP TRIGGER visibility_changes_refresh_visibility ON visibility_changes`);
    await q.query(`CREATE TRIGGER visibility_changes_refresh_visibility AFTER INSERT ON visibility_changes
      REFERENCING NEW TABLE AS new_changes FOR EACH STATEMENT EXECUTE FUNCTION refresh_visibility(${named ? `'visibility_changes'` : ''})`);
  }
}
