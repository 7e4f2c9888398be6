import { ReasonCode } from '../../common/enums';
import type { PolicyValues } from '../policies';

/**
 * THE eligibility rules (DESIGN.md §3), defined once, as SQL conditions over:
 *   c: content_items, u: users (the author), p: the policy row,
 * an SQL expression `asOf` (the instant T being evaluated) and the knowledge they are judged with. Every path that
 * decides eligibility renders these same conditions: `reasonsSql` (explain: every reason for each item) and
 * `eligibleSql` (bulk: a predicate that keeps eligible items).
 */
export interface RuleTimes {
  /** SQL expression for T. */
  asOf: string;
  /** Which facts count; CURRENT when omitted. */
  knowledge?: Knowledge;
}

/**
 * What was known. A fact is known from the moment it is committed: rows carry the id of the transaction that recorded
 * them (xid8) and a build keeps the snapshot its membership statement ran on, so "known to the build" is exactly
 * `pg_visible_in_snapshot(xid, snapshot)`. Rows recorded before snapshots were kept have no xid, and datasets built
 * before then have no snapshot: those are judged by recorded time against `at`, as they always were.
 */
export interface Knowledge {
  /** SQL pg_snapshot; absent: everything the statement sees is known (its own snapshot). */
  snapshot?: string;
  /** SQL timestamptz, the snapshot's time: for rows or datasets without an xid or snapshot. */
  at?: string;
}

/** Everything the evaluating statement can see. */
export const CURRENT: Knowledge = {};

/**
 * "Evaluating now": every fact the statement sees, at an instant later than any of them. No fact takes effect after
 * it is recorded (writers clamp valid times to their transaction's time), so nothing is left out by taking T as
 * infinity, and nothing committed while the statement waited for its snapshot can fall after T.
 */
export const NOW: RuleTimes = { asOf: `'infinity'::timestamptz`, knowledge: CURRENT };

/**
 * True for an evaluation now with everything the statement sees: then the current state that the database keeps
 * exact (migration CurrentState: each person's objections, each item's latest visibility) answers what otherwise needs
 * the history. Any other instant or knowledge reads the history.
 */
export const isNow = (t: RuleTimes): boolean => t.asOf === NOW.asOf && !t.knowledge?.snapshot;

/** users' columns that hold, for each scope, whether its deciding ledger event is an objection now. */
export const OBJECTION_COLUMNS = {
  ALL_AI_TRAINING: 'objects_all_ai_training',
  PUBLIC_CONTENT: 'objects_public_content',
  AI_INTERACTIONS: 'objects_ai_interactions',
} as const;

/** SQL true when the fact recorded by transaction `xid` at time `recordedAt` is known. */
export function known(k: Knowledge | undefined, xid: string, recordedAt: string): string {
  if (!k?.snapshot) return 'true';
  return `coalesce(pg_visible_in_snapshot(${xid}, ${k.snapshot}), ${recordedAt} <= ${k.at})`;
}

/**
 * SQL true when the fact was NOT known to the snapshot (the complement of `known`), written so that an index on the
 * xid (or on the recorded time, for older rows) finds the few facts recorded since.
 */
export function unknownTo(snapshot: string, at: string, xid: string, recordedAt: string): string {
  return `((${xid} >= pg_snapshot_xmin(${snapshot}) AND NOT pg_visible_in_snapshot(${xid}, ${snapshot}))
    OR ((${xid} IS NULL OR ${snapshot} IS NULL) AND ${recordedAt} > ${at}))`;
}

/**
 * People as known: their birth date and country are the latest version known (a correction recorded later does not
 * rewrite what was known). With CURRENT knowledge this is the users table itself.
 */
