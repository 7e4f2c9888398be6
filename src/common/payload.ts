import { Field, ObjectType, registerEnumType } from 'type-graphql';
import { ErrorCode } from './errors';

registerEnumType(ErrorCode, { name: 'ErrorCode', description: 'Stable error codes, in `userErrors` and in `extensions.code`.' });

@ObjectType({ description: 'A business refusal of a mutation: nothing was written.' })
export class UserError {
  @Field(() => ErrorCode, { description: 'Stable machine-readable code.' })
  code: ErrorCode;

  @Field({ description: 'Human-readable explanation.' })
  message: string;

  @Field(() => String, { nullable: true, description: 'Path of the offending input field, e.g. `users[3].country`.' })
  field?: string;
}

/** Base of every mutation payload: the changed object(s) plus userErrors. */
@ObjectType({ description: 'Base of every mutation payload.' })
export abstract class MutationPayload {
  @Field(() => [UserError], { description: 'Why the mutation was refused; empty when it succeeded.' })
  userErrors: UserError[] = [];
}
