import { createHash } from 'node:crypto';
import type { EntityManager } from 'typeorm';
import { distributedTables, factSession } from '../../db/citus';
import { DomainError, ErrorCode } from '../../common/errors';
import { lockContentIdentity } from '../content';
import { OBJECTION_COLUMNS } from '../eligibility';
import { bindLedgerRows } from '../audit';

/** The hash key of a (seed, salt) pair: the first 48 bits of their SHA-256, an exact integer in SQL and in JavaScript. */
const saltKey = (seed: string, salt: string) => parseInt(createHash('sha256').update(`${seed}:${salt}`).digest('hex').slice(0, 12), 16);

/** Sizes and seed of a synthetic data set. */
export interface SyntheticSpec {
  users: number;
  items: number;
  objections: number;
  seed: number;
  /** Prefix of external ids, so that several data sets can live side by side. */
  prefix?: string;
  /**
   * `mixed` (default): realistic mixes of ages, countries, kinds, visibilities, labels, deletions and objections.
   * `clean`: adults in the EU, public posts and comments in language `zzc`, no objections: every item is eligible
   * (the export benchmark uses it to get a dataset of a chosen size).
   */
  profile?: 'mixed' | 'clean';
}

/**
 * Settings for a bulk-seed transaction, before its first statement. On Citus, a transaction that has read a distributed
 * table over parallel connections may not then write a reference table (users, the ledger): one connection per worker
 * keeps reads and writes on connections that see each other; and no local execution on the coordinator, whose copy of
 * the reference tables would otherwise be written locally and be out of reach of the parallel ANALYZE at the end.
 * PostgreSQL keeps the settings as placeholders and ignores them. Facts are stamped with the coordinator's id (factSession).
 */
export async function bulkSession(manager: EntityManager): Promise<void> {
  await manager.query(`SET LOCAL citus.multi_shard_modify_mode TO 'sequential'`);
  await manager.query(`SET LOCAL citus.enable_local_execution TO off`);
  await factSession(manager);
}

/** Tables a seed loads in bulk. */
const BULK_TABLES = ['users', 'content_items', 'visibility_changes', 'consent_events'];
/**
 * Bulk tables whose primary key and unique constraints are deferred too: content's keys are random uuids, whose index
 * maintenance row by row was half the cost of loading an item. (The users' key stays: many tables reference it.)
 */
const KEYED_BULK_TABLES = ['content_items'];

/**
 * Drops the secondary indexes and foreign keys of the bulk tables (and the keys of KEYED_BULK_TABLES with the foreign
 * keys that reference them), as the catalog describes them (so the migrations stay their only definition), and returns
 * the statements that re-create them: run after the load, in the same transaction, PostgreSQL builds each index once
 * and checks each foreign key with one scan instead of row by row. On Citus the keys of distributed tables stay.
 */
async function deferIndexesAndForeignKeys(manager: EntityManager): Promise<string[]> {
  const keyed = (await distributedTables(manager)).size ? [] : KEYED_BULK_TABLES;
  const fks: { tbl: string; name: string; def: string }[] = await manager.query(
    `SELECT conrelid::regclass::text AS tbl, conname AS name, pg_get_constraintdef(oid) AS def FROM pg_constraint
     WHERE contype = 'f' AND (conrelid::regclass::text = ANY($1::text[]) OR confrelid::regclass::text = ANY($2::text[]))`,
    [BULK_TABLES, keyed],
  );
  const keys: { tbl: string; name: string; def: string }[] = await manager.query(
    `SELECT conrelid::regclass::text AS tbl, conname AS name, pg_get_constraintdef(oid) AS def FROM pg_constraint
     WHERE contype IN ('p', 'u') AND conrelid::regclass::text = ANY($1::text[]) ORDER BY contype`,
    [keyed],
  );
  const indexes: { name: string; def: string }[] = await manager.query(
    `SELECT indexname AS name, indexdef AS def FROM pg_indexes
     WHERE schemaname = current_schema() AND tablename = ANY($1::text[])
       AND indexname NOT IN (SELECT conname FROM pg_constraint WHERE contype IN ('p', 'u'))`,
    [BULK_TABLES],
  );
  for (const fk of fks) await manager.query(`ALTER TABLE ${fk.tbl} DROP CONSTRAINT ${fk.name}`);
  for (const key of keys) await manager.query(`ALTER TABLE ${key.tbl} DROP CONSTRAINT ${key.name}`);
  for (const index of indexes) await manager.query(`DROP INDEX ${index.name}`);
  const add = (c: { tbl: string; name: string; def: string }) => `ALTER TABLE ${c.tbl} ADD CONSTRAINT ${c.name} ${c.def}`;
  return [...indexes.map((i) => i.def), ...keys.map(add), ...fks.map(add)];
}

