import crypto from 'node:crypto';
import type { EntityManager } from 'typeorm';
import { lockForTransaction, sqlParams, withParallelTupleCost } from '../../db/sql';
import { LOCK_NAMES } from '../../db/locks';
import { distributedTables, withFactsSettled } from '../../db/citus';
import { keysetPage } from '../../db/keyset';
import type { Connection } from '../../common/pagination';
import { evaluationFromSql, known, NOW, reasonsSql, unknownTo } from '../eligibility';
import type { Policy } from '../policies';
import {
  attachMemberPartition,
  createDistributedMemberPartition,
  keyDistributedMemberPartition,
  keyMemberPartition,
  memberPartitionName,
} from './dataset.partitions.store';
import {
  BUILD_WORKING_COLUMNS,
  buildTableSql,
  buildTableStatsSql,
  distributedBuildSql,
  eligibleCandidatesSql,
  MembershipInput,
  membersFromEligibleSql,
} from './dataset.membership.store';
import { type Client, copyOut } from './dataset.export.store';
import type { DatasetMember, DatasetOrigin, DatasetRow, DatasetsFilter, DatasetSpec } from './dataset.types';

/** The planner's cost of a row from a worker to the leader during a build's evaluation (db/sql withParallelTupleCost). */
export const BUILD_PARALLEL_TUPLE_COST = 0.01;

/**
 * The SQL of the datasets module's tables: datasets and dataset_members (its partitions: dataset.partitions.store, the
 * membership statements: dataset.membership.store). The datasets service keeps the rules and calls these.
 */

export const DATASET_COLUMNS = `d.id, d.name, d.version, d.policy_id AS "policyId", d.snapshot_at AS "snapshotAt",
  d.knowledge_snapshot::text AS "knowledgeSnapshot", d.requested_by AS "requestedBy", d.purpose,
  d.origin, d.spec, d.status, d.superseded_by AS "supersededBy", d.member_count AS "memberCount", d.candidate_count AS "candidateCount",
  d.exclusions, d.manifest_digest AS "manifestDigest", d.created_at AS "createdAt"`;

/** Confines rows to what the caller may see: the condition on `column`, binding through `p` (AccessService.ownerSql). */
type OwnerSql = (column: string, p: (value: unknown) => string) => string;

export function datasetsByIds(db: EntityManager, ids: string[]): Promise<DatasetRow[]> {
  return db.query(`SELECT ${DATASET_COLUMNS} FROM datasets d WHERE d.id = ANY($1::uuid[])`, [ids]);
}

/**
 * A keyset page of datasets, newest first, with the count of the list (its totalCount, when asked for): the key is
 * (created_at, id), the instant as text with microseconds (`cursorAt`) so that it survives JSON.
 */
export function datasetPage(
  db: EntityManager,
  filter: DatasetsFilter,
  owner: OwnerSql,
  first: number | undefined,
  after: string | undefined,
): Promise<Connection<DatasetRow & { cursorAt: string }>> {
  const { params, p } = sqlParams();
  const where: string[] = [];
  if (filter.name) where.push(`d.name = ${p(filter.name)}`);
  if (filter.status) where.push(`d.status = ${p(filter.status)}`);
  where.push(owner('d.requested_by', p));
  return keysetPage<DatasetRow & { cursorAt: string }>(db, {
    select: `SELECT ${DATASET_COLUMNS}, to_char(d.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS "cursorAt" FROM datasets d`,
    count: `SELECT count(*)::int AS n FROM datasets d`,
    where,
    params,
    bind: p,
    key: { columns: ['d.created_at', 'd.id'], shape: ['timestamp', 'uuid'], descending: true, of: (r) => [r.cursorAt, r.id] },
    first,
    after,
  });
}

/** Locks a version's row until commit (two remediations of one version must not both succeed) and returns its status. */
export async function lockDatasetStatus(db: EntityManager, id: string): Promise<string> {
  const [locked] = await db.query(`SELECT status FROM datasets WHERE id = $1 FOR UPDATE`, [id]);
  return locked.status;
}

