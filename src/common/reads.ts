import { getMetadataStorage } from 'type-graphql';

/**
 * Where a Query field may read: `replica` when it tolerates replication lag (a standby that has not yet replayed the
 * latest commits), `primary` when it must see every committed write (the consent ledger, the audit chain, people and
 * content as handed out). Only a document whose root fields are all `replica` reads from a replica (DATABASE_REPLICA_URLS),
 * and even then not when it selects text or PII (src/http/plugins/replica-routing.ts).
 */
export type ReadTarget = 'replica' | 'primary';

const declared = new Map<object, Map<string, ReadTarget>>();

/** Declares where a `@Query` method may read; test/replica-classification.test.ts fails for a Query field without it. */
export function Reads(target: ReadTarget): MethodDecorator {
  return (prototype, method) => {
    const resolver = prototype.constructor;
    if (!declared.has(resolver)) declared.set(resolver, new Map());
    declared.get(resolver)!.set(String(method), target);
  };
}

/** The Query fields declared with `@Reads`, by their name in the schema (the resolvers must be loaded). */
export function queryReads(): Map<string, ReadTarget> {
  const reads = new Map<string, ReadTarget>();
  for (const q of getMetadataStorage().queries) {
    const target = declared.get(q.target)?.get(q.methodName);
    if (target) reads.set(q.schemaName, target);
  }
  return reads;
}
