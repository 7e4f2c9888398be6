import fs from 'node:fs';
import path from 'node:path';
import type { EntityManager } from 'typeorm';
import { LOCK_KEYS } from './locks';

/**
 * How the schema is laid out on a Citus cluster, read from the SQL that does it (deploy/citus/distribute.sql), and the
 * rules Citus imposes on that layout, checked against the live catalog. The SQL file is the one definition: the
 * docker-compose `citus` profile runs it, and `aidg db citus-check` and the test check the schema against it.
 */
export interface CitusPlan {
  /** Sharded tables: distribution column and the table they are co-located with (if any). */
  distributed: Map<string, { column: string; colocateWith?: string }>;
  /** Replicated to every node. */
  reference: Set<string>;
  /** Kept on the coordinator (Citus local tables). */
  local: Set<string>;
  /** Tables in the order the SQL converts them. */
  order: string[];
  /** The SQL sets citus.enable_unsafe_triggers, without which Citus refuses tables with triggers. */
  unsafeTriggers: boolean;
}

/** TypeORM's bookkeeping table: stays a plain coordinator table, outside the plan. */
const BOOKKEEPING = new Set(['schema_migrations']);

export function citusPlanPath(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'deploy', 'citus', 'distribute.sql');
    if (fs.existsSync(candidate)) return candidate;
    if (path.dirname(dir) === dir) throw new Error('deploy/citus/distribute.sql not found');
  }
}

