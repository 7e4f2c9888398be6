import type { RequestContext } from '../../context';
import { DomainError, ErrorCode, Problems, shown } from '../../common/errors';
import type { Connection } from '../../common/pagination';
import { checkString, MAX_FREE_TEXT } from '../../common/validate';
import type { MutationOutcome } from '../audit';
import { inKeyOrder, isUuid } from '../../common/ids';
import type { CorpusGate } from '../../common/corpus-gate';
import { APP_VERSION } from '../../version';
import type { AccessService } from '../access';
import type { DatasetRow, DatasetService, DatasetTaint } from '../datasets';
import { datasetEvent } from './openlineage';
import {
  authoredItemCount,
  datasetsHoldingAuthor,
  datasetsOfRuns,
  edgesAmong,
  insertRunReview,
  insertTrainedOnEdges,
  insertTrainingRun,
  lineageNodes,
  nodeOwner,
  reviewsOfRuns,
  runsTrainedOn,
  trainingRunPage,
  trainingRunsByIds,
} from './lineage.store';
import {
  LineageDirection,
  LineageGraph,
  ReviewStatus,
  SubjectFootprint,
  TrainingRunPayload,
  TrainingRunRecordInput,
  TrainingRunReview,
  TrainingRunReviewInput,
  TrainingRunRow,
} from './lineage.types';

export const DEFAULT_DEPTH = 5;
export const MAX_DEPTH = 50;
export const MAX_NODES = 10000;

/** Training runs, their reviews, lineage walks and a person's footprint. */
export class LineageService {
  constructor(
    private readonly access: AccessService,
    private readonly datasets: DatasetService,
    private readonly corpus: CorpusGate,
  ) {}

  /** The OpenLineage RunEvent (COMPLETE) of a dataset version's build: its inputs are the parents, or the corpus. */
  async datasetEvents(ctx: RequestContext, d: DatasetRow): Promise<unknown[]> {
    return [datasetEvent(d, await this.datasets.parentsOrIds(ctx, d), APP_VERSION)];
  }

  async runsByIds(ctx: RequestContext, ids: readonly string[]): Promise<(TrainingRunRow | undefined)[]> {
    const rows = await trainingRunsByIds(ctx.manager, ids.filter(isUuid));
    return inKeyOrder(ids, rows);
  }

  async run(ctx: RequestContext, id: string): Promise<TrainingRunRow> {
    const run = isUuid(id) ? await ctx.loaders.trainingRun.load(id) : undefined;
    if (!run || !this.access.sees(ctx, run.recordedBy)) throw new DomainError(ErrorCode.NOT_FOUND, `No training run ${shown(id)}`, 'runId');
    return run;
  }

  /** Training runs ordered by id; ML engineers see their own (AccessService). */
  listRuns(ctx: RequestContext, modelName: string | undefined, first?: number, after?: string): Promise<Connection<TrainingRunRow>> {
    const owner = (column: string, p: (value: unknown) => string) => this.access.ownerSql(ctx, column, p);
    return trainingRunPage(ctx.manager, modelName, owner, first, after);
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
    const datasets = await this.datasets.byIds(ctx, ids);
    datasets.forEach((d, i) => {
      if (!d || !this.datasets.visible(ctx, d)) problems.add(`datasetIds[${i}]`, `No dataset ${ids[i]}`, ErrorCode.NOT_FOUND);
    });
    problems.throwIfAny();
    const runId = await insertTrainingRun(ctx.manager, {
      modelName: input.modelName,
      modelVersion: input.modelVersion,
      description: input.description ?? null,
      recordedBy: ctx.viewer!.subject,
    });
    if (!runId) throw new DomainError(ErrorCode.CONFLICT, `${input.modelName} ${input.modelVersion} is already recorded`, 'modelVersion');
    await insertTrainedOnEdges(ctx.manager, ids, runId);
    const run = (await this.runsByIds(ctx, [runId]))[0]!;
    return { payload: { trainingRun: run, userErrors: [] }, targetIds: [run.id, ...ids] };
  }

  /** trainingRunReview: RETRAIN_REQUIRED or RISK_ACCEPTED, recorded with the taint it covers. */
  async reviewRun(ctx: RequestContext, input: TrainingRunReviewInput): Promise<MutationOutcome<TrainingRunPayload>> {
    const problems = new Problems();
    checkString(problems, 'reason', input.reason, { required: true, max: MAX_FREE_TEXT });
    problems.throwIfAny();
    const run = await this.run(ctx, input.runId);
    const [tainted] = await this.taintedMembers(ctx, [run.id]);
    await insertRunReview(ctx.manager, {
      runId: run.id,
      decision: input.decision,
      reason: input.reason,
      taintedMembers: tainted,
      reviewer: ctx.viewer!.subject,
    });
    return { payload: { trainingRun: run, userErrors: [] }, targetIds: [run.id] };
  }

