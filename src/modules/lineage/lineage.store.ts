import type { EntityManager } from 'typeorm';
import { sqlParams } from '../../db/sql';
import { byId, keysetPage } from '../../db/keyset';
import type { Connection } from '../../common/pagination';
import { DATASET_COLUMNS, DatasetRow } from '../datasets';
import { LineageDirection, LineageGraph, LineageNodeKind, TrainingRunReview, TrainingRunRow } from './lineage.types';

/**
 * The SQL of the lineage module's tables: training_runs, training_run_reviews and lineage_edges, of which it is the
 * only writer (a derivation's or remediation's edges too: DatasetService records them through `datasetLineage`).
 * Walks and footprints read datasets, their members and content alongside.
 */

export const RUN_COLUMNS = `r.id, r.model_name AS "modelName", r.model_version AS "modelVersion", r.description, r.recorded_by AS "recordedBy", r.created_at AS "createdAt"`;

/** Confines rows to what the caller may see: the condition on `column`, binding through `p` (AccessService.ownerSql). */
type OwnerSql = (column: string, p: (value: unknown) => string) => string;

/**
 * The walk, as one recursive query: UNION (not UNION ALL) so that each (node, depth) is visited once, which makes it
 * cycle-safe together with the depth cap. UPSTREAM follows edges to their sources, DOWNSTREAM to what was made from them.
 */
export function lineageWalkSql(direction: 'UP' | 'DOWN', start: string, depth: string): string {
  const [from, to] = direction === 'UP' ? ['downstream_id', 'upstream_id'] : ['upstream_id', 'downstream_id'];
  return `WITH RECURSIVE walk(node, depth) AS (
      SELECT ${start}, 0
      UNION
      SELECT e.${to}, w.depth + 1 FROM walk w JOIN lineage_edges e ON e.${from} = w.node WHERE w.depth < ${depth}
    )
    SELECT node, min(depth)::int AS depth FROM walk GROUP BY node`;
}

export function trainingRunsByIds(db: EntityManager, ids: string[]): Promise<TrainingRunRow[]> {
  return db.query(`SELECT ${RUN_COLUMNS} FROM training_runs r WHERE r.id = ANY($1::uuid[])`, [ids]);
}

/** A keyset page of training runs ordered by id, with the count of the list (its totalCount, when asked for). */
export function trainingRunPage(
  db: EntityManager,
  modelName: string | undefined,
  owner: OwnerSql,
  first: number | undefined,
  after: string | undefined,
): Promise<Connection<TrainingRunRow>> {
  const { params, p } = sqlParams();
  const where: string[] = [owner('r.recorded_by', p)];
  if (modelName) where.push(`r.model_name = ${p(modelName)}`);
  return keysetPage<TrainingRunRow>(db, {
    select: `SELECT ${RUN_COLUMNS} FROM training_runs r`,
    count: `SELECT count(*)::int AS n FROM training_runs r`,
    where,
    params,
    bind: p,
    key: byId('r.id'),
    first,
    after,
  });
}

/** The new run's id, or undefined when the model version is already recorded. */
export async function insertTrainingRun(
  db: EntityManager,
  run: { modelName: string; modelVersion: string; description: string | null; recordedBy: string },
): Promise<string | undefined> {
  const [row] = await db.query(
    `INSERT INTO training_runs (model_name, model_version, description, recorded_by) VALUES ($1, $2, $3, $4)
       ON CONFLICT (model_name, model_version) DO NOTHING RETURNING id`,
    [run.modelName, run.modelVersion, run.description, run.recordedBy],
  );
  return row?.id;
}

/** TRAINED_ON edges from the datasets a run consumed to the run. */
export async function insertTrainedOnEdges(db: EntityManager, datasetIds: string[], runId: string): Promise<void> {
  await db.query(`INSERT INTO lineage_edges (upstream_id, downstream_id, type) SELECT d, $2, 'TRAINED_ON' FROM unnest($1::uuid[]) AS d`, [
    datasetIds,
    runId,
  ]);
}

/** DERIVED_FROM or REMEDIATED_FROM edges from the parents to a new dataset version, with the transformation. */
export async function insertDatasetEdges(
  db: EntityManager,
  upstream: string[],
  downstream: string,
  type: 'DERIVED_FROM' | 'REMEDIATED_FROM',
  transformation: unknown,
): Promise<void> {
  await db.query(
    `INSERT INTO lineage_edges (upstream_id, downstream_id, type, transformation) SELECT u, $2, $3, $4 FROM unnest($1::uuid[]) AS u`,
    [upstream, downstream, type, JSON.stringify(transformation)],
  );
}

export async function insertRunReview(
  db: EntityManager,
  review: { runId: string; decision: string; reason: string; taintedMembers: number; reviewer: string },
): Promise<void> {
  await db.query(`INSERT INTO training_run_reviews (run_id, decision, reason, tainted_members, reviewer) VALUES ($1, $2, $3, $4, $5)`, [
    review.runId,
    review.decision,
    review.reason,
    review.taintedMembers,
    review.reviewer,
  ]);
}

/** The parents (DERIVED_FROM and REMEDIATED_FROM upstreams) of the datasets `ids`, each row with its `child`. */
export function parentDatasets(db: EntityManager, ids: string[]): Promise<(DatasetRow & { child: string })[]> {
  return db.query(
    `SELECT e.downstream_id AS child, ${DATASET_COLUMNS} FROM lineage_edges e JOIN datasets d ON d.id = e.upstream_id
       WHERE e.downstream_id = ANY($1::uuid[]) AND e.type IN ('DERIVED_FROM','REMEDIATED_FROM') ORDER BY d.created_at`,
    [ids],
  );
}