/** Reads the plan from the conversion calls of the SQL (comments ignored). */
export function parseCitusPlan(sql: string): CitusPlan {
  const code = sql.replace(/--.*$/gm, '').replace(/\/\*[\s\S]*?\*\//g, '');
  const plan: CitusPlan = {
    distributed: new Map(),
    reference: new Set(),
    local: new Set(),
    order: [],
    unsafeTriggers: /\bSET\s+citus\.enable_unsafe_triggers\s*(=|TO)\s*on\b/i.test(code),
  };
  const call =
    /\b(create_distributed_table|create_reference_table|citus_add_local_table_to_metadata)\(\s*'(\w+)'(?:\s*,\s*'(\w+)')?(?:\s*,\s*colocate_with\s*=>\s*'(\w+)')?\s*\)/g;
  for (const [, fn, table, column, colocateWith] of code.matchAll(call)) {
    if (plan.order.includes(table)) throw new Error(`${table} is converted twice`);
    plan.order.push(table);
    if (fn === 'create_distributed_table') plan.distributed.set(table, { column, colocateWith });
    else if (fn === 'create_reference_table') plan.reference.add(table);
    else plan.local.add(table);
  }
  return plan;
}

type Kind = 'distributed' | 'reference' | 'local';

/** What the plan makes of a table; undefined when the plan does not name it. */
const plannedKind = (plan: CitusPlan, t: string): Kind | undefined =>
  plan.distributed.has(t) ? 'distributed' : plan.reference.has(t) ? 'reference' : plan.local.has(t) ? 'local' : undefined;

/**
 * Every way the schema in `schema` breaks the plan or Citus's rules, as sentences; empty when Citus can take it.
 * - every table is in the plan (a new table cannot slip past), and a table's foreign-key targets are converted first;
 * - the distribution column exists, is NOT NULL, and has one type across a co-location group;
 * - every primary key, unique constraint and unique index of a distributed table (and of each of its partitions)
 *   includes the distribution column;
 * - a foreign key between distributed tables joins co-located tables on their distribution columns; distributed tables
 *   may reference reference tables, nothing references a distributed table from outside, reference tables reference
 *   only reference tables, and local tables do not reference distributed ones;
 * - distributed and reference tables have user triggers only where the plan enables citus.enable_unsafe_triggers;
 *   distributed tables have only bigint identity columns.
 */
export async function citusViolations(manager: EntityManager, plan: CitusPlan, schema = 'public'): Promise<string[]> {
  const problems: string[] = [];
  const kindOf = (t: string) => plannedKind(plan, t);

  const tables: { name: string; partition_of: string | null }[] = await manager.query(
    `SELECT c.relname AS name, (SELECT p.relname FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent WHERE i.inhrelid = c.oid) AS partition_of
     FROM pg_class c WHERE c.relnamespace = $1::regnamespace AND c.relkind IN ('r', 'p') ORDER BY 1`,
    [schema],
  );
  const parentOf = new Map(tables.map((t) => [t.name, t.partition_of ?? t.name]));
  for (const t of tables) {
    if (t.partition_of || BOOKKEEPING.has(t.name)) continue;
    if (!kindOf(t.name)) problems.push(`${t.name}: not in the plan (distribute it, make it a reference table or keep it local)`);
  }
  for (const t of plan.order) if (!parentOf.has(t)) problems.push(`${t}: in the plan but not in the schema`);

  // Co-location groups: a table co-located with another joins that table's group.
  const groupOf = (t: string): string => {
    const seen = new Set<string>();
    let cur = t;
    while (plan.distributed.get(cur)?.colocateWith && !seen.has(cur)) {
      seen.add(cur);
      cur = plan.distributed.get(cur)!.colocateWith!;
    }
    return cur;
  };
  const columns: { table: string; column: string; type: string; not_null: boolean; identity: string }[] = await manager.query(
    `SELECT c.relname AS table, a.attname AS column, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS not_null, a.attidentity AS identity
     FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
     WHERE c.relnamespace = $1::regnamespace AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped`,
    [schema],
  );
  const column = (table: string, name: string) => columns.find((c) => c.table === table && c.column === name);
  const groupType = new Map<string, { type: string; table: string }>();
  for (const [table, d] of plan.distributed) {
    if (d.colocateWith && !plan.distributed.has(d.colocateWith))
      problems.push(`${table}: co-located with ${d.colocateWith}, which is not distributed`);
    const col = column(table, d.column);
    if (!col) {
      problems.push(`${table}: distribution column ${d.column} does not exist`);
      continue;
    }
    if (!col.not_null) problems.push(`${table}: distribution column ${d.column} may be NULL`);
    const group = groupOf(table);
    const seen = groupType.get(group);
    if (!seen) groupType.set(group, { type: col.type, table });
    else if (seen.type !== col.type)
      problems.push(
        `${table}: distribution column ${d.column} is ${col.type}, but co-located ${seen.table} is distributed by ${seen.type}`,
      );
    for (const c of columns.filter((x) => x.table === table && x.identity && x.type !== 'bigint')) {
      problems.push(
        `${table}: identity column ${c.column} is ${c.type}; Citus supports only bigint identity columns on distributed tables`,
      );
    }
  }

  // Unique constraints and unique indexes, on distributed tables and their partitions.
  const uniques: { table: string; name: string; columns: string[] }[] = await manager.query(
    `SELECT t.relname AS table, i.relname AS name, array_agg(a.attname ORDER BY a.attname)::text[] AS columns
     FROM pg_index x JOIN pg_class t ON t.oid = x.indrelid JOIN pg_class i ON i.oid = x.indexrelid
     LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = ANY((x.indkey::int2[])[0:x.indnkeyatts - 1])
     WHERE t.relnamespace = $1::regnamespace AND x.indisunique
     GROUP BY t.relname, i.relname`,
    [schema],
  );
  for (const u of uniques) {
    const owner = parentOf.get(u.table) ?? u.table;
    const d = plan.distributed.get(owner);
    if (d && !u.columns.includes(d.column)) {
      problems.push(`${u.table}: unique key ${u.name} (${u.columns.join(', ')}) does not include the distribution column ${d.column}`);
    }
  }

  const fks: { table: string; name: string; target: string; pairs: [string, string][] }[] = await manager.query(
    `SELECT t.relname AS table, k.conname AS name, f.relname AS target,
            (SELECT json_agg(json_build_array(a.attname, b.attname))
               FROM unnest(k.conkey, k.confkey) AS u(src, dst)
               JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.src
               JOIN pg_attribute b ON b.attrelid = k.confrelid AND b.attnum = u.dst) AS pairs
     FROM pg_constraint k JOIN pg_class t ON t.oid = k.conrelid JOIN pg_class f ON f.oid = k.confrelid
     WHERE k.contype = 'f' AND t.relnamespace = $1::regnamespace AND k.conparentid = 0`,
    [schema],
  );
  for (const fk of fks) {
    const from = parentOf.get(fk.table) ?? fk.table;
    const to = parentOf.get(fk.target) ?? fk.target;
    const [fromKind, toKind] = [kindOf(from), kindOf(to)];
    if (!fromKind || !toKind) continue;
    const what = `${from}: foreign key ${fk.name} to ${to}`;
    if (from !== to && plan.order.indexOf(to) > plan.order.indexOf(from)) problems.push(`${what}: ${to} must be converted before ${from}`);
    if (fromKind === 'distributed' && toKind === 'distributed') {
      if (groupOf(from) !== groupOf(to)) problems.push(`${what}: the tables are not co-located`);
      const [dFrom, dTo] = [plan.distributed.get(from)!.column, plan.distributed.get(to)!.column];
      if (!fk.pairs.some(([a, b]) => a === dFrom && b === dTo)) {
        problems.push(`${what}: does not join the distribution columns (${from}.${dFrom} = ${to}.${dTo})`);
      }
    } else if (toKind === 'distributed') {
      problems.push(`${what}: a ${fromKind} table cannot reference a distributed table`);
    } else if (fromKind === 'distributed' && toKind === 'local') {
      problems.push(`${what}: a distributed table can reference only co-located distributed tables and reference tables`);
    }
  }

  const triggers: { table: string; name: string }[] = await manager.query(
    `SELECT c.relname AS table, g.tgname AS name FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid
     WHERE c.relnamespace = $1::regnamespace AND NOT g.tgisinternal`,
    [schema],
  );
  for (const g of triggers) {
    const kind = kindOf(parentOf.get(g.table) ?? g.table);
    if ((kind === 'distributed' || kind === 'reference') && !plan.unsafeTriggers) {
      problems.push(`${g.table}: trigger ${g.name} on a ${kind} table needs citus.enable_unsafe_triggers`);
    }
  }
  return problems;
}

/**
 * On a Citus coordinator: how the tables actually are (Citus's pg_dist_partition) against the plan, as sentences.
 * `null` when the database has no Citus metadata (a plain PostgreSQL server or the embedded database).
 */
export async function citusLayoutViolations(manager: EntityManager, plan: CitusPlan): Promise<string[] | null> {
  const [{ citus }] = await manager.query(`SELECT to_regclass('pg_dist_partition') IS NOT NULL AS citus`);
  if (!citus) return null;
  const rows: { table: string; kind: string; column: string | null; colocation: number }[] = await manager.query(
    `SELECT p.logicalrelid::regclass::text AS table,
            CASE WHEN p.partmethod = 'h' THEN 'distributed' WHEN p.repmodel = 't' THEN 'reference' ELSE 'local' END AS kind,
            a.attname AS column, p.colocationid AS colocation
     FROM pg_dist_partition p
     LEFT JOIN pg_attribute a ON a.attrelid = p.logicalrelid AND a.attnum = substring(p.partkey FROM ':varattno ([0-9]+)')::int`,
  );
  const actual = new Map(rows.map((r) => [r.table, r]));
  const problems: string[] = [];
  for (const table of plan.order) {
    const want = plannedKind(plan, table);
    const got = actual.get(table);
    if (!got) {
      problems.push(`${table}: planned ${want}, but Citus does not manage it`);
      continue;
    }
    if (got.kind !== want) problems.push(`${table}: planned ${want}, but it is ${got.kind}`);
    const d = plan.distributed.get(table);
    if (d && got.kind === 'distributed') {
      if (got.column !== d.column) problems.push(`${table}: planned distribution by ${d.column}, but it is distributed by ${got.column}`);
      const with_ = d.colocateWith && actual.get(d.colocateWith);
      if (with_ && with_.colocation !== got.colocation) problems.push(`${table}: planned co-located with ${d.colocateWith}, but it is not`);
    }
  }
  return problems;
}

const distributedCache = new WeakMap<object, Promise<Set<string>>>();

/**
 * The tables that are distributed (hash-sharded) in the database `manager` reaches: empty on one PostgreSQL or the
 * embedded one. Read once per data source: the layout is set up before the service starts (deploy/citus/setup.sh).
 */
export function distributedTables(manager: EntityManager): Promise<Set<string>> {
  let tables = distributedCache.get(manager.connection);
  if (!tables) {
    tables = (async () => {
      const [{ citus }] = await manager.query(`SELECT to_regclass('pg_catalog.pg_dist_partition') IS NOT NULL AS citus`);
      if (!citus) return new Set<string>();
      const rows: { t: string }[] = await manager.query(
        `SELECT logicalrelid::regclass::text AS t FROM pg_dist_partition WHERE partmethod = 'h'`,
      );
      return new Set(rows.map((r) => r.t));
    })();
    tables.catch(() => distributedCache.delete(manager.connection));
    distributedCache.set(manager.connection, tables);
  }
  return tables;
}

/**
 * The tables whose rows are facts stamped with the writing transaction (`fact_xid()`: column defaults and the knowledge
 * triggers, migrations KnowledgeBySnapshot and FactXids). A build judges "known to it" by those stamps, so a write to
 * them must happen in a fact session (factSession, which runAudited opens for every mutation and bulk command).
 */
export const FACT_TABLES = [
  'users',
  'user_attribute_history',
  'content_items',
  'content_label_history',
  'visibility_changes',
  'consent_events',
] as const;

/** The transactions (their entity managers) that opened a fact session able to write facts. */
const factWriters = new WeakSet<EntityManager>();

/**
 * Called by every store function that writes a table of FACT_TABLES, before it writes: refuses a write outside a fact
 * session, on every database kind (on one PostgreSQL the stamps would be right anyway; on Citus they would not, and a
 * build could miss a committed objection). test/system/architecture.test.ts checks that every such function calls it.
 */
export function assertFactSession(manager: EntityManager): void {
  if (!factWriters.has(manager))
    throw new Error(
      'a fact table is written outside a fact session (runAudited, or factSession for the seed): the knowledge ordering would not hold',
    );
}

/**
 * On Citus, at the start of a mutation's transaction: names the coordinator's transaction id as the one every node
 * stamps facts with (`fact_xid()`, migration FactXids), and has Citus pass that setting, with every later `SET LOCAL`
 * of the transaction (statement timeouts too), to each node the transaction reaches. Builds record the coordinator's
 * snapshot, so "known to a build" compares ids of one sequence.
 *
 * A transaction that may write facts (`writesFacts`) also holds the facts lock shared until it ends, which on Citus is
 * after its commit has reached every worker (the coordinator releases its locks after the two-phase commit's last
 * step). See `withFactsSettled`. Nothing happens on one PostgreSQL.
 */
export async function factSession(manager: EntityManager, writesFacts = true): Promise<void> {
  if (writesFacts) factWriters.add(manager);
  if (!(await distributedTables(manager)).size) return;
  const [{ xid }] = await manager.query(`SELECT pg_current_xact_id()::text AS xid`);
  // One round trip for the rest (the simple protocol runs several statements); `SET LOCAL`, not set_config(), because
  // Citus propagates only the command.
  await manager.query(
    `SET LOCAL citus.propagate_set_commands = 'local'; SET LOCAL aidg.fact_xid = '${BigInt(xid)}'` +
      (writesFacts ? `; SELECT pg_advisory_xact_lock_shared(${LOCK_KEYS.FACTS})` : ''),
  );
}

/**
 * On Citus, runs `evaluate` (a build's knowledge snapshot and the statement that reads the facts) with no fact writer
 * in flight: it waits until every writer that holds the facts lock has committed on every node, and holds new writers
 * back until `evaluate` returns. Without it, the coordinator's snapshot and each worker's would disagree about a fact
 * committing meanwhile (Citus has no cluster-wide snapshot, and a commit becomes visible on the coordinator before
 * the workers). A session lock, released as soon as the facts are read, not at the build's commit. On one PostgreSQL
 * it just runs `evaluate`: one snapshot decides everything there.
 */
export async function withFactsSettled<T>(manager: EntityManager, evaluate: () => Promise<T>): Promise<T> {
  if (!(await distributedTables(manager)).size) return evaluate();
  // A session lock outlives a rollback: a savepoint lets the unlock run even when `evaluate` fails (a timeout, say).
  await manager.query(`SAVEPOINT facts_settled`);
  await manager.query(`SELECT pg_advisory_lock(${LOCK_KEYS.FACTS})`);
  try {
    return await evaluate();
  } catch (err) {
    await manager.query(`ROLLBACK TO SAVEPOINT facts_settled`);
    throw err;
  } finally {
    await manager.query(`SELECT pg_advisory_unlock(${LOCK_KEYS.FACTS})`);
  }
}
