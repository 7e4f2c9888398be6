import type { RequestContext } from '../../context';
import { DomainError, ErrorCode, Problems, shown } from '../../common/errors';
import { Connection, decodeCursor, lazyTotal, pageSize, toConnection } from '../../common/pagination';
import { checkString, MAX_FREE_TEXT } from '../../common/validate';
import type { MutationOutcome } from '../audit/audited-mutation';
import { inKeyOrder, isUuid } from '../../common/ids';
import { sqlParams } from '../../common/sql';
import { DATASET_COLUMNS } from '../datasets/dataset.service';
import { DatasetRow, DatasetTaint, ReviewStatus } from '../datasets/dataset.types';
import {
  LineageDirection, LineageGraph, LineageNodeKind, SubjectFootprint, TrainingRunPayload, TrainingRunRecordInput, TrainingRunReview, TrainingRunReviewInput,
  TrainingRunRow,
} from './lineage.types';

export const DEFAULT_DEPTH = 5;
export const MAX_DEPTH = 50;
export const MAX_NODES = 10000;

const RUN_COLUMNS = `r.id, r.model_name AS "modelName", r.model_version AS "modelVersion", r.description, r.recorded_by AS "recordedBy", r.created_at AS "createdAt"`;

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

/** Training runs, their reviews, lineage walks and a person's footprint. */
export class LineageService {
  async runsByIds(ctx: RequestContext, ids: readonly string[]): Promise<(TrainingRunRow | undefined)[]> {
    const rows: TrainingRunRow[] = await ctx.manager.query(`SELECT ${RUN_COLUMNS} FROM training_runs r WHERE r.id = ANY($1::uuid[])`, [ids.filter(isUuid)]);
    return inKeyOrder(ids, rows);
  }

  async run(ctx: RequestContext, id: string): Promise<TrainingRunRow> {
    const run = isUuid(id) ? await ctx.loaders.trainingRun.load(id) : undefined;
    if (!run || !ctx.services.access.sees(ctx, run.recordedBy)) throw new DomainError(ErrorCode.NOT_FOUND, `No training run ${shown(id)}`, 'runId');
    return run;
  }

  async listRuns(ctx: RequestContext, modelName: string | undefined, first?: number, after?: string): Promise<Connection<TrainingRunRow>> {
    const limit = pageSize(first);
    const cursor = decodeCursor(after, ['uuid']);
    const { params, p } = sqlParams();
    const where: string[] = [ctx.services.access.ownerSql(ctx, 'r.recorded_by', p)];
    if (modelName) where.push(`r.model_name = ${p(modelName)}`);
    const countWhere = `WHERE ${where.join(' AND ')}`;
    const countParams = [...params];
    if (cursor) where.push(`r.id > ${p(cursor[0])}::uuid`);
    const rows: TrainingRunRow[] = await ctx.manager.query(
      `SELECT ${RUN_COLUMNS} FROM training_runs r WHERE ${where.join(' AND ')} ORDER BY r.id LIMIT ${limit + 1}`,
      params,
    );
    return lazyTotal(toConnection(rows, limit, (r) => [r.id], (r) => r), async () => (await ctx.manager.query(`SELECT count(*)::int AS n FROM training_runs r ${countWhere}`, countParams))[0].n);
  }

