import { contentFilterSql } from '../content';
import type { ContentFilter } from '../content';
import {
  eligibleSql,
  EvaluationSql,
  evaluationFromSql,
  itemsAsKnownSql,
  reasonCountsFromMasksSql,
  reasonMaskSql,
  reasonsSql,
  RuleTimes,
} from '../eligibility';
import { DeriveOperation, DatasetSpec } from './dataset.types';

/**
 * How a dataset's membership is computed, as SQL. The build and the build verification both render it, at the
 * snapshot's times, so that re-evaluation replays exactly what the build did. Parameters are bound by the caller
 * through `p` (returns the placeholder).
 */
export interface MembershipInput {
  spec: DatasetSpec;
  /** SQL expression of the policy id. */
  policyId: string;
  /** T and the knowledge: a build evaluates now with what its statement sees; verification, with the build's snapshot. */
  times: RuleTimes;
  p: (value: unknown) => string;
  /** The policy's values, bound as parameters (see EvaluationSql.policy); otherwise read by id. */
  policy?: EvaluationSql['policy'];
}

/** Deterministic sampling hash of an item id and a seed, in [0, 2^32). */
export const sampleHashSql = (idSql: string, seed: string) =>
  `(('x' || substr(md5(${idSql}::text || ':' || ${seed}), 1, 8))::bit(32)::bigint)`;

/**
 * The candidate items (content_items' columns): filtered content, or the members of the parent versions; with a
 * snapshot's knowledge, only items known to it, with their labels as known.
 */
export function candidatesSql(m: MembershipInput): string {
  // The stored filters are the content filter's fields (instants as ISO text, which PostgreSQL casts the same way),
  // checked when the version was requested.
  const conds = contentFilterSql(m.spec.filters as ContentFilter | undefined, m.p);
  if (m.spec.parents?.length) {
    conds.push(
      `(c.id, c.author_id) IN (SELECT item_id, author_id FROM dataset_members WHERE dataset_id = ANY(${m.p(m.spec.parents)}::uuid[]))`,
    );
  }
  return itemsAsKnownSql(m.times.knowledge, conds);
}

/**
 * The members (id, author_id, content_hash) that the spec selects among eligible candidates: eligibility, then the
 * deterministic sample, then DEDUPLICATE's one-item-per-hash, then the cap.
 */
export function membersFromEligibleSql(m: MembershipInput, eligible: string): string {
  const { sample, cap, operation } = m.spec;
  const where = sample
    ? `WHERE ${sampleHashSql('e.id', m.p(String(sample.seed)))} < ${m.p(Math.floor(sample.rate * 2 ** 32))}::bigint`
    : '';
  let rel = `SELECT e.id, e.author_id, e.content_hash FROM ${eligible} e ${where}`;
  if (operation === DeriveOperation.DEDUPLICATE)
    rel = `SELECT DISTINCT ON (content_hash) id, author_id, content_hash FROM (${rel}) d ORDER BY content_hash, id`;
  if (cap != null) {
    rel = `SELECT id, author_id, content_hash FROM (${rel}) k ORDER BY ${sampleHashSql('k.id', m.p(String(sample?.seed ?? 0)))}, k.id LIMIT ${m.p(cap)}`;
  }
  return `(${rel})`;
}

/** Eligible candidates as a relation (the bulk predicate of eligibility.rules). */
export function eligibleCandidatesSql(m: MembershipInput): string {
  return `(SELECT c.* FROM ${evaluationFromSql({ items: candidatesSql(m), policyId: m.policyId, times: m.times })} WHERE ${eligibleSql(m.times)})`;
}

/** Every candidate with the reasons that exclude it (none: eligible): id, author_id, content_hash, reasons. */
function evaluatedCandidatesSql(m: MembershipInput): string {
  return `SELECT c.id, c.author_id, c.content_hash, ${reasonsSql(m.times)} AS reasons
      FROM ${evaluationFromSql({ items: candidatesSql(m), policyId: m.policyId, times: m.times, policy: m.policy })}`;
}

/**
 * The exclusion counts by reason, as a JSON array: of evaluated candidates `rel` (with a `reasons` column), or
 * already counted (`evaluated` false: `rel` has reason and n).
 */
const exclusionsSql = (
  rel: string,
  evaluated = true,
) => `(SELECT coalesce(json_agg(json_build_object('reason', reason, 'count', n) ORDER BY n DESC, reason), '[]'::json)
              FROM ${evaluated ? `(SELECT reason, count(*)::int AS n FROM ${rel}, unnest(reasons) AS reason GROUP BY reason) x` : rel})`;

/** The working columns of a table built by buildTableSql, dropped by buildTableStatsSql's caller before it is keyed. */
export const BUILD_WORKING_COLUMNS = ['mask', 'n', 'snapshot', 'snapshot_at'];