export function usersAsKnownSql(k: Knowledge | undefined): string {
  if (!k?.snapshot) return 'users';
  const current = known(k, 'u0.attributes_xid', 'u0.attributes_recorded_at');
  return `(SELECT u0.id, u0.erased_at, u0.erasure_xid, u0.deleted_at, u0.deletion_recorded_at, u0.deletion_xid,
      CASE WHEN ${current} THEN u0.birth_date ELSE h.birth_date END AS birth_date,
      CASE WHEN ${current} THEN u0.country ELSE h.country END AS country
    FROM users u0 LEFT JOIN LATERAL (
      SELECT h.birth_date, h.country FROM user_attribute_history h
      WHERE h.user_id = u0.id AND NOT ${current} AND ${known(k, 'h.recorded_xid', 'h.recorded_at')}
      ORDER BY h.id DESC LIMIT 1) h ON true)`;
}

/** An item's labels as known (the latest version known); `c` is the item. */
export function labelsAsKnownSql(k: Knowledge | undefined): string {
  if (!k?.snapshot) return 'c.labels';
  return `CASE WHEN ${known(k, 'c.labels_xid', 'c.labels_recorded_at')} THEN c.labels ELSE (
      SELECT h.labels FROM content_label_history h
      WHERE h.item_id = c.id AND h.author_id = c.author_id AND ${known(k, 'h.recorded_xid', 'h.recorded_at')}
      ORDER BY h.id DESC LIMIT 1) END`;
}

/** Items the knowledge had (ingested), with their labels as known; content_items' columns. `where` is over `c`. */
export function itemsAsKnownSql(k: Knowledge | undefined, where: string[]): string {
  if (!k?.snapshot) return `(SELECT * FROM content_items c${where.length ? ` WHERE ${where.join(' AND ')}` : ''})`;
  return `(SELECT c.id, c.external_id, c.author_id, c.platform, c.kind, c.language, c.content_hash, c.created_at,
      ${labelsAsKnownSql(k)} AS labels, c.deleted_at, c.deletion_recorded_at, c.deletion_xid, c.ingested_at
    FROM content_items c WHERE ${[known(k, 'c.ingest_xid', 'c.ingested_at'), ...where].join(' AND ')})`;
}

interface Rule {
  code: ReasonCode;
  /** SQL boolean that is true when the reason applies (never NULL: written with IS [NOT] NULL / coalesce). */
  applies: (t: RuleTimes) => string;
}

/**
 * The instant an author reaches the policy's minimum age, as a UTC instant. Ages are whole years on UTC calendar
 * dates; someone born on 29 February reaches an age in a non-leap year on 1 March (PostgreSQL's interval arithmetic
 * would say 28 February, so that case is spelled out). Evaluated for every item of a build: date_part (a float) costs
 * a fraction of to_char's formatting and extract's numeric, about 0.3 µs an item less (0.65 s of CPU at scale m).
 */
export const ADULTHOOD_SQL = `(CASE WHEN date_part('month', u.birth_date) = 2 AND date_part('day', u.birth_date) = 29
    THEN make_date(date_part('year', u.birth_date)::int + p.minimum_age, 2, 28) + 1
    ELSE (u.birth_date + make_interval(years => p.minimum_age))::date END)::timestamp AT TIME ZONE 'UTC'`;

/** Latest visibility at T, as known. */
const visibilityAt = (t: RuleTimes) => `(SELECT v.visibility FROM visibility_changes v
    WHERE v.item_id = c.id AND v.author_id = c.author_id AND v.changed_at <= ${t.asOf} AND ${known(t.knowledge, 'v.recorded_xid', 'v.recorded_at')}
    ORDER BY v.changed_at DESC, v.id DESC LIMIT 1)`;