/** The triggers that keep the current state (migration CurrentState). */
const CURRENT_STATE_TRIGGERS = [
  ['consent_events', 'consent_events_refresh_objections'],
  ['visibility_changes', 'visibility_changes_refresh_visibility'],
];

/** Above this many items a seed defers indexes and foreign keys. */
const BULK_ITEMS = 50000;

const EU = `ARRAY['DE','FR','ES','IT','PL','NL','SE','IE','AT','BE','PT','CZ','DK','FI','GR','HU','RO','BG','HR','SK','SI','LT','LV','EE','LU','MT','CY']`;
const NON_EU = `ARRAY['US','GB','BR','IN','NO','CH','CA','JP']`;
const LANGS = `ARRAY['de','fr','es','it','pl','nl','en','sv','pt']`;
const TOPICS = `ARRAY['cooking','football','holidays','music','gardening','cycling','books','films','travel','coffee','science','local news']`;

/**
 * Deterministic data written by set-based SQL inside PostgreSQL (no per-row round trips): ages, countries, platforms,
 * kinds, visibilities, languages, labels, visibility changes, deletions, objections and withdrawals. The same spec always
 * produces the same rows, ids included (ids are derived from the seed and position).
 */
export async function writeSynthetic(
  manager: EntityManager,
  spec: SyntheticSpec,
  progress?: (label: string, done: number, total: number) => void,
): Promise<void> {
  const prefix = spec.prefix ?? `syn${spec.seed}-`;
  const s = `${spec.seed}`;
  // Uniform in [0,1) from (salt, i): deterministic across runs and databases. hashint8extended is PostgreSQL's hash of
  // hash partitioning, which every version keeps stable; one call costs a tenth of an md5 and its text round trip
  // (a row draws about fifteen of these: at 10M items the md5 form alone cost minutes of the seed).
  const rnd = (salt: string, i = 'i') => `((hashint8extended((${i})::bigint, ${saltKey(s, salt)}) & 2147483647)::float8 / 2147483648.0)`;
  const userId = (i: string) => `md5('${prefix}u:' || ${i})::uuid`;
  const itemId = (i: string) => `md5('${prefix}c:' || ${i})::uuid`;
  // The author of item i, for the items and for their visibility history (which carries it: the distribution key).
  const authorOf = (i: string, users: string) => userId(`(floor(${rnd('author', i)} * ${users}::int)::int + 1)`);
  const pick = (arr: string, salt: string, i = 'i') => `(${arr})[1 + floor(${rnd(salt, i)} * cardinality(${arr}))::int]`;
  const clean = spec.profile === 'clean';
  const bulk = spec.items >= BULK_ITEMS;
  await bulkSession(manager);
  // Item i's visibility at creation, whether it changed once later, and to what (the later change is the latest).
  const firstVisibility = `CASE WHEN ${clean ? 'true' : `${rnd('vis')} < 0.75`} THEN 'PUBLIC' WHEN ${rnd('vis')} < 0.9 THEN 'FRIENDS' ELSE 'ONLY_ME' END`;
  const changed = clean ? 'false' : `${rnd('changed')} < 0.10`;
  const laterVisibility = `CASE WHEN ${rnd('vis2')} < 0.5 THEN 'PUBLIC' WHEN ${rnd('vis2')} < 0.8 THEN 'FRIENDS' ELSE 'ONLY_ME' END`;
  await lockContentIdentity(manager);
  const [used] = await manager.query(
    `SELECT EXISTS (SELECT 1 FROM users WHERE starts_with(external_id, $1)) OR EXISTS (SELECT 1 FROM content_items WHERE starts_with(external_id, $1)) AS used`,
    [prefix],
  );
  if (used.used)
    throw new DomainError(ErrorCode.CONFLICT, `external ids with the prefix "${prefix}" exist already; choose another --prefix or --seed`);
  // Progress is counted in rows: users, then items, then objections.
  const units = spec.users + spec.items + spec.objections;
  let restore: string[] = [];
  if (bulk) {
    progress?.('dropping indexes', 0, units);
    restore = await deferIndexesAndForeignKeys(manager);
    // The current state (migration CurrentState) is written with the rows, and the objections' once at the end,
    // instead of by the triggers, which would look up history without its indexes.
    for (const [table, trigger] of CURRENT_STATE_TRIGGERS) await manager.query(`ALTER TABLE ${table} DISABLE TRIGGER ${trigger}`);
  }
  progress?.('users', 0, units);
  await manager.query(
    `INSERT INTO users (id, external_id, handle, email, birth_date, country, created_at)
     SELECT ${userId('i')}, '${prefix}u' || i, 'user_' || i, 'user' || i || '@example.com',
       CASE WHEN ${clean ? 'false' : `${rnd('unknown-age')} < 0.05`} THEN NULL
            WHEN ${clean ? 'false' : `${rnd('minor')} < 0.10`} THEN DATE '2008-01-01' + floor(${rnd('dob')} * 1800)::int
            ELSE DATE '1950-01-01' + floor(${rnd('dob')} * ${clean ? 15000 : 20000})::int END,
       CASE WHEN ${clean ? 'true' : `${rnd('eu')} < 0.8`} THEN ${pick(EU, 'country')} ELSE ${pick(NON_EU, 'country')} END,
       TIMESTAMPTZ '2015-01-01' + make_interval(days => floor(${rnd('joined')} * 3000)::int)
     FROM generate_series(1, $1::int) AS i`,
    [spec.users],
  );
  const CHUNK = 100000;
  for (let from = 1; from <= spec.items; from += CHUNK) {
    const to = Math.min(from + CHUNK - 1, spec.items);
    progress?.('content', spec.users + from - 1, units);
    await manager.query(
      `WITH g AS (
       SELECT i, ${authorOf('i', '$2')} AS author_id, ${rnd('platform')} AS pr, ${rnd('kind')} AS kr,
              TIMESTAMPTZ '2016-01-01' + make_interval(secs => floor(${rnd('created')} * 339000000)::int) AS created_at
       FROM generate_series($3::int, $1::int) AS i
     ), k AS (
       SELECT g.*, CASE WHEN pr < ${clean ? 0.5 : 0.45} THEN 'FACEBOOK' WHEN pr < ${clean ? 1.1 : 0.85} THEN 'INSTAGRAM' ELSE 'AI_ASSISTANT' END AS platform FROM g
     ), t AS (
       SELECT k.*, CASE WHEN platform = 'AI_ASSISTANT' THEN 'AI_PROMPT'
                        WHEN kr < 0.35 THEN 'POST' WHEN kr < ${clean ? 2 : 0.65} THEN 'COMMENT' WHEN kr < 0.75 THEN 'PHOTO_CAPTION'
                        WHEN kr < 0.82 THEN 'REEL_CAPTION' WHEN kr < 0.88 THEN 'REVIEW' ELSE 'PRIVATE_MESSAGE' END AS kind,
              initcap(${pick(TOPICS, 'topic')}) || ' note ' || i || ': ' || md5('${s}:text:' || i) AS text
       FROM k
     )
     INSERT INTO content_items (id, external_id, author_id, platform, kind, text, language, content_hash, created_at, labels, deleted_at, deletion_recorded_at,
                                visibility_now)
     SELECT ${itemId('i')}, '${prefix}c' || i, author_id, platform, kind, text, ${clean ? `'zzc'` : pick(LANGS, 'lang')},
            encode(sha256(convert_to(text, 'UTF8')), 'hex'), created_at,
            CASE WHEN ${clean ? 'false' : `${rnd('label')} < 0.03`} THEN ARRAY['SPECIAL_CATEGORY'] ELSE '{}'::text[] END,
            CASE WHEN ${clean ? 'false' : `${rnd('deleted')} < 0.02`} THEN least(created_at + interval '30 days', now()) END,
            CASE WHEN ${clean ? 'false' : `${rnd('deleted')} < 0.02`} THEN least(created_at + interval '30 days', now()) END,
            CASE WHEN ${changed} THEN ${laterVisibility} ELSE ${firstVisibility} END
     FROM t`,
      [to, spec.users, from],
    );
    await manager.query(
      `INSERT INTO visibility_changes (item_id, author_id, visibility, changed_at, recorded_at)
     SELECT id, author_id, v, at, at FROM (
       SELECT ${itemId('i')} AS id, ${authorOf('i', '$3')} AS author_id,
              ${firstVisibility} AS v,
              TIMESTAMPTZ '2016-01-01' + make_interval(secs => floor(${rnd('created')} * 339000000)::int) AS at, 0 AS n
       FROM generate_series($2::int, $1::int) AS i
       UNION ALL
       SELECT ${itemId('i')}, ${authorOf('i', '$3')},
              ${laterVisibility},
              least(TIMESTAMPTZ '2016-01-01' + make_interval(secs => floor(${rnd('created')} * 339000000)::int) + make_interval(days => 1 + floor(${rnd('vis2at')} * 400)::int), now()), 1
       FROM generate_series($2::int, $1::int) AS i WHERE ${changed}
     ) x ORDER BY id, n`,
      [to, from, spec.users],
    );
  }
  progress?.('objections', spec.users + spec.items, units);
  const objectionRows: { id: string }[] = await manager.query(
    `WITH o AS (
       SELECT i, floor(${rnd('obj-user')} * $2::int)::int + 1 AS u,
              (ARRAY['ALL_AI_TRAINING','PUBLIC_CONTENT','AI_INTERACTIONS'])[1 + floor(${rnd('obj-scope')} * 3)::int] AS scope,
              least(TIMESTAMPTZ '2024-01-01' + make_interval(secs => floor(${rnd('obj-at')} * 90000000)::int), now() - interval '1 day') AS at,
              (ARRAY['OBJECTION_FORM','SETTINGS','PRIVACY_STAFF','REGULATOR'])[1 + floor(${rnd('obj-ch')} * 4)::int] AS channel,
              ${rnd('withdrawn')} < 0.2 AS withdrawn
       FROM generate_series(1, $1::int) AS i
     )
     INSERT INTO consent_events (user_id, type, scope, effective_at, recorded_at, channel, actor, reason)
     SELECT ${userId('u')}, type, scope, at, at, channel, 'synthetic', 'synthetic data set ${s}'
     FROM (
       SELECT u, 'OBJECTION' AS type, scope, at, channel, i, 0 AS n FROM o
       UNION ALL
       SELECT u, 'OBJECTION_WITHDRAWN', scope, least(at + make_interval(days => 1 + floor(${rnd('wd-at')} * 200)::int), now() - interval '1 hour'), channel, i, 1
       FROM o WHERE withdrawn
     ) x ORDER BY i, n
     RETURNING id`,
    [clean ? 0 : spec.objections, spec.users],
  );
  // The audit event of the seed binds these rows (audit/ledger-binding.ts).
  bindLedgerRows(
    manager,
    objectionRows.map((r) => r.id),
  );
  if (bulk) {
    progress?.('indexes and foreign keys', units, units);
    for (const statement of restore) await manager.query(statement);
    await manager.query(
      `UPDATE users u SET ${Object.entries(OBJECTION_COLUMNS)
        .map(([, col]) => `${col} = d.${col}`)
        .join(', ')}
      FROM (SELECT user_id, ${Object.entries(OBJECTION_COLUMNS)
        .map(([scope, col]) => `coalesce(bool_or(type = 'OBJECTION') FILTER (WHERE scope = '${scope}'), false) AS ${col}`)
        .join(', ')}
            FROM (SELECT DISTINCT ON (user_id, scope) user_id, scope, type FROM consent_events
                  WHERE user_id IN (SELECT id FROM users WHERE starts_with(external_id, $1))
                  ORDER BY user_id, scope, effective_at DESC, recorded_at DESC, id DESC) e GROUP BY user_id) d
      WHERE d.user_id = u.id`,
      [prefix],
    );
    for (const [table, trigger] of CURRENT_STATE_TRIGGERS) await manager.query(`ALTER TABLE ${table} ENABLE TRIGGER ${trigger}`);
  }
  // Fresh statistics whatever the size: content's key is (id, author_id), so only the statistics tell the planner
  // that an id matches one row; without them a lookup of 100 ids is planned as a scan of the table.
  await manager.query(`ANALYZE users; ANALYZE content_items; ANALYZE visibility_changes; ANALYZE consent_events`);
  progress?.('done', units, units);
}