/**
 * One statement for a build: creates `table` (dataset_members' columns, then the working columns) from one evaluation of
 * every candidate (all reasons, as a bit mask: reasonMaskSql), as rows of three kinds:
 *
 * - the selected eligible candidates, the members (working columns NULL);
 * - one row per mask: how many candidates have it (`mask`, `n`; item_id NULL);
 * - one row with the snapshot the statement ran on and the wall-clock time after it was taken (the build's knowledge:
 *   exactly the facts committed before, and none after; see eligibility.rules Knowledge).
 *
 * A CREATE TABLE … AS, not an INSERT: PostgreSQL evaluates its query with parallel workers (an INSERT, or a statement
 * with a data-modifying CTE, runs on one core), and the evaluation is most of a build. buildTableStatsSql then takes the
 * counts and the snapshot out of the table.
 */
export function buildTableSql(m: MembershipInput, table: string, datasetId: string): string {
  return `CREATE TABLE ${table} AS
    WITH r AS MATERIALIZED (
      SELECT c.id, c.author_id, c.content_hash, ${reasonMaskSql(m.times)} AS mask
      FROM ${evaluationFromSql({ items: candidatesSql(m), policyId: m.policyId, times: m.times, policy: m.policy })}
    )
    SELECT ${datasetId} AS dataset_id, s.id AS item_id, s.author_id, s.content_hash,
           NULL::int AS mask, NULL::int AS n, NULL::text AS snapshot, NULL::timestamptz AS snapshot_at
      FROM ${membersFromEligibleSql(m, `(SELECT * FROM r WHERE mask = 0)`)} s
    UNION ALL SELECT NULL, NULL, NULL, NULL, mask, count(*)::int, NULL, NULL FROM r GROUP BY mask
    UNION ALL SELECT NULL, NULL, NULL, NULL, NULL, NULL, pg_current_snapshot()::text, clock_timestamp()`;
}

/**
 * Takes the counts and the snapshot rows out of a table built by buildTableSql, and returns the build's stats but the
 * member count (the manifest digest's lines count the rows that remain, in the scan it makes anyway): how many
 * candidates there were, the exclusion counts by reason (from the candidates counted per mask) and the snapshot with
 * its time.
 */
export function buildTableStatsSql(table: string): string {
  return `WITH x AS (DELETE FROM ${table} WHERE item_id IS NULL RETURNING mask, n, snapshot, snapshot_at),
      g AS (SELECT mask, n FROM x WHERE mask IS NOT NULL)
    SELECT (SELECT snapshot FROM x WHERE snapshot IS NOT NULL) AS snapshot,
           (SELECT snapshot_at FROM x WHERE snapshot IS NOT NULL) AS snapshot_at,
           (SELECT coalesce(sum(n), 0)::int FROM g) AS candidates,
           ${exclusionsSql(`(${reasonCountsFromMasksSql('g')}) x`, false)} AS exclusions`;
}

/**
 * The same build as statements that Citus runs on the workers, for a cluster (deploy/citus/distribute.sql), where the
 * one statement above would be gathered on the coordinator. `target` is a partition of dataset_members (distributed
 * with it), and every statement reads or writes tables distributed by author, co-located, joined with reference
 * tables, so each worker evaluates and writes its own authors' items:
 *
 * 1. `candidates`: every candidate with its reasons into dataset_build_candidates under the build's id;
 * 2. `members`: the selected eligible ones from there into `target` (a cap or DEDUPLICATE orders or groups across all
 *    authors, which Citus does on the coordinator: say so to whoever asks for them);
 * 3. `stats`: candidates, members and exclusions counted from the same rows;
 * 4. `cleanup`: the build's candidate rows deleted.
 *
 * `datasetId` is an SQL literal (the statements bind different parameters, each its own).
 *
 * All four read one evaluation (step 1's), so the counts and the members agree. The knowledge is the coordinator's
 * snapshot, taken before step 1 by the caller (README "Distributed PostgreSQL": what that guarantees on a cluster).
 */
export function distributedBuildSql(target: string, datasetId: string) {
  const mine = `dataset_build_candidates WHERE build_id = ${datasetId}`;
  return {
    // Each statement binds its own parameters (`m.p`): the dataset id is a literal.
    candidates: (m: MembershipInput) => `INSERT INTO dataset_build_candidates (build_id, item_id, author_id, content_hash, reasons)
      SELECT ${datasetId}, id, author_id, content_hash, reasons FROM (${evaluatedCandidatesSql(m)}) r`,
    members: (m: MembershipInput) => `INSERT INTO ${target} (dataset_id, item_id, author_id, content_hash)
      SELECT ${datasetId}, id, author_id, content_hash
      FROM ${membersFromEligibleSql(m, `(SELECT item_id AS id, author_id, content_hash FROM ${mine} AND cardinality(reasons) = 0)`)} s`,
    stats: `WITH x AS (SELECT reason, count(*)::int AS n FROM dataset_build_candidates, unnest(reasons) AS reason WHERE build_id = ${datasetId} GROUP BY reason),
        c AS (SELECT count(*)::int AS n FROM ${mine}),
        mem AS (SELECT count(*)::int AS n FROM ${target})
      SELECT (SELECT n FROM c) AS candidates, (SELECT n FROM mem) AS members, ${exclusionsSql('x', false)} AS exclusions`,
    cleanup: `DELETE FROM ${mine}`,
  };
}
