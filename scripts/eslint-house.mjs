// The house rules of this codebase as a local ESLint plugin (issue 17): which module may import which file, and where
// SQL may be written. They judge resolved paths (an import string is resolved against the importing file), so
// '../users/user.service' from another module is refused while './dataset.store' inside the datasets module is not.
import path from 'node:path';

/**
 * Top-level parts of src/ that compose the application: a module importing one of them would depend on its own composer
 * (the server, HTTP routes and plugins, the CLI, the schema build, the service wiring).
 */
const COMPOSITION = /^(server|http|cli|main|schema|services|ide|instrumentation)(\b|[./-])/;

/** The relative path under src/ with the extension dropped, or undefined outside src/. */
function underSrc(srcDir, file) {
  const rel = path.relative(srcDir, file).split(path.sep).join('/');
  if (rel.startsWith('..') || path.isAbsolute(rel)) return undefined;
  return rel.replace(/\.(d\.ts|ts|tsx|js|mjs|cjs|json)$/, '');
}

/** ['modules', noun, rest] for a path in a module, undefined otherwise. */
function moduleOf(rel) {
  const m = /^modules\/([^/]+)(?:\/(.*))?$/.exec(rel);
  return m ? { noun: m[1], rest: m[2] ?? '' } : undefined;
}

/** Calls `check(node, specifier)` for every module specifier in the file: imports, re-exports, import(), require(), import types. */
function eachSpecifier(check) {
  const literal = (node, source) => {
    if (source && source.type === 'Literal' && typeof source.value === 'string') check(node, source.value);
  };
  return {
    ImportDeclaration: (n) => literal(n, n.source),
    ExportNamedDeclaration: (n) => literal(n, n.source),
    ExportAllDeclaration: (n) => literal(n, n.source),
    ImportExpression: (n) => literal(n, n.source),
    TSExternalModuleReference: (n) => literal(n, n.expression),
    TSImportType: (n) => literal(n, n.argument?.type === 'TSLiteralType' ? n.argument.literal : n.argument),
    CallExpression: (n) => {
      if (n.callee.type === 'Identifier' && n.callee.name === 'require' && n.arguments.length === 1) literal(n, n.arguments[0]);
    },
  };
}

const moduleBoundaries = {
  meta: {
    type: 'problem',
    docs: {
      description:
        "Code outside a module imports it only through its entry (src/modules/<noun>); modules do not import the application's composition",
    },
    schema: [{ type: 'object', properties: { srcDir: { type: 'string' } }, additionalProperties: false }],
    messages: {
      deep: "'{{specifier}}' reaches into the {{noun}} module: import it through its entry ('src/modules/{{noun}}', its index.ts)",
      composition: "'{{specifier}}' is the application's composition ({{target}}): a module must not depend on what composes it",
    },
  },
  create(context) {
    const srcDir = path.resolve(context.cwd, context.options[0]?.srcDir ?? 'src');
    const from = underSrc(srcDir, context.filename);
    if (from === undefined) return {};
    const home = moduleOf(from);
    return eachSpecifier((node, specifier) => {
      if (!specifier.startsWith('.')) return; // packages (tsconfig has no path aliases)
      const target = underSrc(srcDir, path.resolve(path.dirname(context.filename), specifier));
      if (target === undefined) return;
      const there = moduleOf(target);
      if (there) {
        const entry = there.rest === '' || there.rest === 'index';
        // The schema build registers each module's resolvers; the entries leave them out (an entry that other modules
        // load must not load a resolver, whose decorators would run in the middle of an import cycle).
        const registered = from === 'schema' && /\.resolver$/.test(there.rest);
        if (!entry && !registered && there.noun !== home?.noun)
          context.report({ node, messageId: 'deep', data: { specifier, noun: there.noun } });
      } else if (home && COMPOSITION.test(target)) {
        context.report({ node, messageId: 'composition', data: { specifier, target: `src/${target}` } });
      }
    });
  },
};

/**
 * Whether a string (a template's text with its expressions left out) is SQL. The codebase writes SQL keywords in
 * capitals, which tells a statement from prose ("Select a policy, then delete from the list") and from GraphQL
 * documents (lower-case keywords, no casts, no quoted aliases).
 */
