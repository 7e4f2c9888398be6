import { Arg, Args, Authorized, Ctx, FieldResolver, ID, Int, Query, Resolver, Root } from 'type-graphql';
import { JSONResolver } from 'graphql-scalars';
import type { RequestContext } from '../../context';
import { Reads } from '../../common/reads';
import { Role } from '../../common/auth';
import { ConnectionType, PageArgs } from '../../common/pagination';
import { AuditedMutation } from '../audit';
import { Dataset } from '../datasets';
import { APP_VERSION } from '../../version';
import { DATASET_READERS } from '../datasets';
import {
  FootprintDataset,
  LineageDirection,
  LineageGraph,
  SubjectFootprint,
  TrainingRun,
  TrainingRunPayload,
  TrainingRunRecordInput,
  TrainingRunReview,
  TrainingRunReviewInput,
  TrainingRunRow,
  ReviewStatus,
} from './lineage.types';

import { trainingRunEvent } from './openlineage';

export const TrainingRunConnection = ConnectionType(TrainingRun, 'TrainingRun');

@Resolver(() => TrainingRun)
export class TrainingRunResolver {
  @Authorized(...DATASET_READERS)
  @Reads('replica')
  @Query(() => TrainingRun, { nullable: true, description: 'A training run.' })
  trainingRun(@Ctx() ctx: RequestContext, @Arg('id', () => ID) id: string) {
    return ctx.services.lineage.run(ctx, id);
  }

  @Authorized(...DATASET_READERS)
  @Reads('replica')
  @Query(() => TrainingRunConnection, { description: 'Training runs.' })
  trainingRuns(@Ctx() ctx: RequestContext, @Args() page: PageArgs, @Arg('modelName', () => String, { nullable: true }) modelName?: string) {
    return ctx.services.lineage.listRuns(ctx, modelName, page.first, page.after);
  }

  @FieldResolver(() => [Dataset], { description: 'Dataset versions it consumed (TRAINED_ON).' })
  datasets(@Root() run: TrainingRunRow, @Ctx() ctx: RequestContext) {
    return ctx.services.lineage.visibleDatasetsOfRun(ctx, run);
  }

  @FieldResolver(() => ReviewStatus, { description: 'CLEAN, TAINTED_PENDING, RETRAIN_REQUIRED or RISK_ACCEPTED.' })
  reviewStatus(@Root() run: TrainingRunRow, @Ctx() ctx: RequestContext) {
    return ctx.loaders.runReviewStatus.load(run.id);
  }

  @FieldResolver(() => [TrainingRunReview], { description: 'Reviews, newest first.' })
  reviews(@Root() run: TrainingRunRow, @Ctx() ctx: RequestContext) {
    return ctx.loaders.runReviews.load(run.id);
  }

  @FieldResolver(() => [JSONResolver], {
    description: 'OpenLineage RunEvents (COMPLETE) for this run; they validate against the official 2-0-2 schemas.',
  })
  async openLineageEvents(@Root() run: TrainingRunRow, @Ctx() ctx: RequestContext) {
    return [trainingRunEvent(run, await ctx.services.lineage.datasetsOrIdsOfRun(ctx, run), APP_VERSION)];
  }

  @Authorized(Role.ML_ENGINEER)
  @AuditedMutation(() => TrainingRunPayload, { description: 'Record a model version and the dataset versions it consumed (ML_ENGINEER).' })
  trainingRunRecord(@Ctx() ctx: RequestContext, @Arg('input') input: TrainingRunRecordInput) {
    return ctx.services.lineage.recordRun(ctx, input);
  }

  @Authorized(Role.PRIVACY_OFFICER)
  @AuditedMutation(() => TrainingRunPayload, {
    description: 'Decide on a tainted run: RETRAIN_REQUIRED or RISK_ACCEPTED, with a reason (PRIVACY_OFFICER).',
  })
  trainingRunReview(@Ctx() ctx: RequestContext, @Arg('input') input: TrainingRunReviewInput) {
    return ctx.services.lineage.reviewRun(ctx, input);
  }
}

@Resolver()
export class LineageResolver {
  @Authorized(...DATASET_READERS)
  @Reads('replica')
  @Query(() => LineageGraph, {
    description:
      'Upstream and/or downstream of a dataset or run, as one recursive query: depth 1-50 (default 5), `truncated` when a limit cut it.',
  })
  lineage(
    @Ctx() ctx: RequestContext,
    @Arg('nodeId', () => ID) nodeId: string,
    @Arg('direction', () => LineageDirection, { defaultValue: LineageDirection.BOTH }) direction: LineageDirection,
    @Arg('depth', () => Int, { nullable: true }) depth?: number,
  ) {
    return ctx.services.lineage.lineage(ctx, nodeId, direction, depth);
  }

  @Authorized(Role.PRIVACY_OFFICER, Role.AUDITOR)
  @Reads('replica')
  @Query(() => SubjectFootprint, {
    description: "Where a person's data went: content count, dataset versions holding it, runs built on those.",
  })
  subjectFootprint(@Ctx() ctx: RequestContext, @Arg('userId', () => ID) userId: string) {
    return ctx.services.lineage.footprint(ctx, userId);
  }
}

export { FootprintDataset };
