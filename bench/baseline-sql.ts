/**
 * Hand-written SQL for the benchmark baselines: what a competent engineer would write for eu-ai-training without our
 * rule engine (the policy's values spelled out, conditions in a cheap-first order). Each returns the same answer as
 * the service path, which the harness checks.
 */
export const EU = `('AT','BE','BG','HR','CY','CZ','DK','EE','FI','FR','DE','GR','HU','IE','IT','LV','LT','LU','MT','NL','PL','PT','RO','SK','SI','ES','SE')`;

/**
 * The fastest correct statement we could write by hand for eu-ai-training now, over the same schema: the policy's values
 * spelled out, each person's objections and each item's visibility read from the current-state columns the database
 * keeps (migration CurrentState), no correlated subquery. Written independently of eligibility.rules.
 */
export const ELIGIBLE_WHERE = `c.kind IN ('POST','COMMENT','PHOTO_CAPTION','REEL_CAPTION','REVIEW','AI_PROMPT')
    AND NOT (c.labels && '{SPECIAL_CATEGORY}'::text[])
    AND c.deleted_at IS NULL
    AND (c.kind = 'AI_PROMPT' OR c.visibility_now = 'PUBLIC')
    AND u.country IN ${EU}
    AND u.birth_date IS NOT NULL AND u.erased_at IS NULL AND u.deleted_at IS NULL
    AND NOT u.objects_all_ai_training
    AND NOT CASE WHEN c.kind = 'AI_PROMPT' THEN u.objects_ai_interactions ELSE u.objects_public_content END
    AND c.created_at >= (CASE WHEN date_part('month', u.birth_date) = 2 AND date_part('day', u.birth_date) = 29
                              THEN make_date(date_part('year', u.birth_date)::int + 18, 2, 28) + 1
                              ELSE (u.birth_date + interval '18 years')::date END)::timestamp AT TIME ZONE 'UTC'`;

/** The hardware's floor for an evaluation of every item: a bare scan of the same rows, joined to their authors. */
export const FLOOR_COUNT = `SELECT count(*)::int AS n FROM content_items c JOIN users u ON u.id = c.author_id`;

/**
 * The floor as the issue defines it is answered from an index alone (an index-only scan of content_items' author index,
 * no row read). This one reads every row (a condition on a column no index holds): the floor for work that must look
 * at each item's columns, reported beside the other.
 */
export const HEAP_FLOOR_COUNT = `SELECT count(*)::int AS n FROM content_items c JOIN users u ON u.id = c.author_id WHERE c.kind IS NOT NULL`;

export const ELIGIBLE_COUNT = `SELECT count(*)::int AS n FROM content_items c JOIN users u ON u.id = c.author_id WHERE ${ELIGIBLE_WHERE}`;

/** The membership, by hand: one INSERT … SELECT of the eligible items under one dataset id (a constant, as a build's). */
export const MEMBERSHIP_INSERT = (table: string) =>
  `INSERT INTO ${table} (dataset_id, item_id, author_id, content_hash)
   SELECT '00000000-0000-4000-8000-000000000000'::uuid, c.id, c.author_id, c.content_hash FROM content_items c JOIN users u ON u.id = c.author_id WHERE ${ELIGIBLE_WHERE}`;

/**
 * The same membership as a new table (`CREATE TABLE … AS`): PostgreSQL evaluates it with parallel workers, where an
 * `INSERT … SELECT` runs on one core. The baseline is the `INSERT`; this one, faster by hand, is reported beside it.
 */
export const MEMBERSHIP_CTAS = (table: string) =>
  `CREATE TABLE ${table} AS
   SELECT '00000000-0000-4000-8000-000000000000'::uuid AS dataset_id, c.id AS item_id, c.author_id, c.content_hash FROM content_items c JOIN users u ON u.id = c.author_id WHERE ${ELIGIBLE_WHERE}`;

export const LINEAGE_WALK = `WITH RECURSIVE walk(node, depth) AS (
    SELECT $1::uuid, 0
    UNION
    SELECT e.downstream_id, w.depth + 1 FROM walk w JOIN lineage_edges e ON e.upstream_id = w.node WHERE w.depth < $2
  ), nodes AS (SELECT node, min(depth) AS depth FROM walk GROUP BY node)
  SELECT n.node, n.depth, d.name, d.version, d.status,
         (SELECT json_agg(json_build_object('u', e.upstream_id, 'd', e.downstream_id, 't', e.type)) FROM lineage_edges e
           WHERE e.upstream_id = n.node AND e.downstream_id IN (SELECT node FROM nodes)) AS edges
  FROM nodes n LEFT JOIN datasets d ON d.id = n.node`;