/** Ordered cheapest first: the bulk predicate is a conjunction, and PostgreSQL stops at the first false. */
export const RULES: Rule[] = [
  { code: ReasonCode.PRIVATE_MESSAGE, applies: () => `c.kind = 'PRIVATE_MESSAGE'` },
  { code: ReasonCode.PLATFORM_NOT_COVERED, applies: () => `NOT (c.platform = ANY(p.platforms))` },
  { code: ReasonCode.KIND_NOT_COVERED, applies: () => `NOT (c.kind = ANY(p.kinds))` },
  {
    code: ReasonCode.OUTSIDE_WINDOW,
    applies: () =>
      `((p.window_start IS NOT NULL AND c.created_at < p.window_start) OR (p.window_end IS NOT NULL AND c.created_at >= p.window_end))`,
  },
  { code: ReasonCode.EXCLUDED_LABEL, applies: () => `(c.labels && p.excluded_labels)` }, // labels as known: itemsAsKnownSql
  {
    code: ReasonCode.CONTENT_DELETED,
    applies: (t) =>
      `(c.deleted_at IS NOT NULL AND c.deleted_at <= ${t.asOf} AND ${known(t.knowledge, 'c.deletion_xid', 'c.deletion_recorded_at')})`,
  },
  { code: ReasonCode.REGION_NOT_COVERED, applies: () => `NOT (u.country = ANY(p.regions))` },
  { code: ReasonCode.AUTHOR_AGE_UNKNOWN, applies: () => `u.birth_date IS NULL` },
  { code: ReasonCode.AUTHOR_MINOR_AT_CREATION, applies: () => `(u.birth_date IS NOT NULL AND c.created_at < ${ADULTHOOD_SQL})` },
  {
    code: ReasonCode.AUTHOR_ERASED,
    applies: (t) => `((u.erased_at IS NOT NULL AND u.erased_at <= ${t.asOf} AND ${known(t.knowledge, 'u.erasure_xid', 'u.erased_at')})
      OR (u.deleted_at IS NOT NULL AND u.deleted_at <= ${t.asOf} AND ${known(t.knowledge, 'u.deletion_xid', 'u.deletion_recorded_at')}))`,
  },
  {
    code: ReasonCode.OBJECTED,
    applies: (t) =>
      isNow(t)
        ? `(u.${OBJECTION_COLUMNS.ALL_AI_TRAINING} OR CASE WHEN c.kind = 'AI_PROMPT' THEN u.${OBJECTION_COLUMNS.AI_INTERACTIONS} ELSE u.${OBJECTION_COLUMNS.PUBLIC_CONTENT} END)`
        : `(${objectedIn(t, `'ALL_AI_TRAINING'`)} OR ${objectedIn(t, KIND_SCOPE_SQL)})`,
  },
  {
    code: ReasonCode.NOT_PUBLIC,
    applies: (t) => `(c.kind <> 'AI_PROMPT' AND ${isNow(t) ? 'c.visibility_now' : visibilityAt(t)} IS DISTINCT FROM 'PUBLIC')`,
  },
];

/**
 * The consent event that decides one scope of one person at T: the latest known with effective-at <= T (ties:
 * recorded-at, then id). Scopes are independent: withdrawing ALL_AI_TRAINING leaves a
 * PUBLIC_CONTENT objection in force. One index probe (consent_events_user_scope_idx) per call.
 */
export function decidingEventSql(t: RuleTimes, userSql: string, scopeSql: string, columns = 'e.type'): string {
  return `SELECT ${columns} FROM consent_events e
      WHERE e.user_id = ${userSql} AND e.scope = ${scopeSql} AND e.effective_at <= ${t.asOf} AND ${known(t.knowledge, 'e.recorded_xid', 'e.recorded_at')}
      ORDER BY e.effective_at DESC, e.recorded_at DESC, e.id DESC LIMIT 1`;
}

/** True when the author's deciding event for the scope is an OBJECTION. */
const objectedIn = (t: RuleTimes, scopeSql: string) => `coalesce((${decidingEventSql(t, 'c.author_id', scopeSql)}) = 'OBJECTION', false)`;

