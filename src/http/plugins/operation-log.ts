import type { ApolloServerPlugin } from '@apollo/server';
import type { RequestContext } from '../../context';
import { DomainError, ErrorCode } from '../../common/errors';

/**
 * One log line per operation and per error, on the request's logger (so with its request id). Never variables, inputs,
 * content or error details: those can hold PII. Unexpected errors are logged by name, code and message only.
 */
export const operationLog: ApolloServerPlugin<RequestContext> = {
  async requestDidStart() {
    const started = Date.now();
    return {
      async willSendResponse({ contextValue, operationName, operation, errors }) {
        const errorCodes = errors?.map((e) => e.extensions?.code ?? ErrorCode.INTERNAL_SERVER_ERROR);
        contextValue.log?.info(
          { operationName, operationType: operation?.operation, ms: Date.now() - started, errorCodes },
          'graphql operation',
        );
      },
      async didEncounterErrors({ contextValue, errors }) {
        for (const e of errors) {
          const original = e.originalError as (Error & { code?: string }) | undefined;
          if (!original || original instanceof DomainError || e.extensions?.code) continue;
          contextValue.log?.error(
            { err: { name: original.name, code: original.code, message: original.message }, path: e.path },
            'unexpected error',
          );
        }
      },
    };
  },
};