  /** trainingRunRecord: a model version and the dataset versions it consumed (TRAINED_ON edges). */
  async recordRun(ctx: RequestContext, input: TrainingRunRecordInput): Promise<MutationOutcome<TrainingRunPayload>> {
    const problems = new Problems();
    checkString(problems, 'modelName', input.modelName, { required: true, max: 200 });
    checkString(problems, 'modelVersion', input.modelVersion, { required: true, max: 100 });
    checkString(problems, 'description', input.description, { max: MAX_FREE_TEXT });
    const ids = [...new Set(input.datasetIds.map((d) => d.toLowerCase()))];
    if (ids.length === 0) problems.add('datasetIds', 'at least one dataset is needed');
    problems.throwIfAny();
    const datasets = await ctx.services.datasets.byIds(ctx, ids);
    datasets.forEach((d, i) => {
      if (!d || !ctx.services.datasets.visible(ctx, d)) problems.add(`datasetIds[${i}]`, `No dataset ${ids[i]}`, ErrorCode.NOT_FOUND);
    });
    problems.throwIfAny();
    const [row] = await ctx.manager.query(
      `INSERT INTO training_runs (model_name, model_version, description, recorded_by) VALUES ($1, $2, $3, $4)
       ON CONFLICT (model_name, model_version) DO NOTHING RETURNING id`,
      [input.modelName, input.modelVersion, input.description ?? null, ctx.viewer!.subject],
    );
    if (!row) throw new DomainError(ErrorCode.CONFLICT, `${input.modelName} ${input.modelVersion} is already recorded`, 'modelVersion');
    await ctx.manager.query(
      `INSERT INTO lineage_edges (upstream_id, downstream_id, type) SELECT d, $2, 'TRAINED_ON' FROM unnest($1::uuid[]) AS d`,
      [ids, row.id],
    );
    const run = (await this.runsByIds(ctx, [row.id]))[0]!;
    return { payload: { trainingRun: run, userErrors: [] }, targetIds: [run.id, ...ids] };
  }

  /** trainingRunReview: RETRAIN_REQUIRED or RISK_ACCEPTED, recorded with the taint it covers. */
  async reviewRun(ctx: RequestContext, input: TrainingRunReviewInput): Promise<MutationOutcome<TrainingRunPayload>> {
    const problems = new Problems();
    checkString(problems, 'reason', input.reason, { required: true, max: MAX_FREE_TEXT });
    problems.throwIfAny();
    const run = await this.run(ctx, input.runId);
    const [tainted] = await this.taintedMembers(ctx, [run.id]);
    await ctx.manager.query(
      `INSERT INTO training_run_reviews (run_id, decision, reason, tainted_members, reviewer) VALUES ($1, $2, $3, $4, $5)`,
      [run.id, input.decision, input.reason, tainted, ctx.viewer!.subject],
    );
    return { payload: { trainingRun: run, userErrors: [] }, targetIds: [run.id] };
  }

  /** Dataset versions a run consumed. */
  async datasetsOfRuns(ctx: RequestContext, runIds: readonly string[]): Promise<DatasetRow[][]> {
    const rows: (DatasetRow & { run: string })[] = await ctx.manager.query(
      `SELECT e.downstream_id AS run, ${DATASET_COLUMNS} FROM lineage_edges e JOIN datasets d ON d.id = e.upstream_id
       WHERE e.type = 'TRAINED_ON' AND e.downstream_id = ANY($1::uuid[]) ORDER BY d.name, d.version`,
      [runIds.filter(isUuid)],
    );
    return runIds.map((id) => rows.filter((r) => r.run === id));
  }

  /** The datasets a run consumed that the caller may see (`TrainingRun.datasets`). */
  async visibleDatasetsOfRun(ctx: RequestContext, run: TrainingRunRow): Promise<DatasetRow[]> {
    return ctx.services.access.visible(ctx, await ctx.loaders.runDatasets.load(run.id), (d) => d.requestedBy);
  }

  /** Every dataset a run consumed, those the caller may not see as opaque ids (OpenLineage inputs). */
  async datasetsOrIdsOfRun(ctx: RequestContext, run: TrainingRunRow): Promise<(DatasetRow | string)[]> {
    return ctx.services.access.redact(ctx, await ctx.loaders.runDatasets.load(run.id), (d) => d.requestedBy);
  }

  /** Reviews of each run, newest first; one statement for the batch. */
  async reviewsOfRuns(ctx: RequestContext, runIds: readonly string[]): Promise<TrainingRunReview[][]> {
    const rows: (TrainingRunReview & { runId: string })[] = await ctx.manager.query(
      `SELECT run_id AS "runId", id, decision, reason, tainted_members AS "taintedMembers", reviewer, reviewed_at AS "reviewedAt"
       FROM training_run_reviews WHERE run_id = ANY($1::uuid[]) ORDER BY reviewed_at DESC, id DESC`,
      [runIds.filter(isUuid)],
    );
    return runIds.map((id) => rows.filter((r) => r.runId === id));
  }

