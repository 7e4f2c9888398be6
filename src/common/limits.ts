import { ASTVisitor, DocumentNode, GraphQLError, GraphQLSchema, Kind, SelectionSetNode, TypeNode, ValidationContext } from 'graphql';
import { getComplexity, ComplexityEstimator } from 'graphql-query-complexity';
import type { ApolloServerPlugin } from '@apollo/server';
import { ApolloArmor } from '@escape.tech/graphql-armor';
import { DEFAULT_PAGE_SIZE } from './pagination';
import { ErrorCode, errorExtensions } from './errors';

export const MAX_DEPTH = 12;
export const MAX_COST = 25000;
/** Lexical tokens of a document (graphql's parser stops counting there: nothing bigger is even parsed). */
export const MAX_TOKENS = 10000;
export const MAX_ALIASES = 30;
/**
 * Fields a document may hold, counted right after parsing with its aliases, before validation: graphql-js's validation
 * compares fields that share a name pairwise (1,000 copies of `users(first: 1) { totalCount }` held the event loop
 * 0.3-0.5 s, and 1,000 aliases 20-40 ms, before armor's rules, which run in the same pass, could refuse them).
 */
export const MAX_FIELDS = 500;
export const MAX_DIRECTIVES = 20;
/**
 * Rows `objectionsImport` takes through GraphQL. graphql-js coerces a request's variables in one synchronous pass (twice
 * here: to price the operation and to run it), 10-20 µs a row on a busy core: the 9,000 rows that fit in a 1 MB body held
 * the event loop 0.4-0.8 s. Bigger batches stream through `POST /objections/import`, which never holds the loop long.
 */
export const MAX_GRAPHQL_IMPORT_ROWS = 1000;
/** List fields of input types bounded in the raw variables, before anything coerces them: type → field → most items. */
const VARIABLE_LISTS: Record<string, Record<string, { max: number; why: string }>> = {
  ObjectionsImportInput: {
    rows: {
      max: MAX_GRAPHQL_IMPORT_ROWS,
      why: 'objectionsImport takes at most 1,000 rows through GraphQL; send bigger batches (up to 200,000 rows) as CSV or NDJSON to POST /objections/import, which streams them',
    },
  },
};

/** The named type of a variable's type node (`[Foo!]!` → `Foo`). */
const namedType = (type: TypeNode): string => (type.kind === Kind.NAMED_TYPE ? type.name.value : namedType(type.type));

/** graphql-armor's generic cost (objects 2, scalars 1, ×1.5 a level, × `first`): a backstop under the domain cost. */
export const GENERIC_MAX_COST = 500000;

/**
 * What a field that evaluates the whole corpus (or a whole dataset) costs by itself, whatever it selects: a thousand
 * aliases of a cheap-looking report must not run a thousand corpus scans.
 */
const CORPUS_COST: Record<string, number> = {
  eligibilityReport: 2500,
  buildVerification: 1000,
  taint: 500,
  subjectFootprint: 100,
  totalCount: 100,
};

/**
 * Cost of a field: 1, plus its children times how many of them a page or a list argument can return. Page sizes
 * (`first`), id lists (`itemIds`, `datasetIds`) and lineage depth all multiply.
 */
const estimator: ComplexityEstimator = ({ args, childComplexity, field, node }) => {
  let n = 1;
  if (typeof args.first === 'number') n = args.first;
  else if ('first' in (field.args?.reduce((a, x) => ({ ...a, [x.name]: 1 }), {}) ?? {})) n = DEFAULT_PAGE_SIZE;
  if (Array.isArray(args.itemIds)) n = Math.max(n, args.itemIds.length);
  if (field.name === 'lineage') n = Math.max(n, 20 * (typeof args.depth === 'number' ? args.depth : 5));
  // The eligible-content count evaluates the rules over the whole corpus.
  const countsEligibility =
    field.name === 'eligibleContent' && node.selectionSet?.selections.some((x) => x.kind === Kind.FIELD && x.name.value === 'totalCount');
  return 1 + (CORPUS_COST[field.name] ?? 0) + (countsEligibility ? CORPUS_COST.eligibilityReport : 0) + n * childComplexity;
};

const limitError = (message: string, extensions: Record<string, unknown> = {}) =>
  new GraphQLError(message, { extensions: errorExtensions(ErrorCode.BAD_USER_INPUT, { limit: true, ...extensions }) });

/** armor's refusals, reported as BAD_USER_INPUT with our wording (armor's own say "Syntax Error"). */
const refuse = (word: (found: string) => string) => ({
  propagateOnRejection: false,
  onReject: [
    (ctx: ValidationContext | null, err: GraphQLError) =>
      ctx?.reportError(limitError(word(/found (\d+)/.exec(err.message)?.[1] ?? 'too many'))),
  ],
});

/**
 * The generic document limits, from graphql-armor, checked during validation (before execution, introspection
 * included): aliases, directives, depth and a generic cost.
 */
