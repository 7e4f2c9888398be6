import {
  GraphQLField, GraphQLInputType, GraphQLNamedType, getNamedType, isEnumType, isInputObjectType, isListType, isNonNullType, isObjectType, isScalarType,
} from 'graphql';
import { ALL_ROLES, Role } from '../src/common/auth';
import { buildSchema } from '../src/schema';
import { startTestApp, TestApp } from './helpers';

const { PRIVACY_OFFICER: PO, AUDITOR, ML_ENGINEER: ML, LINEAGE_READER: LR, INGEST_SERVICE: INGEST } = Role;

/** DESIGN.md §5 as a table. A field missing here fails the test: a new field cannot skip the matrix. */
const ACCESS: Record<string, Role[]> = {
  'Query.viewer': ALL_ROLES,
  'Query.user': [PO, AUDITOR, ML, INGEST],
  'Query.users': [PO, AUDITOR, ML, INGEST],
  'Query.contentItem': [PO, AUDITOR, ML, INGEST],
  'Query.contentItems': [PO, AUDITOR, ML, INGEST],
  'Query.policy': ALL_ROLES,
  'Query.policies': ALL_ROLES,
  'Query.eligibility': [PO, AUDITOR],
  'Query.eligibleContent': [PO, AUDITOR, ML],
  'Query.eligibilityReport': [PO, AUDITOR],
  'Query.consentHistory': [PO, AUDITOR],
  'Query.consentState': [PO, AUDITOR],
  'Query.dataset': [ML, PO, AUDITOR, LR],
  'Query.datasets': [ML, PO, AUDITOR, LR],
  'Query.trainingRun': [ML, PO, AUDITOR, LR],
  'Query.trainingRuns': [ML, PO, AUDITOR, LR],
  'Query.lineage': [ML, PO, AUDITOR, LR],
  'Query.subjectFootprint': [PO, AUDITOR],
  'Query.auditEvents': [PO, AUDITOR],
  'Query.auditChainVerification': [PO, AUDITOR],
  'Mutation.usersIngest': [INGEST],
  'Mutation.contentIngest': [INGEST],
  'Mutation.contentVisibilityChange': [INGEST],
  'Mutation.contentDelete': [INGEST],
  'Mutation.objectionRecord': [PO],
  'Mutation.objectionWithdraw': [PO],
  'Mutation.objectionsImport': [PO],
  'Mutation.erasureRequest': [PO],
  'Mutation.policyPublish': [PO],
  'Mutation.trainingRunReview': [PO],
  'Mutation.datasetRequest': [ML],
  'Mutation.datasetDerive': [ML],
  'Mutation.datasetRemediate': [ML],
  'Mutation.trainingRunRecord': [ML],
};

const SCALARS: Record<string, unknown> = {
  ID: '00000000-0000-0000-0000-000000000000', String: 'x', Int: 1, Float: 0.5, Boolean: true, DateTimeISO: '2025-01-01T00:00:00Z', LocalDate: '1990-01-01', JSON: {},
};

/** A value of the type with every required field filled in (a well-formed request the rules will still refuse). */
function sample(type: GraphQLInputType): unknown {
  if (isNonNullType(type)) return sample(type.ofType);
  if (isListType(type)) return [sample(type.ofType)];
  if (isEnumType(type)) return type.getValues()[0].value;
  if (isScalarType(type)) return SCALARS[type.name] ?? 'x';
  if (isInputObjectType(type)) {
    const out: Record<string, unknown> = {};
    for (const f of Object.values(type.getFields())) if (isNonNullType(f.type) && f.defaultValue === undefined) out[f.name] = sample(f.type);
    return out;
  }
  return null;
}