  /** Tainted members across the datasets each run consumed, through the per-request loaders (batched). */
  private async taintedMembers(ctx: RequestContext, runIds: readonly string[]): Promise<number[]> {
    return Promise.all(
      runIds.map(async (id) => {
        const datasets = await ctx.loaders.runDatasets.load(id);
        const taints = await ctx.loaders.datasetTaint.loadMany(datasets.map((d) => d.id));
        // A taint that could not be evaluated (refused as RATE_LIMITED, timed out) is an error, never "no taint".
        const failed = taints.find((t): t is Error => t instanceof Error);
        if (failed) throw failed;
        return (taints as DatasetTaint[]).reduce((n, t) => n + t.taintedCount, 0);
      }),
    );
  }

  /**
   * CLEAN when no dataset a run consumed is tainted; TAINTED_PENDING when one is and no review covers the taint seen
   * now (a review covers the taint counted when it was made); otherwise the latest review decision. For a batch of
   * runs the datasets, taints and reviews are each fetched once.
   */
  async reviewStatuses(ctx: RequestContext, runIds: readonly string[]): Promise<ReviewStatus[]> {
    const [tainted, reviews] = await Promise.all([this.taintedMembers(ctx, runIds), ctx.loaders.runReviews.loadMany(runIds)]);
    return runIds.map((_, i) => {
      const latest = (reviews[i] as TrainingRunReview[])[0];
      if (tainted[i] === 0) return latest ? (latest.decision as unknown as ReviewStatus) : ReviewStatus.CLEAN;
      if (latest && latest.taintedMembers >= tainted[i]) return latest.decision as unknown as ReviewStatus;
      return ReviewStatus.TAINTED_PENDING;
    });
  }

  /**
   * A bounded walk from a dataset or run: one recursive query per direction, cycle-safe, with `truncated`. Bounded with
   * the other whole-corpus evaluations (CorpusGate).
   */
  lineage(ctx: RequestContext, nodeId: string, direction: LineageDirection, depthInput?: number | null): Promise<LineageGraph> {
    return ctx.services.corpus.run(ctx, () => this.walk(ctx, nodeId, direction, depthInput));
  }

