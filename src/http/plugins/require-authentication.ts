import type { ApolloServerPlugin } from '@apollo/server';
import type { RequestContext } from '../../context';
import { unauthenticated } from '../../common/auth';
import { hasAlias, introspectionOnly } from '../../common/http';

/**
 * Fail closed: an operation without a valid token is refused as a whole, before any resolver runs. Without a token,
 * only introspection without aliases runs (what the IDE sends to load its docs: one copy of the schema at most).
 */
export const requireAuthentication: ApolloServerPlugin<RequestContext> = {
  async requestDidStart() {
    return {
      async didResolveOperation({ contextValue, operation, document }) {
        if (!contextValue.viewer && !(operation && introspectionOnly(operation) && !hasAlias(document))) throw unauthenticated();
      },
    };
  },
};