/** The dataset versions each of the runs consumed, each row with its `run`. */
export function datasetsOfRuns(db: EntityManager, runIds: string[]): Promise<(DatasetRow & { run: string })[]> {
  return db.query(
    `SELECT e.downstream_id AS run, ${DATASET_COLUMNS} FROM lineage_edges e JOIN datasets d ON d.id = e.upstream_id
       WHERE e.type = 'TRAINED_ON' AND e.downstream_id = ANY($1::uuid[]) ORDER BY d.name, d.version`,
    [runIds],
  );
}

/** Reviews of the runs, newest first, each row with its `runId`. */
export function reviewsOfRuns(db: EntityManager, runIds: string[]): Promise<(TrainingRunReview & { runId: string })[]> {
  return db.query(
    `SELECT run_id AS "runId", id, decision, reason, tainted_members AS "taintedMembers", reviewer, reviewed_at AS "reviewedAt"
       FROM training_run_reviews WHERE run_id = ANY($1::uuid[]) ORDER BY reviewed_at DESC, id DESC`,
    [runIds],
  );
}

/** Who made the dataset or run `nodeId` (the start of a walk), or undefined when there is none. */
export async function nodeOwner(db: EntityManager, nodeId: string): Promise<string | undefined> {
  const [start] = await db.query(
    `SELECT requested_by AS owner FROM datasets WHERE id = $1 UNION ALL SELECT recorded_by FROM training_runs WHERE id = $1`,
    [nodeId],
  );
  return start?.owner;
}

export interface LineageNodeRow {
  id: string;
  depth: number;
  kind: LineageNodeKind;
  label: string | null;
  status: string | null;
  owner: string;
  frontier: boolean;
}

/**
 * The nodes of a walk from `nodeId` (at most `limit`, nearest first), with their owner and whether the depth cut
 * edges beyond them (`frontier`).
 */
export function lineageNodes(
  db: EntityManager,
  nodeId: string,
  direction: LineageDirection,
  depth: number,
  limit: number,
): Promise<LineageNodeRow[]> {
  const walks: string[] = [];
  if (direction !== LineageDirection.DOWNSTREAM)
    walks.push(`SELECT node, depth, 'UP' AS dir FROM (${lineageWalkSql('UP', '$1::uuid', '$2::int')}) up`);
  if (direction !== LineageDirection.UPSTREAM)
    walks.push(`SELECT node, depth, 'DOWN' AS dir FROM (${lineageWalkSql('DOWN', '$1::uuid', '$2::int')}) down`);
  return db.query(
    `WITH visited AS MATERIALIZED (SELECT node, min(depth) AS depth, bool_or(dir = 'UP') AS up, bool_or(dir = 'DOWN') AS down FROM (${walks.join(' UNION ALL ')}) w GROUP BY node),
            limited AS MATERIALIZED (SELECT * FROM visited ORDER BY depth, node LIMIT ${limit})
       SELECT l.node AS id, l.depth,
              CASE WHEN d.id IS NOT NULL THEN 'DATASET' ELSE 'TRAINING_RUN' END AS kind,
              coalesce(d.name || ' v' || d.version, r.model_name || ' ' || r.model_version) AS label,
              d.status, coalesce(d.requested_by, r.recorded_by) AS owner,
              (l.depth = $2 AND (
                 (l.up AND EXISTS (SELECT 1 FROM lineage_edges e WHERE e.downstream_id = l.node)) OR
                 (l.down AND EXISTS (SELECT 1 FROM lineage_edges e WHERE e.upstream_id = l.node)))) AS frontier
       FROM limited l LEFT JOIN datasets d ON d.id = l.node LEFT JOIN training_runs r ON r.id = l.node
       ORDER BY l.depth, l.node`,
    [nodeId, depth],
  );
}

/** The edges between the nodes `ids`. */
export function edgesAmong(db: EntityManager, ids: string[]): Promise<LineageGraph['edges']> {
  return db.query(
    `SELECT upstream_id AS "upstreamId", downstream_id AS "downstreamId", type, transformation FROM lineage_edges
       WHERE upstream_id = ANY($1::uuid[]) AND downstream_id = ANY($1::uuid[]) ORDER BY id`,
    [ids],
  );
}

/** How many content items the person produced. */
export async function authoredItemCount(db: EntityManager, userId: string): Promise<number> {
  const [{ n }] = await db.query(`SELECT count(*)::int AS n FROM content_items WHERE author_id = $1`, [userId]);
  return n;
}

/** The dataset versions holding the person's content that the caller may see, with how many of their items each holds. */
export function datasetsHoldingAuthor(db: EntityManager, userId: string, owner: OwnerSql): Promise<(DatasetRow & { items: number })[]> {
  const { params, p } = sqlParams(userId);
  return db.query(
    `SELECT h.items, ${DATASET_COLUMNS} FROM (SELECT dataset_id, count(*)::int AS items FROM dataset_members WHERE author_id = $1 GROUP BY dataset_id) h
       JOIN datasets d ON d.id = h.dataset_id WHERE ${owner('d.requested_by', p)} ORDER BY d.name, d.version`,
    params,
  );
}

/** The runs trained on any of the datasets, each with those of them it consumed (`via`, in id order). */
export function runsTrainedOn(db: EntityManager, datasetIds: string[]): Promise<{ run: string; via: string[] }[]> {
  return db.query(
    `SELECT downstream_id AS run, array_agg(upstream_id ORDER BY upstream_id) AS via FROM lineage_edges
       WHERE type = 'TRAINED_ON' AND upstream_id = ANY($1::uuid[]) GROUP BY downstream_id`,
    [datasetIds],
  );
}