const SQL = [
  // A statement's opening: the keyword and what must follow it, so that an enum value ('CREATE', 'DELETE') is not SQL.
  new RegExp(
    '^\\s*\\(?\\s*(' +
      [
        'SELECT\\s+\\S',
        'INSERT\\s+INTO',
        'UPDATE\\s+\\S+\\s+SET',
        'DELETE\\s+FROM',
        'WITH(\\s+RECURSIVE)?\\s+[a-z_]\\w*(\\s*\\([^)]*\\))?\\s+AS\\s+(NOT\\s+)?(MATERIALIZED\\s+)?\\(',
        'COPY\\s+[a-z_(]',
        'LOCK\\s+TABLE',
        'TRUNCATE\\s+(TABLE\\s+)?[a-z_]',
        'CREATE\\s+(OR\\s+REPLACE\\s+|UNLOGGED\\s+|TEMP(ORARY)?\\s+|UNIQUE\\s+)*(TABLE|INDEX|FUNCTION|TRIGGER|VIEW|MATERIALIZED|SEQUENCE|TYPE|SCHEMA|EXTENSION)',
        'ALTER\\s+(TABLE|INDEX|FUNCTION|SEQUENCE|TYPE|SYSTEM)',
        'DROP\\s+(TABLE|INDEX|FUNCTION|TRIGGER|VIEW|MATERIALIZED|SEQUENCE|TYPE|SCHEMA|EXTENSION)',
        'RESET\\s+[a-z_]',
        'SET\\s+(LOCAL\\s+|SESSION\\s+)?[a-z_.]+\\s*(=|TO\\b)',
        '(SHOW|ANALYZE|VACUUM|EXPLAIN)\\s+[a-z_(]',
        'VALUES\\s*\\(',
      ].join('|') +
      ')',
  ),
  // Anywhere in the text: a query, a clause only SQL has, a cast, a quoted alias (the column lists), a server function.
  /\bSELECT\b[\s\S]*\bFROM\b/,
  /\b(INSERT INTO|DELETE FROM|ON CONFLICT|RETURNING|NOT EXISTS|LEFT JOIN|INNER JOIN|JOIN LATERAL|ORDER BY|GROUP BY|WHERE|FOR (UPDATE|SHARE))\b/,
  /::(uuid|text|int|int4|int8|integer|bigint|jsonb?|timestamptz|timestamp|date|boolean|bool|regclass|numeric|xid8?)(\[\])?\b/,
  /\bAS\s+"[A-Za-z]\w*"/,
  /\bpg_[a-z_]+\s*\(/,
];
export const isSql = (text) => SQL.some((re) => re.test(text));

const sqlOutsideStores = {
  meta: {
    type: 'problem',
    docs: { description: "SQL lives in a module's store (<noun>.store.ts), the eligibility rules file and src/db" },
    schema: [],
    messages: {
      sql: "SQL outside a store: move it to the module's <noun>.store.ts (or the eligibility rules file)",
      query: "'.{{method}}()' runs a statement outside a store: call the module's store instead",
    },
  },
  create(context) {
    const check = (node, text) => {
      if (isSql(text)) context.report({ node, messageId: 'sql' });
    };
    return {
      Literal: (n) => typeof n.value === 'string' && check(n, n.value),
      // The expressions are left out (a space each): a fragment interpolated into a statement is judged on its own.
      TemplateLiteral: (n) => check(n, n.quasis.map((q) => q.value.cooked ?? q.value.raw).join(' ')),
      CallExpression: (n) => {
        const c = n.callee;
        if (
          c.type === 'MemberExpression' &&
          !c.computed &&
          c.property.type === 'Identifier' &&
          ['query', 'createQueryBuilder'].includes(c.property.name)
        ) {
          context.report({ node: n, messageId: 'query', data: { method: c.property.name } });
        }
      },
    };
  },
};

export default {
  meta: { name: 'house' },
  rules: { 'module-boundaries': moduleBoundaries, 'sql-outside-stores': sqlOutsideStores },
};