  /** Dataset versions a run consumed. */
  async datasetsOfRuns(ctx: RequestContext, runIds: readonly string[]): Promise<DatasetRow[][]> {
    const rows = await datasetsOfRuns(ctx.manager, runIds.filter(isUuid));
    return runIds.map((id) => rows.filter((r) => r.run === id));
  }

  /** The datasets a run consumed that the caller may see (`TrainingRun.datasets`). */
  async visibleDatasetsOfRun(ctx: RequestContext, run: TrainingRunRow): Promise<DatasetRow[]> {
    return this.access.visible(ctx, await ctx.loaders.runDatasets.load(run.id), (d) => d.requestedBy);
  }

  /** Every dataset a run consumed, those the caller may not see as opaque ids (OpenLineage inputs). */
  async datasetsOrIdsOfRun(ctx: RequestContext, run: TrainingRunRow): Promise<(DatasetRow | string)[]> {
    return this.access.redact(ctx, await ctx.loaders.runDatasets.load(run.id), (d) => d.requestedBy);
  }

  /** Reviews of each run, newest first; one statement for the batch. */
  async reviewsOfRuns(ctx: RequestContext, runIds: readonly string[]): Promise<TrainingRunReview[][]> {
    const rows = await reviewsOfRuns(ctx.manager, runIds.filter(isUuid));
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
    return this.corpus.run(ctx, () => this.walk(ctx, nodeId, direction, depthInput));
  }

  private async walk(ctx: RequestContext, nodeId: string, direction: LineageDirection, depthInput?: number | null): Promise<LineageGraph> {
    const depth = depthInput ?? DEFAULT_DEPTH;
    if (!Number.isInteger(depth) || depth < 1 || depth > MAX_DEPTH)
      throw new DomainError(ErrorCode.BAD_USER_INPUT, `depth must be 1-${MAX_DEPTH}`, 'depth');
    if (!isUuid(nodeId)) throw new DomainError(ErrorCode.BAD_USER_INPUT, 'nodeId is not a valid id', 'nodeId');
    const owner = await nodeOwner(ctx.manager, nodeId);
    if (owner === undefined || !this.access.sees(ctx, owner)) {
      throw new DomainError(ErrorCode.NOT_FOUND, `No dataset or training run ${shown(nodeId)}`, 'nodeId');
    }
    const rows = await lineageNodes(ctx.manager, nodeId, direction, depth, MAX_NODES + 1);
    const cutBySize = rows.length > MAX_NODES;
    const nodes = rows.slice(0, MAX_NODES);
    const ids = nodes.map((n) => n.id);
    // Another ML engineer's artifacts appear as opaque ids: no label, no status, no transformation on their edges.
    const hidden = new Set(nodes.filter((n) => !this.access.sees(ctx, n.owner)).map((n) => n.id));
    const edges = await edgesAmong(ctx.manager, ids);
    return {
      nodes: nodes.map(({ frontier: _f, owner: _o, ...n }) => (hidden.has(n.id) ? { ...n, label: null, status: null } : n)),
      edges: edges.map((e) => (hidden.has(e.upstreamId) || hidden.has(e.downstreamId) ? { ...e, transformation: null } : e)),
      truncated: cutBySize || nodes.some((n) => n.frontier),
    };
  }

  /** subjectFootprint: the person's content count, every dataset version holding it, every run built on those. */
  footprint(ctx: RequestContext, userId: string): Promise<SubjectFootprint> {
    // Reads every dataset membership of the person: bounded with the other whole-corpus evaluations.
    return this.corpus.run(ctx, () => this.footprintOf(ctx, userId));
  }

  private async footprintOf(ctx: RequestContext, userId: string): Promise<SubjectFootprint> {
    const user = isUuid(userId) ? await ctx.loaders.user.load(userId) : undefined;
    if (!user) throw new DomainError(ErrorCode.NOT_FOUND, `No user ${shown(userId)}`, 'userId');
    const n = await authoredItemCount(ctx.manager, user.id);
    const owner = (column: string, p: (value: unknown) => string) => this.access.ownerSql(ctx, column, p);
    const held = await datasetsHoldingAuthor(ctx.manager, user.id, owner);
    const runs = await runsTrainedOn(
      ctx.manager,
      held.map((d) => d.id),
    );
    const runRows = await this.runsByIds(
      ctx,
      runs.map((r) => r.run),
    );
    const footprintRuns = runs.map((r, i) => ({ trainingRun: runRows[i]!, viaDatasetIds: r.via }));
    const visibleRuns = this.access.visible(ctx, footprintRuns, (r) => r.trainingRun.recordedBy);
    return {
      userId: user.id,
      contentCount: n,
      datasets: held.map(({ items, ...d }) => ({ dataset: d, itemCount: items })),
      trainingRuns: visibleRuns,
    };
  }
}
