import { Mutation, UseMiddleware, MiddlewareFn } from 'type-graphql';

type MutationReturnType = Parameters<typeof Mutation>[0];
type MutationOptions = NonNullable<Parameters<typeof Mutation>[1]>;
import type { RequestContext } from '../../context';
import { DomainError } from '../../common/errors';
import { checkArguments } from '../../common/arguments';
import { factSession } from '../../db/citus';
import { statementTimeout } from '../../db/sql';
import { appendMutationEvent } from './audit.service';

/** Names of every field declared with @AuditedMutation: a test checks that it equals the schema's Mutation fields. */
export const auditedMutations = new Set<string>();

/** What a mutation's service method returns: the payload, plus the ids the audit event names. */
export interface MutationOutcome<P> {
  payload: P;
  targetIds: string[];
}

/** Operations that may run long (dataset builds, bulk imports): their statements get the build statement timeout. */
export const LONG_RUNNING_OPERATIONS = new Set([
  'datasetRequest',
  'datasetDerive',
  'datasetRemediate',
  'objectionsImport',
  'syntheticSeed',
]);

/** Operations that build dataset versions: they read facts under the facts lock (citus.ts withFactsSettled), write none. */
const BUILDING_OPERATIONS = new Set(['datasetRequest', 'datasetDerive', 'datasetRemediate']);

/**
 * Runs `work` as one transaction that also appends the audit event, so a change and its audit record commit or roll
 * back together. Used by every GraphQL mutation (through @AuditedMutation) and by the CLI's bulk commands.
 */
export async function runAudited<P>(
  ctx: RequestContext,
  operation: string,
  input: unknown,
  work: (tx: RequestContext) => Promise<MutationOutcome<P>>,
): Promise<P> {
  return ctx.dataSource.transaction(async (manager) => {
    // Everything this request reads or writes from here on (services, loaders) goes through the transaction.
    const outer = ctx.manager;
    ctx.manager = manager;
    try {
      await factSession(manager, !BUILDING_OPERATIONS.has(operation));
      if (LONG_RUNNING_OPERATIONS.has(operation)) await statementTimeout(manager, ctx.config.buildStatementTimeoutMs);
      const outcome = await work(ctx);
      await appendMutationEvent(manager, ctx, operation, input, outcome.targetIds);
      return outcome.payload;
    } finally {
      ctx.manager = outer;
    }
  });
}

/**
 * Declares a mutation whose resolver returns a MutationOutcome. The middleware wraps it in a transaction with its audit
 * event, and turns a DomainError into `userErrors` on the payload (after rolling everything back). Malformed strings in
 * the arguments (checkArguments) are refused the same way, before the transaction begins.
 */
export function AuditedMutation(returnType: MutationReturnType, options: MutationOptions & { description: string }): MethodDecorator {
  const middleware: MiddlewareFn<RequestContext> = async ({ context, info, args }, next) => {
    try {
      checkArguments(info, args);
      return await runAudited(context, info.fieldName, args.input ?? args, async () => (await next()) as MutationOutcome<unknown>);
    } catch (err) {
      if (err instanceof DomainError) return { userErrors: err.details };
      throw err;
    }
  };
  return (target, propertyKey, descriptor) => {
    auditedMutations.add(String(propertyKey));
    UseMiddleware(middleware)(target, propertyKey, descriptor);
    Mutation(returnType, options)(target, propertyKey, descriptor);
  };
}
