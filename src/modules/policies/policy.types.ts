import { Field, ID, InputType, Int, ObjectType } from 'type-graphql';
import { ContentKind, Platform, PolicyMode, Purpose } from '../../common/enums';
import { MutationPayload } from '../../common/payload';

@ObjectType({ description: 'One immutable version of an eligibility policy.' })
export class Policy {
  @Field(() => ID, { description: 'Opaque id of this version.' })
  id: string;

  @Field({ description: 'Stable key shared by all versions, e.g. `eu-ai-training`.' })
  key: string;

  @Field(() => Int, { description: 'Version number, from 1.' })
  version: number;

  @Field(() => Purpose, { description: 'Processing purpose.' })
  purpose: Purpose;

  @Field({ description: 'Legal basis relied on, e.g. GDPR Art. 6(1)(f).' })
  legalBasis: string;

  @Field(() => String, { nullable: true, description: 'Free-text description.' })
  description: string | null;

  @Field(() => Int, { description: 'Authors younger than this when they created an item make it ineligible.' })
  minimumAge: number;

  @Field(() => [String], { description: 'ISO 3166-1 alpha-2 countries covered.' })
  regions: string[];

  @Field(() => [Platform], { description: 'Platforms covered.' })
  platforms: Platform[];

  @Field(() => [ContentKind], { description: 'Content kinds covered.' })
  kinds: ContentKind[];

  @Field(() => Date, { nullable: true, description: 'Only items created at or after this instant (inclusive).' })
  windowStart: Date | null;

  @Field(() => Date, { nullable: true, description: 'Only items created before this instant (exclusive).' })
  windowEnd: Date | null;

  @Field(() => [String], { description: 'Items carrying any of these labels are excluded.' })
  excludedLabels: string[];

  @Field(() => PolicyMode, { description: 'ENFORCE or DRY_RUN.' })
  mode: PolicyMode;

  @Field({ description: 'When this version was published.' })
  createdAt: Date;

  @Field({ description: 'Subject who published it.' })
  createdBy: string;
}

@InputType({ description: 'A new version of a policy (the version number is assigned by the server).' })
export class PolicyPublishInput {
  @Field({ description: 'Policy key; a new key starts at version 1.' })
  key: string;

  @Field(() => Purpose, { defaultValue: Purpose.AI_MODEL_TRAINING, description: 'Processing purpose.' })
  purpose: Purpose;

  @Field({ description: 'Legal basis relied on (at most 500 characters).' })
  legalBasis: string;

  @Field(() => String, { nullable: true, description: 'Free-text description (at most 2,000 characters).' })
  description?: string;

  @Field(() => Int, { defaultValue: 18, description: 'Minimum author age at creation: 18 or more for ENFORCE, any age for DRY_RUN.' })
  minimumAge: number;

  @Field(() => [String], { nullable: true, description: 'Countries covered (default: EU-27).' })
  regions?: string[];

  @Field(() => [Platform], { description: 'Platforms covered.' })
  platforms: Platform[];

  @Field(() => [ContentKind], { description: 'Kinds covered (PRIVATE_MESSAGE is never eligible whatever this says).' })
  kinds: ContentKind[];

  @Field(() => Date, { nullable: true, description: 'Content window start (inclusive).' })
  windowStart?: Date;

  @Field(() => Date, { nullable: true, description: 'Content window end (exclusive).' })
  windowEnd?: Date;

  @Field(() => [String], { defaultValue: ['SPECIAL_CATEGORY'], description: 'Labels that exclude an item.' })
  excludedLabels: string[];

  @Field(() => PolicyMode, { description: 'ENFORCE or DRY_RUN.' })
  mode: PolicyMode;
}

@ObjectType({ description: 'Result of policyPublish.' })
export class PolicyPublishPayload extends MutationPayload {
  @Field(() => Policy, { nullable: true, description: 'The new version.' })
  policy?: Policy;
}

/** The values of a policy version that the eligibility rules read (a Policy satisfies it). */
export interface PolicyValues {
  minimumAge: number;
  regions: string[];
  platforms: string[];
  kinds: string[];
  windowStart: Date | null;
  windowEnd: Date | null;
  excludedLabels: string[];
}
