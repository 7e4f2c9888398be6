import { Arg, Args, Authorized, Ctx, FieldResolver, ID, Query, Resolver, Root } from 'type-graphql';
import { JSONResolver } from 'graphql-scalars';
import type { RequestContext } from '../../context';
import { Reads } from '../../common/reads';
import { Role } from '../../common/auth';
import { ConnectionType, PageArgs } from '../../common/pagination';
import { AuditedMutation } from '../audit';
import { ReasonCount } from '../eligibility';
import { Policy } from '../policies';
import { ContentItem } from '../content';
import {
  BuildVerification,
  Dataset,
  DatasetDeriveInput,
  DatasetMember,
  DatasetPayload,
  DatasetRemediateInput,
  DatasetRequestInput,
  DatasetRow,
  DatasetsFilter,
  DatasetTaint,
} from './dataset.types';
import { cardMarkdown } from './dataset.card';
import { cardLink } from './card-link';
import { DATASET_READERS } from './dataset.roles';

export const DatasetConnection = ConnectionType(Dataset, 'Dataset');
export const DatasetMemberConnection = ConnectionType(DatasetMember, 'DatasetMember');

@Resolver(() => Dataset)
export class DatasetResolver {
  @Authorized(...DATASET_READERS)
  @Reads('replica')
  @Query(() => Dataset, { nullable: true, description: 'A dataset version (ML engineers: their own).' })
  dataset(@Ctx() ctx: RequestContext, @Arg('id', () => ID) id: string): Promise<DatasetRow> {
    return ctx.services.datasets.get(ctx, id);
  }

  @Authorized(...DATASET_READERS)
  @Reads('replica')
  @Query(() => DatasetConnection, { description: 'Dataset versions, newest first (ML engineers: their own).' })
  datasets(
    @Ctx() ctx: RequestContext,
    @Args() page: PageArgs,
    @Arg('filter', () => DatasetsFilter, { nullable: true }) filter?: DatasetsFilter,
  ) {
    return ctx.services.datasets.list(ctx, filter ?? {}, page.first, page.after);
  }

  @FieldResolver(() => Policy, { description: 'The policy version it was built under.' })
  policy(@Root() d: DatasetRow, @Ctx() ctx: RequestContext) {
    return ctx.loaders.policyById.load(d.policyId);
  }

  @FieldResolver(() => [ReasonCount], { description: 'Candidates excluded at build time, by reason.' })
  exclusions(@Root() d: DatasetRow) {
    return d.exclusions;
  }

  @FieldResolver(() => Dataset, { nullable: true, description: 'The version that superseded this one.' })
  supersededBy(@Root() d: DatasetRow, @Ctx() ctx: RequestContext) {
    return d.supersededBy ? ctx.services.datasets.visibleById(ctx, d.supersededBy) : null;
  }

  @FieldResolver(() => [Dataset], { description: 'Versions it was derived or remediated from.' })
  parents(@Root() d: DatasetRow, @Ctx() ctx: RequestContext) {
    return ctx.services.datasets.visibleParents(ctx, d);
  }

  @Authorized(Role.ML_ENGINEER, Role.PRIVACY_OFFICER, Role.AUDITOR)
  @FieldResolver(() => DatasetMemberConnection, { description: 'Members, ordered by item id.' })
  members(@Root() d: DatasetRow, @Ctx() ctx: RequestContext, @Args() page: PageArgs) {
    return ctx.services.datasets.members(ctx, d, page.first, page.after);
  }

  @FieldResolver(() => DatasetTaint, { description: "Members that are ineligible with today's knowledge, by reason." })
  taint(@Root() d: DatasetRow, @Ctx() ctx: RequestContext) {
    return ctx.loaders.datasetTaint.load(d.id);
  }

  @Authorized(Role.AUDITOR, Role.PRIVACY_OFFICER, Role.ML_ENGINEER)
  @FieldResolver(() => BuildVerification, { description: 'Re-evaluates the dataset with the knowledge it had at its snapshot.' })
  buildVerification(@Root() d: DatasetRow, @Ctx() ctx: RequestContext) {
    return ctx.services.datasets.verifyBuild(ctx, d);
  }

  @FieldResolver(() => String, {
    description:
      'A human-readable dataset card (Markdown): purpose, policy and legal basis, snapshot, composition, exclusions, lineage, digest. As HTML with charts: GET /datasets/{id}/card (in a browser: cardUrl).',
  })
  async card(@Root() d: DatasetRow, @Ctx() ctx: RequestContext) {
    return cardMarkdown(await ctx.services.datasets.card(ctx, d));
  }

  @Authorized(...DATASET_READERS)
  @FieldResolver(() => String, {
    description:
      'A link to the HTML card (GET /datasets/{id}/card with inline SVG charts) that opens in a plain browser tab without an Authorization header: ' +
      "signed for the caller and this dataset, valid 15 minutes. Relative to the service's base URL.",
  })
  cardUrl(@Root() d: DatasetRow, @Ctx() ctx: RequestContext) {
    return cardLink(ctx.config, d.id, ctx.viewer!);
  }

  @FieldResolver(() => [JSONResolver], {
    description: 'OpenLineage RunEvents (COMPLETE) for the build of this version; they validate against the official 2-0-2 schemas.',
  })
  async openLineageEvents(@Root() d: DatasetRow, @Ctx() ctx: RequestContext) {
    return ctx.services.lineage.datasetEvents(ctx, d);
  }

  @Authorized(Role.ML_ENGINEER)
  @AuditedMutation(() => DatasetPayload, {
    description:
      'Build a dataset version from eligible content now under the latest ENFORCE version of the key (ML_ENGINEER); a key without one is refused.',
  })
  datasetRequest(@Ctx() ctx: RequestContext, @Arg('input') input: DatasetRequestInput) {
    return ctx.services.datasets.request(ctx, input);
  }

  @Authorized(Role.ML_ENGINEER)
  @AuditedMutation(() => DatasetPayload, {
    description:
      'Derive a dataset (FILTER, SAMPLE, UNION, DEDUPLICATE) from existing versions, re-checked now under the latest ENFORCE version of their policy key (ML_ENGINEER).',
  })
  datasetDerive(@Ctx() ctx: RequestContext, @Arg('input') input: DatasetDeriveInput) {
    return ctx.services.datasets.derive(ctx, input);
  }

  @Authorized(Role.ML_ENGINEER)
  @AuditedMutation(() => DatasetPayload, {
    description:
      'Build the next version without the members ineligible now under the latest ENFORCE version of its policy key; the old one becomes SUPERSEDED (ML_ENGINEER).',
  })
  datasetRemediate(@Ctx() ctx: RequestContext, @Arg('input') input: DatasetRemediateInput) {
    return ctx.services.datasets.remediate(ctx, input);
  }
}

@Resolver(() => DatasetMember)
export class DatasetMemberResolver {
  @FieldResolver(() => ContentItem, {
    nullable: true,
    description: 'The content item (its text follows the usual rules: ML engineers only while eligible now).',
  })
  item(@Root() m: DatasetMember, @Ctx() ctx: RequestContext) {
    return ctx.loaders.contentItem.load(m.itemId);
  }
}
