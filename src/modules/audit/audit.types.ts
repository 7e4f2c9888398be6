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

  @Field({ description: "SHA-256 over prevHash and this event's canonical JSON." })
  hash: string;

  @Field(() => Int, {
    description:
      'How the hash is computed: 1 (occurredAt in milliseconds, events before checkpoints existed) or 2 (microseconds, ledger bound).',
  })
  hashVersion: number;

  @Field(() => JSONResolver, {
    nullable: true,
    description: 'The consent-ledger rows this event wrote: id ranges, count and SHA-256 of their content.',
  })
  ledger: unknown;
}

@ObjectType({ description: "A signed statement of the audit chain's head, kept in the database and in a file outside it." })
export class AuditCheckpoint {
  @Field(() => ID, { description: 'The last event it covers.' })
  lastEventId: string;

  @Field({ description: "That event's hash." })
  lastHash: string;

  @Field(() => Int, { description: 'Events in the chain up to and including it.' })
  eventCount: number;

  @Field({ description: 'When it was signed.' })
  signedAt: string;

  @Field({ description: 'Id of the Ed25519 key that signed it (first 16 hex digits of the SHA-256 of its public key).' })
  keyId: string;
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

@ObjectType({ description: 'Result of walking the whole audit chain, its latest signed checkpoint and the consent ledger.' })
export class AuditChainVerification {
  @Field({
    description: "True when every event's hash and link match, the latest checkpoint matches, and every ledger row is bound as recorded.",
  })
  valid: boolean;

  @Field(() => Int, { description: 'Events checked.' })
  checkedEvents: number;

  @Field(() => ID, {
    nullable: true,
    description:
      'The first event that does not match: its hash or link, the checkpoint that covers it (it may be gone), or the ledger rows it bound.',
  })
  firstBrokenEventId: string | null;

  @Field(() => Int, { description: 'Consent-ledger rows checked against the audit events that bound them.' })
  checkedLedgerEvents: number;

  @Field(() => [ID], { description: "Consent-ledger rows no audit event binds (written behind the service's back; the first 100)." })
  unboundLedgerEventIds: string[];

  @Field(() => AuditCheckpoint, {
    nullable: true,
    description: 'The latest validly signed checkpoint found (database or file); null when none was taken yet.',
  })
  checkpoint: AuditCheckpoint | null;

  @Field(() => Int, { description: 'Events after that checkpoint: not yet covered by a signature.' })
  eventsAfterCheckpoint: number;

  @Field(() => [String], { description: 'Every problem found, in words.' })
  problems: string[];
}
