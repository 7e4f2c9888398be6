import { Field, ID, InputType, Int, ObjectType } from 'type-graphql';
import { JSONResolver } from 'graphql-scalars';

@ObjectType({ description: 'One entry of the append-only, hash-chained audit log.' })
export class AuditEvent {
  @Field(() => ID, { description: 'Position in the chain.' })
  id: string;

  @Field({ description: 'When the mutation ran.' })
  occurredAt: Date;

  @Field({ description: 'Subject of the caller.' })
  actorSubject: string;

  @Field(() => [String], { description: 'Roles of the caller.' })
  actorRoles: string[];

  @Field({ description: 'The mutation (or CLI operation) name.' })
  operation: string;

  @Field(() => [String], { description: 'Ids of the objects it changed.' })
  targetIds: string[];

  @Field(() => JSONResolver, { description: 'The input, with PII and content text redacted and long lists summarised.' })
  input: unknown;

  @Field({ description: 'Request id (also on every log line of the request).' })
  requestId: string;

  @Field({ description: 'Hash of the previous event.' })
  prevHash: string;

  @Field({ description: 'SHA-256 over prevHash and this event\'s canonical JSON.' })
  hash: string;
}

@InputType({ description: 'Filter for auditEvents.' })
export class AuditEventFilter {
  @Field(() => String, { nullable: true, description: 'Only this operation.' })
  operation?: string;

  @Field(() => String, { nullable: true, description: 'Only this actor.' })
  actorSubject?: string;

  @Field(() => String, { nullable: true, description: 'Only events that name this id among their targets.' })
  targetId?: string;

  @Field(() => Date, { nullable: true, description: 'Only events at or after this instant.' })
  from?: Date;

  @Field(() => Date, { nullable: true, description: 'Only events before this instant.' })
  to?: Date;
}

@ObjectType({ description: 'Result of walking the whole audit chain.' })
export class AuditChainVerification {
  @Field({ description: 'True when every event\'s hash and link match.' })
  valid: boolean;

  @Field(() => Int, { description: 'Events checked (up to and including the first broken one).' })
  checkedEvents: number;

  @Field(() => ID, { nullable: true, description: 'The first event whose hash or link does not match.' })
  firstBrokenEventId: string | null;
}