export async function supersedeDataset(db: EntityManager, id: string, supersededBy: string): Promise<void> {
  await db.query(`UPDATE datasets SET status = 'SUPERSEDED', superseded_by = $2 WHERE id = $1`, [id, supersededBy]);
}

/** Builds of one name run one at a time until commit (each numbers its version after the last). */
export function lockDatasetName(db: EntityManager, name: string): Promise<void> {
  return lockForTransaction(db, LOCK_NAMES.dataset(name));
}

/** Whether dataset_members is distributed (Citus): a build then runs as statements on the workers. */
export async function membersDistributed(db: EntityManager): Promise<boolean> {
  return (await distributedTables(db)).has('dataset_members');
}

export interface MemberBuild {
  datasetId: string;
  policyId: string;
  /** The policy's values, bound as parameters. */
  policy: Policy;
  spec: DatasetSpec;
  distributed: boolean;
}

export interface BuildStats {
  snapshot: string;
  snapshot_at: Date;
  candidates: number;
  members: number;
  exclusions: unknown;
}

/**
 * Loads a version's members into its own partition, with one set-based statement for membership and exclusions (on
 * Citus, statements the workers run), keyed after the load. Returns the counts with the snapshot the membership was
 * evaluated on (the build's knowledge) and the manifest digest of the members loaded.
 */
export async function buildMembers(m: EntityManager, b: MemberBuild): Promise<{ stats: BuildStats; digest: string }> {
  const id = b.datasetId;
  const { params, p } = sqlParams(b.policyId, id);
  const policy = b.policy;
  const membership: MembershipInput = { spec: b.spec, policyId: '$1::uuid', times: NOW, p, policy: { values: policy, bind: p } };
  let part: string;
  let stats: BuildStats;
  let digest: string;
  if (b.distributed) {
    // Citus: the same evaluation as statements the workers run (dataset.membership.store distributedBuildSql). The
    // snapshot and the statement that reads the facts first, with no fact writer in flight (withFactsSettled), before
    // this build holds any lock a writer could wait for; then the partition, the members and the counts.
    const sql = distributedBuildSql(memberPartitionName(id), `'${id}'::uuid`);
    const evaluated = sqlParams(b.policyId);
    const knowledge = await withFactsSettled(m, async () => {
      const [k] = await m.query(`SELECT pg_current_snapshot()::text AS snapshot, clock_timestamp() AS snapshot_at`);
      await m.query(sql.candidates({ ...membership, p: evaluated.p, policy: { values: policy, bind: evaluated.p } }), evaluated.params);
      return k;
    });
    part = await createDistributedMemberPartition(m, id);
    const selected = sqlParams();
    await m.query(sql.members({ ...membership, p: selected.p }), selected.params);
    const [counts] = await m.query(sql.stats);
    await m.query(sql.cleanup);
    await keyDistributedMemberPartition(m, part);
    stats = { ...knowledge, ...counts };
    ({ digest } = await manifestDigest(m, part));
  } else {
    // One statement evaluates and loads (in parallel where the database can); the counts and the snapshot come out of
    // the loaded table; then it is digested (its lines are the members, counted), shaped, keyed and attached.
    part = memberPartitionName(id);
    // Every candidate goes to the leader (the members and the counts come from them): priced as cheap as it is.
    await withParallelTupleCost(m, BUILD_PARALLEL_TUPLE_COST, () => m.query(buildTableSql(membership, part, '$2::uuid'), params));
    const [counts] = await m.query(buildTableStatsSql(part));
    // Before the keys: on the bare table the digest's order is a sort, not a walk of the new key in the heap's random
    // order (which the planner picks once the key exists, and which is slower).
    const digested = await manifestDigest(m, part);
    stats = { ...counts, members: digested.lines };
    digest = digested.digest;
    await keyMemberPartition(m, part, id, BUILD_WORKING_COLUMNS);
    await attachMemberPartition(m, part, id);
  }
  return { stats, digest };
}

