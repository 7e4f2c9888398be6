import { Field, ID, InputType, Int, ObjectType } from 'type-graphql';
import { ConsentChannel, ConsentEventType, ConsentScope } from '../../common/enums';
import { MutationPayload } from '../../common/payload';
import { User } from '../users';

export interface ConsentEventRow {
  id: string;
  userId: string;
  type: ConsentEventType;
  scope: ConsentScope;
  effectiveAt: Date;
  recordedAt: Date;
  channel: ConsentChannel;
  actor: string;
  reason: string | null;
  idempotencyKey: string | null;
}

@ObjectType({ description: 'One entry of the append-only consent ledger.' })
export class ConsentEvent {
  @Field(() => ID, { description: 'Opaque id (ledger position).' })
  id: string;

  @Field(() => ID, { description: 'The person.' })
  userId: string;

  @Field(() => ConsentEventType, { description: 'OBJECTION or OBJECTION_WITHDRAWN.' })
  type: ConsentEventType;

  @Field(() => ConsentScope, { description: 'What it covers.' })
  scope: ConsentScope;

  @Field({ description: 'When it takes effect (valid time).' })
  effectiveAt: Date;

  @Field({ description: 'When it was recorded (transaction time).' })
  recordedAt: Date;

  @Field(() => ConsentChannel, { description: 'How it reached us.' })
  channel: ConsentChannel;

  @Field({ description: 'Subject who recorded it.' })
  actor: string;

  @Field(() => String, { nullable: true, description: 'Why (required when backdated).' })
  reason: string | null;

  @Field(() => String, { nullable: true, description: 'Client-supplied idempotency key.' })
  idempotencyKey: string | null;

  @Field(() => User, { nullable: true, description: 'The person.' })
  user?: User;
}

@InputType({ description: 'An objection to record, or one to withdraw.' })
export class ObjectionInput {
  @Field(() => ID, { description: 'The person.' })
  userId: string;

  @Field(() => ConsentScope, { description: 'What the objection covers.' })
  scope: ConsentScope;

  @Field(() => ConsentChannel, { defaultValue: ConsentChannel.PRIVACY_STAFF, description: 'How it reached us.' })
  channel: ConsentChannel;

  @Field(() => Date, {
    nullable: true,
    description: 'When it takes effect: default now; never in the future; in the past only with a reason.',
  })
  effectiveAt?: Date;

  @Field(() => String, { nullable: true, description: 'Why; required when effectiveAt is in the past (at most 2,000 characters).' })
  reason?: string;

  @Field(() => String, {
    nullable: true,
    description:
      'At most 200 characters. Replaying the same key with the same input returns the original event (a field sent as null counts as omitted); with a different input it is a CONFLICT.',
  })
  idempotencyKey?: string;
}

@ObjectType({ description: 'Result of objectionRecord or objectionWithdraw.' })
export class ObjectionPayload extends MutationPayload {
  @Field(() => ConsentEvent, { nullable: true, description: 'The ledger event (the original one on an idempotent replay).' })
  event?: ConsentEventRow;

  @Field(() => Boolean, { nullable: true, description: 'True when this was an idempotent replay and nothing new was written.' })
  replayed?: boolean;
}

@InputType({ description: 'One objection of a bulk import.' })
export class ObjectionImportRow {
  @Field({ description: 'externalId of the person (at most 200 characters).' })
  externalUserId: string;

  @Field(() => ConsentScope, { description: 'What the objection covers.' })
  scope: ConsentScope;

  @Field(() => Date, {
    nullable: true,
    description: 'When it takes effect (default now; never in the future; in the past only with a reason).',
  })
  effectiveAt?: Date;

  @Field(() => ConsentChannel, { nullable: true, description: 'Default BULK_IMPORT.' })
  channel?: ConsentChannel;

  @Field(() => String, { nullable: true, description: 'Why (default: the batch reason; at most 2,000 characters).' })
  reason?: string;
}

@InputType({ description: 'Many objections at once: all or nothing.' })
export class ObjectionsImportInput {
  @Field(() => [ObjectionImportRow], {
    description:
      'At most 1,000 rows (more are refused with BAD_USER_INPUT before they are read); bigger batches, up to 200,000 rows, go as CSV or NDJSON to `POST /objections/import`.',
  })
  rows: ObjectionImportRow[];

  @Field(() => String, { nullable: true, description: 'Reason for rows that give none (at most 2,000 characters).' })
  reason?: string;
}

@ObjectType({ description: 'Result of objectionsImport.' })
export class ObjectionsImportPayload extends MutationPayload {
  @Field(() => Int, { nullable: true, description: 'Events written.' })
  importedCount?: number;
}

@ObjectType({ description: 'Whether one scope is objected at an instant.' })
export class ScopeState {
  @Field(() => ConsentScope, { description: 'The scope.' })
  scope: ConsentScope;

  @Field({ description: 'True when an objection is in force for this scope.' })
  objected: boolean;

  @Field(() => ConsentEvent, { nullable: true, description: 'The event that decides it (null: never objected).' })
  decidedBy: ConsentEventRow | null;
}

@ObjectType({ description: 'Which scopes are objected for a person at an instant.' })
export class ConsentState {
  @Field(() => ID, { description: 'The person.' })
  userId: string;

  @Field({ description: 'The instant evaluated.' })
  asOf: Date;

  @Field(() => [ConsentScope], { description: 'Scopes objected at asOf.' })
  objectedScopes: ConsentScope[];

  @Field(() => [ScopeState], { description: 'Every scope with the event that decides it.' })
  scopes: ScopeState[];
}
