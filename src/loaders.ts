import DataLoader from 'dataloader';
import type { RequestContext } from './context';
import type { UserRow } from './modules/users';
import type { ContentRow, VisibilityChange } from './modules/content';
import type { Policy } from './modules/policies';
import type { DatasetRow, DatasetTaint } from './modules/datasets';
import type { ReviewStatus, TrainingRunReview, TrainingRunRow } from './modules/lineage';

/** Per-request DataLoaders (never shared across callers): one statement per batch, results in key order. */
export function createLoaders(ctx: RequestContext) {
  return {
    user: new DataLoader<string, UserRow | undefined>((ids) => ctx.services.users.byIds(ctx, ids)),
    contentItem: new DataLoader<string, ContentRow | undefined>((ids) => ctx.services.content.byIds(ctx, ids)),
    contentCountByAuthor: new DataLoader<string, number>((ids) => ctx.services.content.countByAuthors(ctx, ids)),
    visibility: new DataLoader<string, string | null>((ids) => ctx.services.content.currentVisibility(ctx, ids)),
    visibilityHistory: new DataLoader<string, VisibilityChange[]>((ids) => ctx.services.content.visibilityHistory(ctx, ids)),
    /** The ML text gate: eligible now under the default policy (EligibilityService.eligibleNow; eligibleContent primes it). */
    eligibleNow: new DataLoader<string, boolean>(async (ids) => {
      const eligible = await ctx.services.eligibility.eligibleNow(ctx, ids);
      return ids.map((id) => eligible.has(id));
    }),
    dataset: new DataLoader<string, DatasetRow | undefined>((ids) => ctx.services.datasets.byIds(ctx, ids)),
    datasetTaint: new DataLoader<string, DatasetTaint>((ids) => ctx.services.datasets.taint(ctx, ids)),
    datasetParents: new DataLoader<string, DatasetRow[]>((ids) => ctx.services.datasets.parents(ctx, ids)),
    policyById: new DataLoader<string, Policy | undefined>((ids) => ctx.services.policies.byIds(ctx, ids)),
    trainingRun: new DataLoader<string, TrainingRunRow | undefined>((ids) => ctx.services.lineage.runsByIds(ctx, ids)),
    runDatasets: new DataLoader<string, DatasetRow[]>((ids) => ctx.services.lineage.datasetsOfRuns(ctx, ids)),
    runReviews: new DataLoader<string, TrainingRunReview[]>((ids) => ctx.services.lineage.reviewsOfRuns(ctx, ids)),
    runReviewStatus: new DataLoader<string, ReviewStatus>((ids) => ctx.services.lineage.reviewStatuses(ctx, ids)),
    /** The latest ENFORCE version of a key (the ML text gate never follows a DRY_RUN version). */
    defaultPolicy: new DataLoader<string, Policy | undefined>((keys) =>
      Promise.all(keys.map((k) => ctx.services.policies.latestEnforced(ctx, k))),
    ),
  };
}

export type Loaders = ReturnType<typeof createLoaders>;