/**
 * The manifest digest (README "Manifest digest") of the members in `relation` that satisfy `where`, streamed, with the
 * number of its lines (one per member): COPY's text lines of (item_id, content_hash) in id order are exactly the
 * digest's lines (a uuid, and a hash its CHECK keeps to lower-case hex, have nothing to escape), hashed as they arrive
 * on the transaction's own connection. No text of every member is built (an aggregate's would cost memory in
 * proportion to the members and stop at 1 GB, PostgreSQL's limit, at about ten million members); the sort spills to
 * disk as any sort does. A build digests its own partition; the bench digests a version in either layout.
 */
export async function manifestDigest(db: EntityManager, relation: string, where = 'true'): Promise<{ digest: string; lines: number }> {
  const client = (db.queryRunner as { databaseConnection?: Client } | undefined)?.databaseConnection;
  if (!client) throw new Error('a manifest digest is taken on a connection of its own transaction');
  const hash = crypto.createHash('sha256');
  let lines = 0;
  for await (const chunk of copyOut(client, `SELECT item_id, content_hash FROM ${relation} WHERE ${where} ORDER BY item_id`)) {
    hash.update(chunk);
    for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) lines++;
  }
  return { digest: hash.digest('hex'), lines };
}

export interface NewDataset {
  id: string;
  name: string;
  policyId: string;
  requestedBy: string;
  purpose: string | null;
  origin: DatasetOrigin;
  spec: DatasetSpec;
  stats: BuildStats;
  digest: string;
}

/** The version row, numbered after the last version of its name (the caller holds lockDatasetName). */
export async function insertDataset(db: EntityManager, d: NewDataset): Promise<void> {
  const { stats } = d;
  // No RETURNING: Citus 13.2 deparses this INSERT … SELECT on one reference table with `RETURNING datasets.id` while
  // aliasing the scanned copy, which the worker refuses (missing FROM-clause entry); the id is known anyway.
  await db.query(
    `INSERT INTO datasets (id, name, version, policy_id, snapshot_at, knowledge_snapshot, requested_by, purpose, origin, spec, member_count, candidate_count,
         exclusions, manifest_digest)
       SELECT $1, $2, coalesce(max(version), 0) + 1, $3, $12, $13::pg_snapshot, $4, $5, $6, $7, $8, $9, $10, $11 FROM datasets WHERE name = $2`,
    [
      d.id,
      d.name,
      d.policyId,
      d.requestedBy,
      d.purpose,
      d.origin,
      JSON.stringify(d.spec),
      stats.members,
      stats.candidates,
      JSON.stringify(stats.exclusions),
      d.digest,
      stats.snapshot_at,
      stats.snapshot,
    ],
  );
}

/** A keyset page of a version's members ordered by item id. */
export function memberPage(
  db: EntityManager,
  dataset: Pick<DatasetRow, 'id' | 'memberCount'>,
  first: number | undefined,
  after: string | undefined,
): Promise<Connection<DatasetMember>> {
  const { params, p } = sqlParams();
  return keysetPage<DatasetMember>(db, {
    select: `SELECT item_id AS "itemId", content_hash AS "contentHash" FROM dataset_members`,
    where: [`dataset_id = ${p(dataset.id)}`],
    params,
    bind: p,
    key: { columns: ['item_id'], shape: ['uuid'], of: (r) => [r.itemId] },
    // The version's members are fixed at its build: its recorded member count, not a count of the rows.
    total: async () => dataset.memberCount,
    first,
    after,
  });
}

export interface TaintRow {
  dataset_id: string;
  n: number;
  reasons: { reason: string; count: number }[];
}

/**
 * Members of each dataset that are ineligible now, counted by reason, in one statement: only members touched by a
 * fact the build's snapshot did not know are re-evaluated (DatasetService.taint says why that suffices). Datasets
 * with no such member have no row.
 */
