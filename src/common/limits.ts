import { GraphQLError, GraphQLSchema, Kind, SelectionSetNode, FragmentDefinitionNode, DocumentNode } from 'graphql';
import { getComplexity, ComplexityEstimator } from 'graphql-query-complexity';
import type { ApolloServerPlugin } from '@apollo/server';
import { DEFAULT_PAGE_SIZE } from './pagination';

export const MAX_DEPTH = 12;
export const MAX_COST = 25000;

/**
 * Cost of a field: 1, plus its children times how many of them a page or a list argument can return. Page sizes
 * (`first`), id lists (`itemIds`, `datasetIds`) and lineage depth all multiply.
 */
const estimator: ComplexityEstimator = ({ args, childComplexity, field }) => {
  let n = 1;
  if (typeof args.first === 'number') n = args.first;
  else if ('first' in (field.args?.reduce((a, x) => ({ ...a, [x.name]: 1 }), {}) ?? {})) n = DEFAULT_PAGE_SIZE;
  if (Array.isArray(args.itemIds)) n = Math.max(n, args.itemIds.length);
  if (field.name === 'lineage') n = Math.max(n, 20 * (typeof args.depth === 'number' ? args.depth : 5));
  return 1 + n * childComplexity;
};

function depthOf(set: SelectionSetNode | undefined, fragments: Record<string, FragmentDefinitionNode>, seen: Set<string>): number {
  if (!set) return 0;
  let max = 0;
  for (const s of set.selections) {
    if (s.kind === Kind.FIELD) {
      if (s.name.value.startsWith('__')) continue;
      max = Math.max(max, 1 + depthOf(s.selectionSet, fragments, seen));
    } else if (s.kind === Kind.INLINE_FRAGMENT) {
      max = Math.max(max, depthOf(s.selectionSet, fragments, seen));
    } else if (s.kind === Kind.FRAGMENT_SPREAD && !seen.has(s.name.value) && fragments[s.name.value]) {
      max = Math.max(max, depthOf(fragments[s.name.value].selectionSet, fragments, new Set([...seen, s.name.value])));
    }
  }
  return max;
}

/** Depth of the deepest selection of an operation (introspection fields excluded). */
export function operationDepth(document: DocumentNode, operationName?: string | null): number {
  const fragments: Record<string, FragmentDefinitionNode> = {};
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments[d.name.value] = d;
  const ops = document.definitions.filter((d) => d.kind === Kind.OPERATION_DEFINITION && (!operationName || d.name?.value === operationName));
  return Math.max(0, ...ops.map((o) => depthOf((o as any).selectionSet, fragments, new Set())));
}

/** Refuses, before execution, operations deeper than MAX_DEPTH or costlier than MAX_COST (BAD_USER_INPUT). */
export function limitsPlugin(schema: GraphQLSchema): ApolloServerPlugin {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ request, document }) {
          const depth = operationDepth(document, request.operationName);
          if (depth > MAX_DEPTH) {
            throw new GraphQLError(`Query is ${depth} levels deep; the limit is ${MAX_DEPTH}`, { extensions: { code: 'BAD_USER_INPUT', http: { status: 400 } } });
          }
          let cost: number;
          try {
            cost = getComplexity({ schema, query: document, operationName: request.operationName ?? undefined, variables: request.variables ?? {}, estimators: [estimator] });
          } catch {
            // Variables that do not coerce: execution reports them with BAD_USER_INPUT.
            return;
          }
          if (cost > MAX_COST) {
            throw new GraphQLError(`Query costs ${cost}; the limit is ${MAX_COST} (page sizes, id lists and lineage depth multiply)`, {
              extensions: { code: 'BAD_USER_INPUT', cost, maxCost: MAX_COST, http: { status: 400 } },
            });
          }
        },
      };
    },
  };
}