/** The smallest operation that calls the field: required arguments as variables, `__typename` as the selection. */
function operation(kind: 'query' | 'mutation', field: GraphQLField<unknown, unknown>) {
  const required = field.args.filter((a) => isNonNullType(a.type) && a.defaultValue === undefined);
  const defs = required.map((a) => `$${a.name}: ${String(a.type)}`).join(', ');
  const args = required.map((a) => `${a.name}: $${a.name}`).join(', ');
  const named: GraphQLNamedType = getNamedType(field.type);
  const selection = isObjectType(named) ? ' { __typename }' : '';
  return {
    query: `${kind} Probe${defs ? `(${defs})` : ''} { ${field.name}${args ? `(${args})` : ''}${selection} }`,
    variables: Object.fromEntries(required.map((a) => [a.name, sample(a.type)])),
  };
}

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => t?.close());

const TABLES = ['users', 'content_items', 'visibility_changes', 'consent_events', 'policies', 'audit_events', 'datasets', 'training_runs', 'training_run_reviews', 'lineage_edges'];
const counts = async () => Object.fromEntries(await Promise.all(TABLES.map(async (tb) => [tb, (await t.sql(`SELECT count(*)::int AS n FROM ${tb}`))[0].n])));

describe('access matrix (generated from the schema)', () => {
  const schema = buildSchema();
  const fields = [
    ...Object.values(schema.getQueryType()!.getFields()).map((f) => ['query', f] as const),
    ...Object.values(schema.getMutationType()!.getFields()).map((f) => ['mutation', f] as const),
  ];

  it('has an expectation for every query and mutation field', () => {
    const names = fields.map(([kind, f]) => `${kind === 'query' ? 'Query' : 'Mutation'}.${f.name}`).sort();
    expect(names).toEqual(Object.keys(ACCESS).sort());
  });

  it('admits exactly the roles of DESIGN.md §5, refuses the others with FORBIDDEN (writing nothing) and anonymous callers with UNAUTHENTICATED', async () => {
    const problems: string[] = [];
    for (const [kind, field] of fields) {
      const key = `${kind === 'query' ? 'Query' : 'Mutation'}.${field.name}`;
      const op = operation(kind, field);
      const anonymous = await t.gql(op.query, op.variables, null);
      if (anonymous.status !== 401 || anonymous.errors?.[0].extensions?.code !== 'UNAUTHENTICATED') problems.push(`${key} without token: ${anonymous.status} ${JSON.stringify(anonymous.errors)}`);
      for (const role of ALL_ROLES) {
        const before = kind === 'mutation' ? await counts() : undefined;
        const res = await t.gql(op.query, op.variables, role);
        const codes = (res.errors ?? []).map((e) => e.extensions?.code);
        const allowed = ACCESS[key].includes(role);
        if (allowed && (codes.includes('FORBIDDEN') || codes.includes('UNAUTHENTICATED') || codes.includes('INTERNAL_SERVER_ERROR') || res.status >= 500)) {
          problems.push(`${key} as ${role}: expected admitted, got ${res.status} ${codes.join(',')}`);
        }
        if (!allowed) {
          if (!codes.includes('FORBIDDEN') || res.data?.[field.name] != null) problems.push(`${key} as ${role}: expected FORBIDDEN, got ${codes.join(',') || 'data'}`);
          if (before) {
            const after = await counts();
            if (JSON.stringify(after) !== JSON.stringify(before)) problems.push(`${key} as ${role}: refused but wrote rows`);
          }
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('applies the same rules to the HTTP export and the card', async () => {
    const id = '00000000-0000-0000-0000-000000000000';
    const status = async (p: string, role: Role | null) =>
      (await fetch(`${t.url}${p}`, { headers: role ? { authorization: `Bearer ${t.tokens[role]}` } : {} })).status;
    for (const [p, allowed] of [[`/datasets/${id}/export.ndjson`, [ML, AUDITOR]], [`/datasets/${id}/card`, [ML, PO, AUDITOR, LR]]] as const) {
      expect(await status(p, null)).toBe(401);
      for (const role of ALL_ROLES) expect({ p, role, status: await status(p, role) }).toEqual({ p, role, status: (allowed as readonly Role[]).includes(role) ? 404 : 403 });
    }
  });
});