export function taintedMembers(db: EntityManager, datasetIds: string[]): Promise<TaintRow[]> {
  const unknown = (xid: string, at: string) => unknownTo('ds.s', 'ds.at', xid, at);
  return db.query(
    `WITH ds AS (SELECT id, policy_id, snapshot_at AS at, knowledge_snapshot AS s FROM datasets WHERE id = ANY($1::uuid[])),
       -- People touched, apart (MATERIALIZED): Citus cannot join a UNION of reference tables to a distributed one.
       people AS MATERIALIZED (
         SELECT ds.id AS dataset_id, a.user_id FROM ds
           CROSS JOIN LATERAL (
             SELECT e.user_id FROM consent_events e WHERE ${unknown('e.recorded_xid', 'e.recorded_at')}
             UNION SELECT h.user_id FROM user_attribute_history h WHERE ${unknown('h.superseded_xid', 'h.superseded_at')}
             UNION SELECT u.id FROM users u WHERE u.erased_at IS NOT NULL AND ${unknown('u.erasure_xid', 'u.erased_at')}
             UNION SELECT u.id FROM users u WHERE u.deleted_at IS NOT NULL AND ${unknown('u.deletion_xid', 'u.deletion_recorded_at')}
             -- versions built before snapshots were kept: any change to the person since
             UNION SELECT u.id FROM users u WHERE ds.s IS NULL AND u.updated_at > ds.at) a
       ),
       touched AS (
         SELECT a.dataset_id, m.item_id, m.author_id FROM people a
           JOIN dataset_members m ON m.dataset_id = a.dataset_id AND m.author_id = a.user_id
         UNION
         SELECT ds.id, m.item_id, m.author_id FROM ds
           CROSS JOIN LATERAL (
             SELECT v.item_id AS id, v.author_id FROM visibility_changes v WHERE ${unknown('v.recorded_xid', 'v.recorded_at')}
             UNION SELECT c.id, c.author_id FROM content_items c WHERE c.deleted_at IS NOT NULL AND ${unknown('c.deletion_xid', 'c.deletion_recorded_at')}
             UNION SELECT h.item_id, h.author_id FROM content_label_history h WHERE ${unknown('h.superseded_xid', 'h.superseded_at')}
             UNION SELECT c.id, c.author_id FROM content_items c WHERE ds.s IS NULL AND c.updated_at > ds.at) i
           JOIN dataset_members m ON m.dataset_id = ds.id AND m.item_id = i.id AND m.author_id = i.author_id
       ),
       r AS (
         SELECT c.dataset_id, ${reasonsSql(NOW)} AS reasons
         FROM ${evaluationFromSql({
           items: `(SELECT ci.*, t.dataset_id, ds.policy_id AS eval_policy_id FROM touched t JOIN ds ON ds.id = t.dataset_id JOIN content_items ci ON ci.id = t.item_id AND ci.author_id = t.author_id)`,
           policyId: 'c.eval_policy_id',
           times: NOW,
           policyPerRow: true,
         })}
       )
       SELECT dataset_id, count(*) FILTER (WHERE cardinality(reasons) > 0)::int AS n,
              coalesce((SELECT json_agg(json_build_object('reason', reason, 'count', k) ORDER BY k DESC, reason)
                        FROM (SELECT reason, count(*)::int AS k FROM r r2, unnest(r2.reasons) reason WHERE r2.dataset_id = r.dataset_id GROUP BY reason) x), '[]'::json) AS reasons
       FROM r GROUP BY dataset_id`,
    [datasetIds],
  );
}

export interface VerificationCounts {
  members: number;
  expected: number;
  missing: number;
  unexpected: number;
  unverifiable: number;
}

/**
 * A version's membership re-evaluated with exactly the knowledge of its snapshot, compared with its members; members
 * of people erased since (their birth date is gone) are counted as unverifiable and left out of the comparison.
 */
