import { Field, ID, InputType, Int, ObjectType } from 'type-graphql';
import { ContentKind, Platform, Visibility } from '../../common/enums';
import { MutationPayload } from '../../common/payload';
import { ConnectionType } from '../../common/pagination';

/** A content row as the stores return it. */
export interface ContentRow {
  id: string;
  externalId: string;
  authorId: string;
  platform: Platform;
  kind: ContentKind;
  text: string | null;
  language: string;
  contentHash: string;
  createdAt: Date;
  labels: string[];
  deletedAt: Date | null;
}

/**
 * The ContentItem fields that hand out what a person wrote (ContentService.textFor decides who sees it): a document
 * selecting one is served by the primary, so that an objection or an erasure holds from its commit (replica routing).
 */
export const CONTENT_HANDED_OUT = ['text'] as const;

@ObjectType({ description: 'Something a person produced on a platform.' })
export class ContentItem {
  @Field(() => ID, { description: 'Opaque id.' })
  id: string;

  @Field({ description: 'Id of the item on the platform.' })
  externalId: string;

  @Field(() => Platform, { description: 'Where it was produced.' })
  platform: Platform;

  @Field(() => ContentKind, { description: 'What it is.' })
  kind: ContentKind;

  @Field({ description: 'Language (ISO 639 code).' })
  language: string;

  @Field({ description: 'SHA-256 (hex) of the text as ingested; kept after erasure for lineage.' })
  contentHash: string;

  @Field({ description: 'When the item was created on the platform.' })
  createdAt: Date;

  @Field(() => [String], { description: 'Labels, e.g. SPECIAL_CATEGORY.' })
  labels: string[];

  @Field(() => Date, { nullable: true, description: 'When it was deleted, if it was.' })
  deletedAt: Date | null;
}

/** A page of content items (content, eligibleContent). */
export const ContentItemConnection = ConnectionType(ContentItem, 'ContentItem');

@ObjectType({ description: "One entry of an item's visibility history." })
export class VisibilityChange {
  @Field(() => Visibility, { description: 'Visibility from this instant on.' })
  visibility: Visibility;

  @Field({ description: 'When the visibility changed on the platform.' })
  changedAt: Date;

  @Field({ description: 'When we learned of the change.' })
  recordedAt: Date;
}

/** The content fields both content lists and dataset requests filter on (one definition for both input types). */
@InputType()
export abstract class ContentSelection {
  @Field(() => [Platform], { nullable: true, description: 'Only these platforms.' })
  platforms?: Platform[];

  @Field(() => [ContentKind], { nullable: true, description: 'Only these kinds.' })
  kinds?: ContentKind[];

  @Field(() => [String], {
    nullable: true,
    description: 'Only these languages: ISO 639 codes in lower case (e.g. de), at most 200; anything else is BAD_USER_INPUT.',
  })
  languages?: string[];

  @Field(() => Date, { nullable: true, description: 'Only items created at or after this instant.' })
  createdFrom?: Date;

  @Field(() => Date, { nullable: true, description: 'Only items created before this instant.' })
  createdTo?: Date;
}

@InputType({ description: 'Filter for content lists.' })
export class ContentFilter extends ContentSelection {
  @Field(() => ID, { nullable: true, description: "Only this author's items." })
  authorId?: string;
}

@InputType({ description: 'One item to create or update, matched on externalId.' })
export class ContentIngestRow {
  @Field({ description: 'Id of the item on the platform (unique; at most 200 characters).' })
  externalId: string;

  @Field({ description: 'externalId of the author (must be ingested first; at most 200 characters).' })
  authorExternalId: string;

  @Field(() => Platform, { description: 'Where it was produced.' })
  platform: Platform;

  @Field(() => ContentKind, { description: 'What it is.' })
  kind: ContentKind;

  @Field({ description: 'The text (at most 65,536 characters).' })
  text: string;

  @Field({ description: 'Language, ISO 639 code in lower case (e.g. de).' })
  language: string;

  @Field({ description: 'When it was created on the platform (not in the future).' })
  createdAt: Date;

  @Field(() => Visibility, { description: 'Visibility at creation (for a new item; later changes go through contentVisibilityChange).' })
  visibility: Visibility;

  @Field(() => [String], { defaultValue: [], description: 'Labels, UPPER_SNAKE_CASE.' })
  labels: string[];
}

@InputType({ description: 'A batch of content items; all or nothing.' })
export class ContentIngestInput {
  @Field(() => [ContentIngestRow], { description: 'Up to 10,000 items.' })
  items: ContentIngestRow[];
}

@ObjectType({ description: 'Result of contentIngest.' })
export class ContentIngestPayload extends MutationPayload {
  @Field(() => [ContentItem], { nullable: true, description: 'The items as stored, in input order.' })
  items?: ContentItem[];

  @Field(() => Int, { nullable: true, description: 'How many were new.' })
  createdCount?: number;

  @Field(() => Int, { nullable: true, description: 'How many existed and were updated.' })
  updatedCount?: number;
}

@InputType({ description: 'A visibility change of one item.' })
export class VisibilityChangeRow {
  @Field({ description: 'externalId of the item.' })
  externalId: string;

  @Field(() => Visibility, { description: 'New visibility.' })
  visibility: Visibility;

  @Field(() => Date, { nullable: true, description: 'When it changed (default now; not in the future, not before the item was created).' })
  changedAt?: Date;
}

@InputType({ description: 'A batch of visibility changes; all or nothing.' })
export class ContentVisibilityChangeInput {
  @Field(() => [VisibilityChangeRow], { description: 'Up to 10,000 changes.' })
  changes: VisibilityChangeRow[];
}

@InputType({ description: 'One deleted item.' })
export class ContentDeleteRow {
  @Field({ description: 'externalId of the item.' })
  externalId: string;

  @Field(() => Date, { nullable: true, description: 'When it was deleted (default now; not in the future).' })
  deletedAt?: Date;
}

@InputType({ description: 'A batch of deletions; all or nothing. Deleting a deleted item changes nothing.' })
export class ContentDeleteInput {
  @Field(() => [ContentDeleteRow], { description: 'Up to 10,000 items.' })
  items: ContentDeleteRow[];
}

@ObjectType({ description: 'Result of contentVisibilityChange or contentDelete.' })
export class ContentChangePayload extends MutationPayload {
  @Field(() => [ContentItem], { nullable: true, description: 'The items affected, in input order.' })
  items?: ContentItem[];
}
