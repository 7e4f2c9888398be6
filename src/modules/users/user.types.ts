import { Field, ID, InputType, Int, ObjectType } from 'type-graphql';
import { LocalDateResolver } from 'graphql-scalars';
import { MutationPayload } from '../../common/payload';
import { ConnectionType } from '../../common/pagination';

/** A user row as the stores return it. */
export interface UserRow {
  id: string;
  externalId: string;
  handle: string | null;
  email: string | null;
  birthDate: string | null;
  country: string;
  erasedAt: Date | null;
  deletedAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

/** The User fields that hand out PII (null once erased): a document selecting one is served by the primary (replica routing). */
export const USER_HANDED_OUT = ['email', 'handle', 'birthDate'] as const;

@ObjectType({ description: 'A person (one Accounts-Center identity across platforms).' })
export class User implements UserRow {
  @Field(() => ID, { description: 'Opaque id.' })
  id: string;

  @Field({ description: 'Id of the person on the platform.' })
  externalId: string;

  @Field(() => String, { nullable: true, description: 'Public handle; null once erased.' })
  handle: string | null;

  @Field(() => String, { nullable: true, description: 'Email address (PII: PRIVACY_OFFICER only).' })
  email: string | null;

  @Field(() => LocalDateResolver, { nullable: true, description: 'Birth date (PII: PRIVACY_OFFICER only); null when unknown or erased.' })
  birthDate: string | null;

  @Field({ description: 'Country, ISO 3166-1 alpha-2.' })
  country: string;

  @Field(() => Date, { nullable: true, description: 'When the person was erased (GDPR Art. 17).' })
  erasedAt: Date | null;

  @Field(() => Date, { nullable: true, description: 'When the account was deleted on the platform.' })
  deletedAt: Date | null;

  @Field({ description: 'When the record was first ingested.' })
  createdAt: Date;

  @Field({ description: 'When the record last changed.' })
  updatedAt: Date;
}

@InputType({ description: 'Filter for `users`.' })
export class UserFilter {
  @Field(() => String, { nullable: true, description: 'Only users in this country.' })
  country?: string;

  @Field(() => String, { nullable: true, description: 'Only the user with this platform id.' })
  externalId?: string;

  @Field(() => Boolean, { nullable: true, description: 'Only erased (true) or not erased (false) users.' })
  erased?: boolean;
}

@InputType({ description: 'One user to create or update, matched on externalId.' })
export class UserIngestRow {
  @Field({ description: 'Id of the person on the platform (unique; at most 200 characters).' })
  externalId: string;

  @Field(() => String, { nullable: true, description: 'Public handle (at most 200 characters).' })
  handle?: string;

  @Field(() => String, { nullable: true, description: 'Email address.' })
  email?: string;

  @Field(() => LocalDateResolver, { nullable: true, description: 'Birth date (YYYY-MM-DD); omit when unknown.' })
  birthDate?: string;

  @Field({ description: 'Country, ISO 3166-1 alpha-2 (e.g. DE).' })
  country: string;

  @Field(() => Date, { nullable: true, description: 'When the account was deleted on the platform, if it was.' })
  deletedAt?: Date;
}

@InputType({ description: 'A batch of users; all or nothing.' })
export class UsersIngestInput {
  @Field(() => [UserIngestRow], { description: 'Up to 10,000 users.' })
  users: UserIngestRow[];
}

@ObjectType({ description: 'Result of usersIngest.' })
export class UsersIngestPayload extends MutationPayload {
  @Field(() => [User], { nullable: true, description: 'The users as stored, in input order.' })
  users?: User[];

  @Field(() => Int, { nullable: true, description: 'How many were new.' })
  createdCount?: number;

  @Field(() => Int, { nullable: true, description: 'How many existed and were updated.' })
  updatedCount?: number;
}

@InputType({ description: 'A request to erase a person (GDPR Art. 17).' })
export class ErasureRequestInput {
  @Field(() => ID, { description: 'The person.' })
  userId: string;

  @Field({ description: 'Why (e.g. the request reference; at most 2,000 characters).' })
  reason: string;
}

@ObjectType({ description: 'Result of erasureRequest.' })
export class ErasureRequestPayload extends MutationPayload {
  @Field(() => User, { nullable: true, description: 'The person, now erased.' })
  user?: unknown;

  @Field(() => Int, { nullable: true, description: 'Items whose text was removed (ids and hashes are kept for lineage).' })
  erasedContentCount?: number;
}

/** A page of people. */
export const UserConnection = ConnectionType(User, 'User');