  private async walk(ctx: RequestContext, nodeId: string, direction: LineageDirection, depthInput?: number | null): Promise<LineageGraph> {
    const depth = depthInput ?? DEFAULT_DEPTH;
    if (!Number.isInteger(depth) || depth < 1 || depth > MAX_DEPTH) throw new DomainError(ErrorCode.BAD_USER_INPUT, `depth must be 1-${MAX_DEPTH}`, 'depth');
    if (!isUuid(nodeId)) throw new DomainError(ErrorCode.BAD_USER_INPUT, 'nodeId is not a valid id', 'nodeId');
    const [start] = await ctx.manager.query(
      `SELECT requested_by AS owner FROM datasets WHERE id = $1 UNION ALL SELECT recorded_by FROM training_runs WHERE id = $1`,
      [nodeId],
    );
    if (!start || !ctx.services.access.sees(ctx, start.owner)) {
      throw new DomainError(ErrorCode.NOT_FOUND, `No dataset or training run ${shown(nodeId)}`, 'nodeId');
    }
    const walks: string[] = [];
    if (direction !== LineageDirection.DOWNSTREAM) walks.push(`SELECT node, depth, 'UP' AS dir FROM (${lineageWalkSql('UP', '$1::uuid', '$2::int')}) up`);
    if (direction !== LineageDirection.UPSTREAM) walks.push(`SELECT node, depth, 'DOWN' AS dir FROM (${lineageWalkSql('DOWN', '$1::uuid', '$2::int')}) down`);
    type Row = { id: string; depth: number; kind: LineageNodeKind; label: string | null; status: string | null; owner: string; frontier: boolean };
    const rows: Row[] = await ctx.manager.query(
      `WITH visited AS MATERIALIZED (SELECT node, min(depth) AS depth, bool_or(dir = 'UP') AS up, bool_or(dir = 'DOWN') AS down FROM (${walks.join(' UNION ALL ')}) w GROUP BY node),
            limited AS MATERIALIZED (SELECT * FROM visited ORDER BY depth, node LIMIT ${MAX_NODES + 1})
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
    const cutBySize = rows.length > MAX_NODES;
    const nodes = rows.slice(0, MAX_NODES);
    const ids = nodes.map((n) => n.id);
    // Another ML engineer's artifacts appear as opaque ids: no label, no status, no transformation on their edges.
    const hidden = new Set(nodes.filter((n) => !ctx.services.access.sees(ctx, n.owner)).map((n) => n.id));
    const edges: LineageGraph['edges'] = await ctx.manager.query(
      `SELECT upstream_id AS "upstreamId", downstream_id AS "downstreamId", type, transformation FROM lineage_edges
       WHERE upstream_id = ANY($1::uuid[]) AND downstream_id = ANY($1::uuid[]) ORDER BY id`,
      [ids],
    );
    return {
      nodes: nodes.map(({ frontier: _f, owner: _o, ...n }) => (hidden.has(n.id) ? { ...n, label: null, status: null } : n)),
      edges: edges.map((e) => (hidden.has(e.upstreamId) || hidden.has(e.downstreamId) ? { ...e, transformation: null } : e)),
      truncated: cutBySize || nodes.some((n) => n.frontier),
    };
  }

  /** subjectFootprint: the person's content count, every dataset version holding it, every run built on those. */
  footprint(ctx: RequestContext, userId: string): Promise<SubjectFootprint> {
    // Reads every dataset membership of the person: bounded with the other whole-corpus evaluations.
    return ctx.services.corpus.run(ctx, () => this.footprintOf(ctx, userId));
  }

  private async footprintOf(ctx: RequestContext, userId: string): Promise<SubjectFootprint> {
    const user = isUuid(userId) ? await ctx.loaders.user.load(userId) : undefined;
    if (!user) throw new DomainError(ErrorCode.NOT_FOUND, `No user ${shown(userId)}`, 'userId');
    const [{ n }] = await ctx.manager.query(`SELECT count(*)::int AS n FROM content_items WHERE author_id = $1`, [user.id]);
    const { params, p } = sqlParams(user.id);
    const held: (DatasetRow & { items: number })[] = await ctx.manager.query(
      `SELECT h.items, ${DATASET_COLUMNS} FROM (SELECT dataset_id, count(*)::int AS items FROM dataset_members WHERE author_id = $1 GROUP BY dataset_id) h
       JOIN datasets d ON d.id = h.dataset_id WHERE ${ctx.services.access.ownerSql(ctx, 'd.requested_by', p)} ORDER BY d.name, d.version`,
      params,
    );
    const runs: { run: string; via: string[] }[] = await ctx.manager.query(
      `SELECT downstream_id AS run, array_agg(upstream_id ORDER BY upstream_id) AS via FROM lineage_edges
       WHERE type = 'TRAINED_ON' AND upstream_id = ANY($1::uuid[]) GROUP BY downstream_id`,
      [held.map((d) => d.id)],
    );
    const runRows = await this.runsByIds(ctx, runs.map((r) => r.run));
    const footprintRuns = runs.map((r, i) => ({ trainingRun: runRows[i]!, viaDatasetIds: r.via }));
    const visibleRuns = ctx.services.access.visible(ctx, footprintRuns, (r) => r.trainingRun.recordedBy);
    return {
      userId: user.id,
      contentCount: n,
      datasets: held.map(({ items, ...d }) => ({ dataset: d, itemCount: items })),
      trainingRuns: visibleRuns,
    };
  }
}
