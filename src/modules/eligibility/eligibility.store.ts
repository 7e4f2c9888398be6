import type { EntityManager } from 'typeorm';
import { ReasonCode } from '../../common/enums';
import type { Connection } from '../../common/pagination';
import { serialPlan, sqlParams } from '../../db/sql';
import { byId, keysetPage } from '../../db/keyset';
import { CONTENT_COLUMNS, contentFilterSql, ContentFilter, ContentRow } from '../content';
import type { Policy } from '../policies';
import { eligibleSql, EvaluationSql, evaluationFromSql, NOW, reasonsSql, RuleTimes } from './eligibility.rules';

/**
 * The statements of eligibility, rendered from the rules (eligibility.rules): verdicts with reasons (the explain path),
 * eligible pages, counts and reports (the bulk path). Reads only: the facts belong to their modules.
 */

/** The instant bound to $2, with everything the statement sees. */
const AT_PARAM_2: RuleTimes = { asOf: '$2::timestamptz' };

/**
 * The times of an evaluation: NOW (the current state the database keeps) when no instant is asked for, else the
 * instant bound to $2 (the history). Verdicts, pages and counts alike: every evaluation now reads the same current state
 * as the text gate and the builds. The property tests compare the history (the explain path at an instant) and the
 * current state (both paths now) with the reference implementation.
 */
const bulkTimes = (asOf: Date | null | undefined): RuleTimes => (asOf == null ? NOW : AT_PARAM_2);
/** Their parameters: $1 the policy id, and $2 the instant when there is one. */
const bulkParams = (policy: Policy, asOf: Date | null | undefined): unknown[] => (asOf == null ? [policy.id] : [policy.id, asOf]);

/** The verdicts of the explain path: $1 the policy id, the item ids (`ids`); reasons per found id at the given times. */
const verdictsSql = (times: RuleTimes, ids: string) => `SELECT c.id, ${reasonsSql(times)} AS reasons
  FROM ${evaluationFromSql({ items: `(SELECT * FROM content_items WHERE id = ANY(${ids}::uuid[]))`, policyId: '$1::uuid', times })}`;
/** Verdicts at an instant: $1 the policy id, $2 the instant, $3 the item ids (the history). */
export const VERDICTS_AT_SQL = verdictsSql(AT_PARAM_2, '$3');
/** Verdicts now: $1 the policy id, $2 the item ids (the current state). */
export const VERDICTS_SQL = verdictsSql(NOW, '$2');

/** Items that are eligible under `policyId` at the given times, as a relation with content_items' columns. */
export function eligibleItemsSql(items: string, policyId: string, times: RuleTimes, policy?: EvaluationSql['policy']): string {
  return `(SELECT c.* FROM ${evaluationFromSql({ items, policyId, times, policy })} WHERE ${eligibleSql(times)})`;
}

/** The reasons of each found item under a policy at an instant (none: now): the explain path. */
export function verdictReasons(
  db: EntityManager,
  policyId: string,
  asOf: Date | null,
  ids: string[],
): Promise<{ id: string; reasons: ReasonCode[] }[]> {
  return asOf == null ? db.query(VERDICTS_SQL, [policyId, ids]) : db.query(VERDICTS_AT_SQL, [policyId, asOf, ids]);
}

/**
 * A keyset page of the items eligible under an ENFORCE policy at `asOf` (none: now), filtered (the filter checked by the
 * caller); `narrowed`: eligible now as well. Parallel query is off for the page (serialPlan); `counting` wraps the count.
 */
export function eligiblePage(
  db: EntityManager,
  page: {
    policy: Policy;
    asOf: Date | null | undefined;
    narrowed: boolean;
    filter: ContentFilter | undefined;
    first?: number;
    after?: string;
  },
  counting: (count: () => Promise<number>) => Promise<number>,
): Promise<Connection<ContentRow>> {
  const { policy, asOf } = page;
  const { params, p } = sqlParams(...bulkParams(policy, asOf));
  // The policy's values are bound once, first, and shared by the page and the count.
  const bound = new Map<unknown, string>();
  const values = { values: policy, bind: (v: unknown) => bound.get(v) ?? (bound.set(v, p(v)), bound.get(v)!) };
  eligibleItemsSql('content_items', '$1::uuid', NOW, values);
  // The filter and the cursor narrow the items before the rules evaluate them.
  const relation = (where: string) => {
    const base = `(SELECT * FROM content_items c${where})`;
    return eligibleItemsSql(page.narrowed ? eligibleItemsSql(base, '$1::uuid', NOW, values) : base, '$1::uuid', bulkTimes(asOf), values);
  };
  return keysetPage<ContentRow>(db, {
    select: (where) => `SELECT ${CONTENT_COLUMNS} FROM ${relation(where)} c`,
    count: (where) => `SELECT count(*)::int AS n FROM ${relation(where)} c`,
    where: contentFilterSql(page.filter, p),
    params,
    bind: p,
    key: byId('c.id'),
    first: page.first,
    after: page.after,
    run: (m, sql, ps) => serialPlan(m, (s) => s.query(sql, ps)),
    counting,
  });
}

/** Counts of evaluated and eligible items and of exclusions by reason, over the filtered items (checked by the caller). */
export async function reportCounts(
  db: EntityManager,
  policy: Policy,
  asOf: Date | null | undefined,
  filter: ContentFilter | undefined,
): Promise<{ evaluated: number; eligible: number; reasons: { reason: ReasonCode; count: number }[] }> {
  const { params, p } = sqlParams(...bulkParams(policy, asOf));
  const where = contentFilterSql(filter, p);
  const times = bulkTimes(asOf);
  const items = `(SELECT * FROM content_items c${where.length ? ` WHERE ${where.join(' AND ')}` : ''})`;
  const [row] = await db.query(
    `WITH r AS MATERIALIZED (SELECT ${reasonsSql(times)} AS reasons FROM ${evaluationFromSql({ items, policyId: '$1::uuid', times, policy: { values: policy, bind: p } })})
       SELECT (SELECT count(*)::int FROM r) AS evaluated,
              (SELECT count(*)::int FROM r WHERE cardinality(reasons) = 0) AS eligible,
              (SELECT coalesce(json_agg(json_build_object('reason', reason, 'count', n) ORDER BY n DESC, reason), '[]'::json)
                 FROM (SELECT reason, count(*)::int AS n FROM r, unnest(reasons) AS reason GROUP BY reason) x) AS reasons`,
    params,
  );
  return row;
}

/** Number of items eligible under a policy at an instant (none: now): the bulk path. */
export async function countEligible(db: EntityManager, policy: Policy, asOf: Date | null | undefined): Promise<number> {
  const { params, p } = sqlParams(...bulkParams(policy, asOf));
  const [row] = await db.query(
    `SELECT count(*)::int AS n FROM ${eligibleItemsSql('content_items', '$1::uuid', bulkTimes(asOf), { values: policy, bind: p })} c`,
    params,
  );
  return row.n;
}

/** Which of these items are eligible now under a policy. */
export async function eligibleNowAmong(db: EntityManager, policyId: string, itemIds: string[]): Promise<Set<string>> {
  const rows: { id: string }[] = await db.query(
    `SELECT c.id FROM ${eligibleItemsSql('(SELECT * FROM content_items WHERE id = ANY($2::uuid[]))', '$1::uuid', NOW)} c`,
    [policyId, itemIds],
  );
  return new Set(rows.map((r) => r.id));
}
