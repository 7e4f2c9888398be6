import { Arg, Args, Authorized, Ctx, FieldResolver, ID, Query, Resolver, Root } from 'type-graphql';
import type { RequestContext } from '../../context';
import { Reads } from '../../common/reads';
import { Role } from '../../common/auth';
import { Visibility } from '../../common/enums';
import { PageArgs } from '../../common/pagination';
import { AuditedMutation } from '../audit';
import { User } from '../users';
import {
  ContentChangePayload,
  ContentDeleteInput,
  ContentFilter,
  ContentIngestInput,
  ContentIngestPayload,
  ContentItem,
  ContentItemConnection,
  ContentRow,
  ContentVisibilityChangeInput,
  VisibilityChange,
} from './content.types';

/** Roles that may read content metadata. Text is narrower: see `text`. */
export const CONTENT_READERS = [Role.PRIVACY_OFFICER, Role.AUDITOR, Role.ML_ENGINEER, Role.INGEST_SERVICE];

@Resolver(() => ContentItem)
export class ContentResolver {
  @Authorized(...CONTENT_READERS)
  @Reads('primary')
  @Query(() => ContentItem, { nullable: true, description: 'A content item by id.' })
  contentItem(@Ctx() ctx: RequestContext, @Arg('id', () => ID) id: string): Promise<ContentRow | undefined> {
    return ctx.loaders.contentItem.load(id);
  }

  @Authorized(...CONTENT_READERS)
  @Reads('primary')
  @Query(() => ContentItemConnection, { description: 'Content items, ordered by id (eligible or not: see `eligibleContent`).' })
  contentItems(
    @Ctx() ctx: RequestContext,
    @Args() page: PageArgs,
    @Arg('filter', () => ContentFilter, { nullable: true }) filter?: ContentFilter,
  ) {
    return ctx.services.content.list(ctx, filter, page.first, page.after);
  }

  /**
   * Content text. PRIVACY_OFFICER sees it; an ML_ENGINEER only for items eligible now under the default policy (null
   * otherwise), whatever path reached the item; other roles never.
   */
  @FieldResolver(() => String, {
    nullable: true,
    description:
      'The text. PRIVACY_OFFICER: always (null once erased). ML_ENGINEER: only while the item is eligible now, else null. Other roles: FORBIDDEN.',
  })
  text(@Root() item: ContentRow, @Ctx() ctx: RequestContext): Promise<string | null> {
    return ctx.services.content.textFor(ctx, item);
  }

  @FieldResolver(() => User, { nullable: true, description: 'The author.' })
  author(@Root() item: ContentRow, @Ctx() ctx: RequestContext) {
    return ctx.loaders.user.load(item.authorId);
  }

  @FieldResolver(() => Visibility, { nullable: true, description: 'Visibility now (latest change at or before now).' })
  visibility(@Root() item: ContentRow, @Ctx() ctx: RequestContext) {
    return ctx.loaders.visibility.load(item.id);
  }

  @FieldResolver(() => [VisibilityChange], { description: 'Every visibility change, oldest first.' })
  visibilityHistory(@Root() item: ContentRow, @Ctx() ctx: RequestContext) {
    return ctx.loaders.visibilityHistory.load(item.id);
  }

  @Authorized(Role.INGEST_SERVICE)
  @AuditedMutation(() => ContentIngestPayload, {
    description: 'Create or update content items by externalId (INGEST_SERVICE); all or nothing.',
  })
  contentIngest(@Ctx() ctx: RequestContext, @Arg('input') input: ContentIngestInput) {
    return ctx.services.content.ingest(ctx, input);
  }

  @Authorized(Role.INGEST_SERVICE)
  @AuditedMutation(() => ContentChangePayload, { description: 'Record visibility changes (INGEST_SERVICE); all or nothing.' })
  contentVisibilityChange(@Ctx() ctx: RequestContext, @Arg('input') input: ContentVisibilityChangeInput) {
    return ctx.services.content.changeVisibility(ctx, input);
  }

  @Authorized(Role.INGEST_SERVICE)
  @AuditedMutation(() => ContentChangePayload, { description: 'Record deletions (INGEST_SERVICE); all or nothing.' })
  contentDelete(@Ctx() ctx: RequestContext, @Arg('input') input: ContentDeleteInput) {
    return ctx.services.content.delete(ctx, input);
  }
}
