import { ReasonCode } from '../../common/enums';

/**
 * THE eligibility rules (DESIGN.md §3), defined once, as SQL conditions over:
 *   c: content_items, u: users (the author), p: the policy row,
 * and two SQL expressions: `asOf` (the instant T being evaluated) and `knownAt` (knowledge time: only facts recorded at or
 * before it count). Every path that decides eligibility renders these same conditions: `reasonsSql` (explain: every reason
 * for each item) and `eligibleSql` (bulk: a predicate that keeps eligible items).
 */
export interface RuleTimes {
  /** SQL expression for T. */
  asOf: string;
  /** SQL expression for knowledge time. */
  knownAt: string;
}

interface Rule {
  code: ReasonCode;
  /** SQL boolean that is true when the reason applies (never NULL: written with IS [NOT] NULL / coalesce). */
  applies: (t: RuleTimes) => string;
}

/**
 * The instant an author reaches the policy's minimum age, as a UTC instant. Ages are whole years on UTC calendar
 * dates; someone born on 29 February reaches an age in a non-leap year on 1 March (PostgreSQL's interval arithmetic
 * would say 28 February, so that case is spelled out).
 */
export const ADULTHOOD_SQL = `(CASE WHEN to_char(u.birth_date, 'MM-DD') = '02-29'
    THEN make_date(extract(year FROM u.birth_date)::int + p.minimum_age, 2, 28) + 1
    ELSE (u.birth_date + make_interval(years => p.minimum_age))::date END)::timestamp AT TIME ZONE 'UTC'`;

/** Latest visibility at T, as known at knowledge time. */
const visibilityAt = (t: RuleTimes) => `(SELECT v.visibility FROM visibility_changes v
    WHERE v.item_id = c.id AND v.author_id = c.author_id AND v.changed_at <= ${t.asOf} AND v.recorded_at <= ${t.knownAt}
    ORDER BY v.changed_at DESC, v.id DESC LIMIT 1)`;

/** Ordered cheapest first: the bulk predicate is a conjunction, and PostgreSQL stops at the first false. */
export const RULES: Rule[] = [
  { code: ReasonCode.PRIVATE_MESSAGE, applies: () => `c.kind = 'PRIVATE_MESSAGE'` },
  { code: ReasonCode.PLATFORM_NOT_COVERED, applies: () => `NOT (c.platform = ANY(p.platforms))` },
  { code: ReasonCode.KIND_NOT_COVERED, applies: () => `NOT (c.kind = ANY(p.kinds))` },
  {
    code: ReasonCode.OUTSIDE_WINDOW,
    applies: () => `((p.window_start IS NOT NULL AND c.created_at < p.window_start) OR (p.window_end IS NOT NULL AND c.created_at >= p.window_end))`,
  },
  { code: ReasonCode.EXCLUDED_LABEL, applies: () => `(c.labels && p.excluded_labels)` },
  {
    code: ReasonCode.CONTENT_DELETED,
    applies: (t) => `(c.deleted_at IS NOT NULL AND c.deleted_at <= ${t.asOf} AND c.deletion_recorded_at <= ${t.knownAt})`,
  },
  { code: ReasonCode.REGION_NOT_COVERED, applies: () => `NOT (u.country = ANY(p.regions))` },
  { code: ReasonCode.AUTHOR_AGE_UNKNOWN, applies: () => `u.birth_date IS NULL` },
  { code: ReasonCode.AUTHOR_MINOR_AT_CREATION, applies: () => `(u.birth_date IS NOT NULL AND c.created_at < ${ADULTHOOD_SQL})` },
  {
    code: ReasonCode.AUTHOR_ERASED,
    applies: (t) => `((u.erased_at IS NOT NULL AND u.erased_at <= ${t.asOf} AND u.erased_at <= ${t.knownAt})
      OR (u.deleted_at IS NOT NULL AND u.deleted_at <= ${t.asOf} AND u.deleted_at <= ${t.knownAt}))`,
  },
  { code: ReasonCode.OBJECTED, applies: (t) => `(${objectedIn(t, `'ALL_AI_TRAINING'`)} OR ${objectedIn(t, KIND_SCOPE_SQL)})` },
  { code: ReasonCode.NOT_PUBLIC, applies: (t) => `(c.kind <> 'AI_PROMPT' AND ${visibilityAt(t)} IS DISTINCT FROM 'PUBLIC')` },
];

/**
 * The consent event that decides one scope of one person at T: the latest with effective-at <= T and recorded-at <=
 * knowledge time (ties: recorded-at, then id). Scopes are independent: withdrawing ALL_AI_TRAINING leaves a
 * PUBLIC_CONTENT objection in force. One index probe (consent_events_user_scope_idx) per call.
 */
export function decidingEventSql(t: RuleTimes, userSql: string, scopeSql: string, columns = 'e.type'): string {
  return `SELECT ${columns} FROM consent_events e
      WHERE e.user_id = ${userSql} AND e.scope = ${scopeSql} AND e.effective_at <= ${t.asOf} AND e.recorded_at <= ${t.knownAt}
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

/** SQL predicate that is true exactly when no reason applies. */
export function eligibleSql(t: RuleTimes): string {
  return RULES.map((r) => `NOT ${r.applies(t)}`).join('\n  AND ');
}

export interface EvaluationSql {
  /** Items to evaluate: a relation with the columns of content_items, aliased `c` by the caller's FROM. */
  items: string;
  /** SQL expression of the policy id. */
  policyId: string;
  times: RuleTimes;
  /** The policy id is a column of the items (several policies in one evaluation). */
  policyPerRow?: boolean;
}

/** The FROM/JOIN clause that every evaluation uses: items `c`, their author `u` and the policy `p`. */
export function evaluationFromSql(e: EvaluationSql): string {
  return `${e.items} c
    JOIN users u ON u.id = c.author_id
    ${e.policyPerRow ? 'JOIN policies p ON p.id = ' + e.policyId : `CROSS JOIN (SELECT * FROM policies WHERE id = ${e.policyId}) p`}`;
}