/** The scopes that cover an item: ALL_AI_TRAINING always, plus AI_INTERACTIONS for prompts or PUBLIC_CONTENT otherwise. */
export const KIND_SCOPE_SQL = `CASE WHEN c.kind = 'AI_PROMPT' THEN 'AI_INTERACTIONS' ELSE 'PUBLIC_CONTENT' END`;

/** SQL array of every reason code that applies to the row (empty array: eligible). */
export function reasonsSql(t: RuleTimes): string {
  return `array_remove(ARRAY[${RULES.map((r) => `CASE WHEN ${r.applies(t)} THEN '${r.code}' END`).join(',\n    ')}]::text[], NULL)`;
}

/**
 * SQL int with bit i set when RULES[i] applies (0: eligible): the reasons of `reasonsSql` as a bit mask, for whole-corpus
 * evaluations that keep a row per item and count reasons (a build): an int per row is cheaper to compute, keep and
 * group than an array of text.
 */
export function reasonMaskSql(t: RuleTimes): string {
  return `(${RULES.map((r, i) => `CASE WHEN ${r.applies(t)} THEN ${1 << i} ELSE 0 END`).join('\n    | ')})`;
}

/**
 * (reason, n) rows from a relation `rel` of (mask, n) rows (items counted by reasonMaskSql's mask): each reason's
 * count is the sum over the masks with its bit set.
 */
export function reasonCountsFromMasksSql(rel: string): string {
  return `SELECT x.reason, sum(g.n)::int AS n FROM ${rel} g
      CROSS JOIN unnest(ARRAY[${RULES.map((r) => `'${r.code}'`).join(', ')}]::text[]) WITH ORDINALITY AS x(reason, bit)
      WHERE g.mask & (1 << (x.bit::int - 1)) <> 0 GROUP BY x.reason`;
}

/** SQL predicate that is true exactly when no reason applies. */
export function eligibleSql(t: RuleTimes): string {
  return RULES.map((r) => `NOT ${r.applies(t)}`).join('\n  AND ');
}

export interface EvaluationSql {
  /** Items to evaluate: a relation with the columns of content_items, aliased `c` by the caller's FROM. */
  items: string;
  /** SQL expression of the policy id. */
  policyId: string;
  /**
   * The policy's values, bound as parameters through `bind` instead of read from the policies table: the planner then
   * plans with them (how many people its regions cover, which kinds), which turns a whole-corpus evaluation into
   * one parallel hash join of people and items.
   */
  policy?: { values: PolicyValues; bind: (value: unknown) => string };
  times: RuleTimes;
  /** The policy id is a column of the items (several policies in one evaluation). */
  policyPerRow?: boolean;
}

/**
 * The FROM/JOIN clause that every evaluation uses: items `c`, their author `u` (as known) and the policy `p`. Items
 * judged with a snapshot's knowledge come from `itemsAsKnownSql`.
 */
export function evaluationFromSql(e: EvaluationSql): string {
  return `${e.items} c
    JOIN ${usersAsKnownSql(e.times.knowledge)} u ON u.id = c.author_id
    ${e.policyPerRow ? 'JOIN policies p ON p.id = ' + e.policyId : `CROSS JOIN ${e.policy ? policyValuesSql(e.policyId, e.policy) : `(SELECT * FROM policies WHERE id = ${e.policyId})`} p`}`;
}

/** A one-row relation with the policy columns the rules read, from bound values. */
function policyValuesSql(policyId: string, { values: v, bind }: NonNullable<EvaluationSql['policy']>): string {
  return `(SELECT ${policyId} AS id, ${bind(v.minimumAge)}::int AS minimum_age, ${bind(v.regions)}::text[] AS regions,
    ${bind(v.platforms)}::text[] AS platforms, ${bind(v.kinds)}::text[] AS kinds, ${bind(v.windowStart)}::timestamptz AS window_start,
    ${bind(v.windowEnd)}::timestamptz AS window_end, ${bind(v.excludedLabels)}::text[] AS excluded_labels)`;
}
