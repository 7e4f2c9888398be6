import type { ApolloServerPlugin } from '@apollo/server';
import { Kind, visit, type DocumentNode, type OperationDefinitionNode } from 'graphql';
import type { DataSource } from 'typeorm';
import type { RequestContext } from '../../context';
import { queryReads } from '../../common/reads';
import { CONTENT_HANDED_OUT } from '../../modules/content';
import { USER_HANDED_OUT } from '../../modules/users';

/** Introspection reads no table: it may go anywhere. */
const INTROSPECTION = ['__typename', '__schema', '__type'];

/**
 * Fields that hand out content text or PII, wherever they are selected: an objection or an erasure holds for what the
 * service hands out from the moment it commits, not once a standby has replayed it.
 */
const HANDED_OUT = new Set<string>([...CONTENT_HANDED_OUT, ...USER_HANDED_OUT]);
const handsOut = (document: DocumentNode) => {
  let found = false;
  visit(document, {
    Field: (f) => {
      if (HANDED_OUT.has(f.name.value)) found = true;
    },
  });
  return found;
};

let replicaReads: Set<string> | undefined;
/** The root fields declared `@Reads('replica')` (read once the resolvers are loaded), and introspection. */
const replicaFields = () =>
  (replicaReads ??= new Set([...[...queryReads()].filter(([, target]) => target === 'replica').map(([field]) => field), ...INTROSPECTION]));

/**
 * True when a query's root fields all tolerate replication lag (`@Reads('replica')`) and the document hands out no text
 * or PII anywhere; every mutation, and everything else, is served by the primary.
 */
export function servedByReplica(operation: OperationDefinitionNode, document: DocumentNode): boolean {
  if (operation.operation !== 'query') return false;
  const roots = operation.selectionSet.selections.map((s) => (s.kind === Kind.FIELD ? s.name.value : '?'));
  return roots.every((r) => replicaFields().has(r)) && !handsOut(document);
}

/** Serves the operations that `servedByReplica` admits from a read replica (added when DATABASE_REPLICA_URLS is set). */
export function replicaRouting(dataSource: DataSource): ApolloServerPlugin<RequestContext> {
  return {
    async requestDidStart() {
      let release: (() => Promise<void>) | undefined;
      return {
        async didResolveOperation({ contextValue, operation, document }) {
          if (!operation || !servedByReplica(operation, document)) return;
          const runner = dataSource.createQueryRunner('slave');
          contextValue.manager = runner.manager;
          release = () => runner.release();
        },
        async willSendResponse() {
          await release?.();
        },
      };
    },
  };
}