export function armorLimits() {
  const { plugins, validationRules } = new ApolloArmor({
    maxTokens: { enabled: false }, // graphql's parser counts them (parseOptions.maxTokens): one parse, not two
    maxAliases: { n: MAX_ALIASES, ...refuse((n) => `Query has ${n} aliases; the limit is ${MAX_ALIASES}`) },
    maxDirectives: { n: MAX_DIRECTIVES, ...refuse((n) => `Query has ${n} directives; the limit is ${MAX_DIRECTIVES}`) },
    maxDepth: { n: MAX_DEPTH, flattenFragments: true, ...refuse((n) => `Query is ${n} levels deep; the limit is ${MAX_DEPTH}`) },
    costLimit: { maxCost: GENERIC_MAX_COST, ...refuse((n) => `Query costs ${n} by the generic measure; the limit is ${GENERIC_MAX_COST}`) },
    // Suggestions are removed by Apollo (hideSchemaDetailsFromClientErrors) and formatError in production, whole:
    // armor's mask would leave "[Suggestion hidden]?" in the message.
    blockFieldSuggestion: { enabled: false },
  }).protect();
  return { plugins, validationRules };
}

/**
 * Fields and aliases counted before any other rule does work on them: graphql-js runs every validation rule in one
 * pass, and OverlappingFieldsCanBeMerged compares the fields that share a name pairwise (1,000 copies of one field held
 * the event loop 0.3-0.5 s before armor's counts, in the same pass, could refuse them). Over a limit, the rule reports it
 * at the document's root and empties the document (a refused document is never run nor cached), so that no rule visits
 * what it held.
 */
export function documentSizeRule(context: ValidationContext): ASTVisitor {
  return {
    Document: {
      enter(document) {
        const { fields, aliases } = countFields(document);
        const problem =
          aliases > MAX_ALIASES
            ? `Query has ${aliases} aliases; the limit is ${MAX_ALIASES}`
            : fields > MAX_FIELDS
              ? `Query has ${fields} fields; the limit is ${MAX_FIELDS}`
              : undefined;
        if (!problem) return;
        context.reportError(limitError(problem));
        (document as { definitions: DocumentNode['definitions'] }).definitions = [];
      },
    },
  };
}

/**
 * Introspection is never aliased: aliases of `__schema` or `__type`, or inside them (or in a fragment on an
 * introspection type), would multiply the whole schema in one answer (29 aliased copies: 4 MB). One copy is enough.
 */
export function introspectionAliasRule(context: ValidationContext): ASTVisitor {
  let inside = 0;
  let reported = false;
  const introspective = (name: string) => name === '__schema' || name === '__type';
  return {
    FragmentDefinition: {
      enter(node) {
        inside = node.typeCondition.name.value.startsWith('__') ? 1 : 0;
      },
      leave() {
        inside = 0;
      },
    },
    Field: {
      enter(node) {
        if (!reported && node.alias && (inside > 0 || introspective(node.name.value))) {
          reported = true;
          context.reportError(limitError('Introspection fields may not be aliased (one copy of the schema per operation)'));
        }
        if (introspective(node.name.value)) inside++;
      },
      leave(node) {
        if (introspective(node.name.value)) inside--;
      },
    },
  };
}

/** The fields and aliases written in a document (fragments counted once, where they are written). */
function countFields(document: DocumentNode): { fields: number; aliases: number } {
  let fields = 0;
  let aliases = 0;
  const walk = (set: SelectionSetNode | undefined) => {
    for (const selection of set?.selections ?? []) {
      if (selection.kind === Kind.FIELD) {
        fields++;
        if (selection.alias) aliases++;
      }
      if (selection.kind !== Kind.FRAGMENT_SPREAD) walk(selection.selectionSet);
    }
  };
  for (const definition of document.definitions) if ('selectionSet' in definition) walk(definition.selectionSet);
  return { fields, aliases };
}

/**
 * The domain cost (page sizes, id lists, lineage depth, whole-corpus fields), refused before execution above
 * MAX_COST (BAD_USER_INPUT). Fails closed: a document the analyser cannot price is refused.
 */
export function limitsPlugin(schema: GraphQLSchema): ApolloServerPlugin {
  return {
    async requestDidStart() {
      return {
        // Counted once parsed, before validation does work that grows with the square of them (armor's own counts, in
        // the same validation pass, remain for what fragments multiply).
        async didResolveOperation({ request, document, operation }) {
          // Long lists are refused by their raw length: coercing them is what would hold the event loop.
          for (const definition of operation?.variableDefinitions ?? []) {
            const bounded = VARIABLE_LISTS[namedType(definition.type)];
            const value = request.variables?.[definition.variable.name.value] as Record<string, unknown> | null | undefined;
            if (!bounded || typeof value !== 'object' || value === null) continue;
            for (const [field, { max, why }] of Object.entries(bounded)) {
              const list = value[field];
              if (Array.isArray(list) && list.length > max)
                throw limitError(`${why} (this request has ${list.length.toLocaleString('en')})`, { maxItems: max });
            }
          }
          let cost: number;
          try {
            cost = getComplexity({
              schema,
              query: document,
              operationName: request.operationName ?? undefined,
              variables: request.variables ?? {},
              estimators: [estimator],
            });
          } catch (err) {
            const why = err instanceof GraphQLError ? `: ${err.message}` : '';
            throw limitError(`The operation could not be priced${why}; it was not run`);
          }
          if (cost > MAX_COST) {
            throw limitError(
              `Query costs ${cost}; the limit is ${MAX_COST} (page sizes, id lists, lineage depth and whole-corpus fields count)`,
              { cost, maxCost: MAX_COST },
            );
          }
        },
      };
    },
  };
}
