import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Facts are stamped with `fact_xid()` instead of `pg_current_xact_id()`: the transaction id the session names in
 * `aidg.fact_xid`, else its own.
 *
 * On one PostgreSQL nothing changes: the service never sets `aidg.fact_xid`. On Citus a fact is written on the node
 * that holds its row, in that node's own transaction, whose id means nothing to the coordinator's snapshot that a build
 * records. There the service sets `aidg.fact_xid` to the coordinator's transaction id at the start of every writing
 * transaction, and Citus passes it to every node the transaction reaches (src/db/citus.ts factSession), so column
 * defaults and the knowledge triggers stamp the coordinator's id wherever they run, and "known to a build" is judged
 * in one order of commits: the coordinator's.
 *
 * Every column default and trigger function that stamps `pg_current_xact_id()` is rewritten from its own definition in
 * the catalog, so migration KnowledgeBySnapshot stays the one place that says what is stamped.
 */
export class FactXids1764460000011 implements MigrationInterface {
  name = 'FactXids1764460000011';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE FUNCTION fact_xid() RETURNS xid8 LANGUAGE sql VOLATILE AS
      $$ SELECT coalesce(nullif(current_setting('aidg.fact_xid', true), '')::xid8, pg_current_xact_id()) $$`);
    await this.replace(q, 'pg_current_xact_id()', 'fact_xid()');
  }

  async down(q: QueryRunner): Promise<void> {
    await this.replace(q, 'fact_xid()', 'pg_current_xact_id()');
    await q.query(`DROP FUNCTION fact_xid()`);
  }

  private async replace(q: QueryRunner, from: string, to: string): Promise<void> {
    // On Citus, DDL on reference tables may not follow parallel DDL on distributed ones in one transaction.
    await q.query(`SET LOCAL citus.multi_shard_modify_mode TO 'sequential'`);
    const defaults: { tbl: string; col: string }[] = await q.query(
      `SELECT c.relname AS tbl, a.attname AS col FROM pg_attrdef d
         JOIN pg_class c ON c.oid = d.adrelid JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
       WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p') AND NOT c.relispartition
         AND pg_get_expr(d.adbin, d.adrelid) = $1`,
      [from],
    );
    for (const { tbl, col } of defaults) await q.query(`ALTER TABLE ${tbl} ALTER COLUMN ${col} SET DEFAULT ${to}`);
    const functions: { def: string }[] = await q.query(
      `SELECT pg_get_functiondef(p.oid) AS def FROM pg_proc p
       WHERE p.pronamespace = 'public'::regnamespace AND p.prorettype = 'trigger'::regtype AND position($1 in p.prosrc) > 0`,
      [from],
    );
    for (const { def } of functions) await q.query(def.split(from).join(to));
  }
}
