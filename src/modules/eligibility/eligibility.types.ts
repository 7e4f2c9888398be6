import { Field, ID, Int, ObjectType } from 'type-graphql';
import { PolicyMode, ReasonCode } from '../../common/enums';
import { Policy } from '../policies';

@ObjectType({ description: 'The verdict on one item under one policy at one instant.' })
export class EligibilityVerdict {
  @Field(() => ID, { description: 'The id that was asked about.' })
  itemId: string;

  @Field({ description: 'False when no item has this id.' })
  found: boolean;

  @Field({ description: 'True when no reason applies.' })
  eligible: boolean;

  @Field({
    description: 'True when the item would be left out of processing: a reason applies and the policy is ENFORCE (never under DRY_RUN).',
  })
  excluded: boolean;

  @Field(() => [ReasonCode], { description: 'Every reason that applies (DESIGN.md §3), in a fixed order.' })
  reasons: ReasonCode[];

  @Field(() => Policy, { description: 'The policy version applied.' })
  policy: Policy;

  @Field({ description: 'The instant evaluated.' })
  asOf: Date;
}

@ObjectType({ description: 'How many evaluated items one reason applies to.' })
export class ReasonCount {
  @Field(() => ReasonCode, { description: 'The reason.' })
  reason: ReasonCode;

  @Field(() => Int, { description: 'Items it applies to (an item can have several reasons).' })
  count: number;
}

@ObjectType({ description: 'What a policy includes and excludes over a set of items at one instant (DRY_RUN previews use this).' })
export class EligibilityReport {
  @Field(() => Policy, { description: 'The policy version applied.' })
  policy: Policy;

  @Field(() => PolicyMode, { description: "The policy's mode: under DRY_RUN nothing is excluded, `wouldExclude` says what would be." })
  mode: PolicyMode;

  @Field({ description: 'The instant evaluated.' })
  asOf: Date;

  @Field(() => Int, { description: 'Items evaluated.' })
  evaluated: number;

  @Field(() => Int, { description: 'Items no reason applies to.' })
  eligible: number;

  @Field(() => Int, { description: 'Items at least one reason applies to.' })
  wouldExclude: number;

  @Field(() => Int, { description: 'Items actually excluded: equal to wouldExclude under ENFORCE, 0 under DRY_RUN.' })
  excluded: number;

  @Field(() => [ReasonCount], { description: 'Counts by reason, largest first.' })
  reasons: ReasonCount[];
}