export async function verificationCounts(db: EntityManager, dataset: DatasetRow): Promise<VerificationCounts> {
  const { params, p } = sqlParams(dataset.policyId, dataset.snapshotAt, dataset.id, dataset.knowledgeSnapshot);
  const knowledge = { snapshot: '$4::pg_snapshot', at: '$2::timestamptz' };
  const times = { asOf: '$2::timestamptz', knowledge };
  const spec = dataset.spec;
  const m = { spec, policyId: '$1::uuid', times, p };
  const expected = membersFromEligibleSql(m, eligibleCandidatesSql(m));
  const [row] = await db.query(
    `WITH expected AS MATERIALIZED (SELECT id FROM ${expected} x),
            actual AS MATERIALIZED (SELECT item_id AS id FROM dataset_members WHERE dataset_id = $3),
            unverifiable AS MATERIALIZED (
              SELECT c.id FROM content_items c JOIN users u ON u.id = c.author_id
              WHERE c.id IN (SELECT id FROM actual UNION SELECT id FROM expected)
                AND u.erased_at IS NOT NULL AND NOT ${known(knowledge, 'u.erasure_xid', 'u.erased_at')})
       SELECT (SELECT count(*)::int FROM actual) AS members,
              (SELECT count(*)::int FROM expected) AS expected,
              (SELECT count(*)::int FROM expected e WHERE NOT EXISTS (SELECT 1 FROM actual a WHERE a.id = e.id) AND e.id NOT IN (SELECT id FROM unverifiable)) AS missing,
              (SELECT count(*)::int FROM actual a WHERE NOT EXISTS (SELECT 1 FROM expected e WHERE e.id = a.id) AND a.id NOT IN (SELECT id FROM unverifiable)) AS unexpected,
              (SELECT count(*)::int FROM unverifiable) AS unverifiable`,
    params,
  );
  return row;
}

/** A dataset's members counted by platform, kind, language and the authors' country (a card's breakdowns). */
export function cardBreakdown(db: EntityManager, datasetId: string): Promise<{ dim: string; key: string; count: number }[]> {
  return db.query(
    // Counts by all four first (on Citus, a distributed aggregate the workers compute by shard), then the four
    // breakdowns from those few rows: Citus runs no GROUPING SETS over distributed tables.
    `WITH c AS MATERIALIZED (
       SELECT c.platform, c.kind, c.language, u.country, count(*) AS n
       FROM dataset_members m JOIN content_items c ON c.id = m.item_id AND c.author_id = m.author_id JOIN users u ON u.id = m.author_id
       WHERE m.dataset_id = $1
       GROUP BY c.platform, c.kind, c.language, u.country)
     SELECT CASE WHEN GROUPING(c.platform) = 0 THEN 'platform' WHEN GROUPING(c.kind) = 0 THEN 'kind' WHEN GROUPING(c.language) = 0 THEN 'language' ELSE 'country' END AS dim,
            coalesce(c.platform, c.kind, c.language, c.country) AS key, sum(c.n)::int AS count
     FROM c
     GROUP BY GROUPING SETS ((c.platform), (c.kind), (c.language), (c.country))
     ORDER BY dim, count DESC, key`,
    [datasetId],
  );
}

/** A dataset's lineage neighbours (datasets and training runs), with their owners. */
export function cardNeighbours(
  db: EntityManager,
  datasetId: string,
): Promise<{ id: string; label: string; relation: string; direction: string; owner: string }[]> {
  return db.query(
    `SELECT CASE WHEN e.downstream_id = $1 THEN e.upstream_id ELSE e.downstream_id END AS id,
            CASE WHEN e.downstream_id = $1 THEN 'up' ELSE 'down' END AS direction, e.type AS relation,
            coalesce(d.name || ' v' || d.version, r.model_name || ' ' || r.model_version) AS label,
            coalesce(d.requested_by, r.recorded_by) AS owner
     FROM lineage_edges e
     LEFT JOIN datasets d ON d.id = CASE WHEN e.downstream_id = $1 THEN e.upstream_id ELSE e.downstream_id END
     LEFT JOIN training_runs r ON r.id = CASE WHEN e.downstream_id = $1 THEN e.upstream_id ELSE e.downstream_id END
     WHERE e.upstream_id = $1 OR e.downstream_id = $1 ORDER BY e.id`,
    [datasetId],
  );
}
