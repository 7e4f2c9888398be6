import crypto from 'node:crypto';
import {
  GraphQLField,
  GraphQLInputType,
  GraphQLNamedType,
  GraphQLObjectType,
  getNamedType,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
  isObjectType,
  isScalarType,
  parse,
  OperationDefinitionNode,
  FieldNode,
} from 'graphql';
import { ALL_ROLES, Role, signToken } from '../../src/common/auth';
import { buildSchema } from '../../src/schema';
import { ok, uniq, useTestApp } from '../helpers';
import { World } from '../world';

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
  ID: '00000000-0000-0000-0000-000000000000',
  String: 'x',
  Int: 1,
  Float: 0.5,
  Boolean: true,
  DateTimeISO: '2025-01-01T00:00:00Z',
  LocalDate: '1990-01-01',
  JSON: {},
};

/** A value of the type with every required field filled in (a well-formed request the rules will still refuse). */
function sample(type: GraphQLInputType): unknown {
  if (isNonNullType(type)) return sample(type.ofType);
  if (isListType(type)) return [sample(type.ofType)];
  if (isEnumType(type)) return type.getValues()[0].value;
  if (isScalarType(type)) return SCALARS[type.name] ?? 'x';
  if (isInputObjectType(type)) {
    const out: Record<string, unknown> = {};
    for (const f of Object.values(type.getFields()))
      if (isNonNullType(f.type) && f.defaultValue === undefined) out[f.name] = sample(f.type);
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

const t = useTestApp();

const TABLES = [
  'users',
  'content_items',
  'visibility_changes',
  'consent_events',
  'policies',
  'audit_events',
  'datasets',
  'training_runs',
  'training_run_reviews',
  'lineage_edges',
];
const counts = async () =>
  Object.fromEntries(await Promise.all(TABLES.map(async (tb) => [tb, (await t.sql(`SELECT count(*)::int AS n FROM ${tb}`))[0].n])));

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
      if (anonymous.status !== 401 || anonymous.errors?.[0].extensions?.code !== 'UNAUTHENTICATED')
        problems.push(`${key} without token: ${anonymous.status} ${JSON.stringify(anonymous.errors)}`);
      for (const role of ALL_ROLES) {
        const before = kind === 'mutation' ? await counts() : undefined;
        const res = await t.gql(op.query, op.variables, role);
        const codes = (res.errors ?? []).map((e) => e.extensions?.code);
        const allowed = ACCESS[key].includes(role);
        if (
          allowed &&
          (codes.includes('FORBIDDEN') || codes.includes('UNAUTHENTICATED') || codes.includes('INTERNAL_SERVER_ERROR') || res.status >= 500)
        ) {
          problems.push(`${key} as ${role}: expected admitted, got ${res.status} ${codes.join(',')}`);
        }
        if (!allowed) {
          if (!codes.includes('FORBIDDEN') || res.data?.[field.name] != null)
            problems.push(`${key} as ${role}: expected FORBIDDEN, got ${codes.join(',') || 'data'}`);
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
    for (const [p, allowed] of [
      [`/datasets/${id}/export.ndjson`, [ML, AUDITOR]],
      [`/datasets/${id}/card`, [ML, PO, AUDITOR, LR]],
    ] as const) {
      expect(await status(p, null)).toBe(401);
      for (const role of ALL_ROLES)
        expect({ p, role, status: await status(p, role) }).toEqual({
          p,
          role,
          status: (allowed as readonly Role[]).includes(role) ? 404 : 403,
        });
    }
  });
});

/**
 * ML engineers are isolated on every path (DESIGN.md §5), whatever other roles their token carries: engineer A's
 * datasets, members, runs and exports are invisible to engineer B, and lineage shows them to B only as opaque ids.
 * The paths are found by walking the schema: every field of Query, Mutation, Dataset and TrainingRun that returns
 * (or wraps) a dataset, a training run or a lineage graph. A field missing from PATHS fails the test.
 */
describe('ML engineers isolated on every path, with multi-role tokens', () => {
  const schema = buildSchema();
  const ROOTS = ['Dataset', 'TrainingRun', 'LineageNode'];

  /** Object types that are, or (through their fields) hold, a dataset, a run or a lineage node. */
  function reachingTypes(): Set<string> {
    const found = new Set(ROOTS);
    const objects = Object.values(schema.getTypeMap()).filter(
      (ty): ty is GraphQLObjectType => isObjectType(ty) && !ty.name.startsWith('__'),
    );
    for (let grew = true; grew;) {
      grew = false;
      for (const ty of objects) {
        if (!found.has(ty.name) && Object.values(ty.getFields()).some((f) => found.has(getNamedType(f.type).name))) {
          found.add(ty.name);
          grew = true;
        }
      }
    }
    return found;
  }
  const reaching = reachingTypes();
  const pathFields = ['Query', 'Mutation', 'Dataset', 'TrainingRun'].flatMap((parent) =>
    Object.values((schema.getType(parent) as GraphQLObjectType).getFields())
      .filter((f) => reaching.has(getNamedType(f.type).name))
      .map((f) => `${parent}.${f.name}`),
  );

  const DATASET = `id name version spec purpose origin status requestedBy snapshotAt createdAt memberCount candidateCount manifestDigest
    exclusions { reason count } policy { key version } taint { tainted taintedCount } buildVerification { reproduced } card cardUrl openLineageEvents
    supersededBy { id name requestedBy } parents { id name requestedBy }
    members(first: 50) { totalCount edges { node { itemId contentHash item { id text } } } }`;
  const RUN = `id modelName modelVersion description recordedBy createdAt reviewStatus reviews { reason reviewer } openLineageEvents datasets { ${DATASET} }`;
  const LINEAGE = `nodes { id kind label depth status } edges { upstreamId downstreamId type transformation } truncated`;
  const FOOTPRINT = `userId contentCount datasets { itemCount dataset { ${DATASET} } } trainingRuns { viaDatasetIds trainingRun { id modelName recordedBy } }`;
  const topLevel = (selection: string) =>
    ((parse(`{ ${selection} }`).definitions[0] as OperationDefinitionNode).selectionSet.selections as FieldNode[])
      .map((f) => f.name.value)
      .sort();

  interface Fixture {
    a: { ds: any; child: any; run: any; items: string[]; person: string };
    b: { ds: any; old: any; run: any; language: string };
    secrets: string[];
    ids: string[];
  }
  let f: Fixture;
  const token = (subject: string, roles: Role[]) => signToken(t.app.secret, subject, roles);
  const SECRET = `secret-${crypto.randomBytes(4).toString('hex')}`;

  /** A probe per path: the operation an engineer B token runs with engineer A's (and B's own) ids. */
  interface Probe {
    query: string;
    vars: () => Record<string, unknown>;
    notFound?: boolean;
    opaqueIds?: boolean;
    mutation?: boolean;
    foreign?: Probe;
  }
  const PATHS: Record<string, Probe> = {
    'Query.dataset': {
      query: `query($a: ID!, $c: ID!, $b: ID!) { a: dataset(id: $a) { ${DATASET} } c: dataset(id: $c) { ${DATASET} } own: dataset(id: $b) { ${DATASET} } }`,
      vars: () => ({ a: f.a.ds.id, c: f.a.child.id, b: f.b.ds.id }),
      notFound: true,
    },
    'Query.datasets': {
      query: `query($n: String!) { byName: datasets(first: 2, filter: { name: $n }) { totalCount edges { node { ${DATASET} } } }
        all: datasets(first: 20) { totalCount edges { node { id name requestedBy } } } }`,
      vars: () => ({ n: f.a.ds.name }),
    },
    'Query.trainingRun': {
      query: `query($a: ID!, $b: ID!) { a: trainingRun(id: $a) { ${RUN} } own: trainingRun(id: $b) { ${RUN} } }`,
      vars: () => ({ a: f.a.run.id, b: f.b.run.id }),
      notFound: true,
    },
    'Query.trainingRuns': {
      query: `query($m: String!) { byName: trainingRuns(first: 2, modelName: $m) { totalCount edges { node { ${RUN} } } }
        all: trainingRuns(first: 20) { totalCount edges { node { id modelName recordedBy datasets { id name } } } } }`,
      vars: () => ({ m: f.a.run.modelName }),
    },
    'Query.lineage': {
      query: `query($b: ID!) { own: lineage(nodeId: $b, depth: 5) { ${LINEAGE} } }`,
      vars: () => ({ b: f.b.ds.id }),
      opaqueIds: true,
      // LineageGraph is non-null: a refused start nulls the whole answer, so it is asked on its own.
      foreign: {
        query: `query($a: ID!) { a: lineage(nodeId: $a) { ${LINEAGE} } }`,
        vars: () => ({ a: f.a.ds.id }),
        notFound: true,
        opaqueIds: true,
      },
    },
    'Query.subjectFootprint': {
      query: `query($u: ID!) { subjectFootprint(userId: $u) { ${FOOTPRINT} } }`,
      vars: () => ({ u: f.a.person }),
    },
    'Dataset.supersededBy': {
      query: `query($b: ID!) { dataset(id: $b) { supersededBy { ${DATASET} } } }`,
      vars: () => ({ b: f.b.old.id }),
    },
    'Dataset.parents': { query: `query($b: ID!) { dataset(id: $b) { parents { ${DATASET} } } }`, vars: () => ({ b: f.b.ds.id }) },
    'TrainingRun.datasets': {
      query: `query($b: ID!) { trainingRun(id: $b) { datasets { ${DATASET} } } }`,
      vars: () => ({ b: f.b.run.id }),
    },
    'Mutation.datasetRequest': {
      query: `mutation($l: String!) { datasetRequest(input: { name: "probe", filters: { languages: [$l] } }) { dataset { ${DATASET} } userErrors { code } } }`,
      vars: () => ({ l: f.b.language }),
      mutation: true,
    },
    'Mutation.datasetDerive': {
      query: `mutation($a: ID!) { datasetDerive(input: { name: "probe", operation: UNION, parentIds: [$a] }) { dataset { ${DATASET} } userErrors { code field } } }`,
      vars: () => ({ a: f.a.ds.id }),
      notFound: true,
      opaqueIds: true,
      mutation: true,
    },
    'Mutation.datasetRemediate': {
      query: `mutation($a: ID!) { datasetRemediate(input: { datasetId: $a }) { dataset { ${DATASET} } userErrors { code field } } }`,
      vars: () => ({ a: f.a.ds.id }),
      notFound: true,
      opaqueIds: true,
      mutation: true,
    },
    'Mutation.trainingRunRecord': {
      query: `mutation($a: ID!) { trainingRunRecord(input: { modelName: "probe", modelVersion: "1", datasetIds: [$a] }) { trainingRun { ${RUN} } userErrors { code } } }`,
      vars: () => ({ a: f.a.ds.id }),
      notFound: true,
      opaqueIds: true,
      mutation: true,
    },
    'Mutation.trainingRunReview': {
      query: `mutation($a: ID!) { trainingRunReview(input: { runId: $a, decision: RISK_ACCEPTED, reason: "probe" }) { trainingRun { ${RUN} } userErrors { code } } }`,
      vars: () => ({ a: f.a.run.id }),
      notFound: true,
      opaqueIds: true,
      mutation: true,
    },
  };

  beforeAll(async () => {
    const w = new World(t);
    const lang = () => String.fromCharCode(...Array.from({ length: 3 }, () => 97 + crypto.randomInt(26)));
    const [aLang, bLang] = [lang(), lang()];
    const person = await w.user();
    const items = [
      await w.item(person, { language: aLang, text: `${SECRET} text 1` }),
      await w.item(person, { language: aLang, text: `${SECRET} text 2` }),
    ];
    const other = await w.user();
    await w.item(other, { language: bLang, text: 'b text' });
    const A = await token('engineer-a', [Role.ML_ENGINEER]);
    const B = await token('engineer-b', [Role.ML_ENGINEER]);
    const build = async (as: string, name: string, language: string) => {
      const made = ok(
        await t.gql(
          `mutation($i: DatasetRequestInput!) { datasetRequest(input: $i) { dataset { id name } userErrors { code message } } }`,
          { i: { name, filters: { languages: [language] } } },
          as,
        ),
      ).datasetRequest;
      if (!made.dataset) throw new Error(`datasetRequest ${name}: ${JSON.stringify(made.userErrors)}`);
      return made.dataset;
    };
    const record = async (as: string, modelName: string, datasetIds: string[]) =>
      ok(
        await t.gql(
          `mutation($i: TrainingRunRecordInput!) { trainingRunRecord(input: $i) { trainingRun { id modelName } } }`,
          { i: { modelName, modelVersion: '1', datasetIds } },
          as,
        ),
      ).trainingRunRecord.trainingRun;
    const ds = await build(A, `${SECRET}-a`, aLang);
    const child = ok(
      await t.gql(
        `mutation($p: ID!) { datasetDerive(input: { name: "${SECRET}-child", operation: DEDUPLICATE, parentIds: [$p] }) { dataset { id name } } }`,
        { p: ds.id },
        A,
      ),
    ).datasetDerive.dataset;
    const run = await record(A, `${SECRET}-model`, [ds.id]);
    const bDs = await build(B, uniq('own-b'), bLang);
    const bOld = await build(B, uniq('own-b-old'), bLang);
    const bRun = await record(B, uniq('own-model'), [bDs.id]);
    // Links the old rule let a token with ML_ENGINEER and another reader role make: B's artifacts built on A's.
    await t.sql(
      `INSERT INTO lineage_edges (upstream_id, downstream_id, type, transformation) VALUES ($1, $2, 'DERIVED_FROM', $4), ($1, $3, 'TRAINED_ON', NULL)`,
      [ds.id, bDs.id, bRun.id, JSON.stringify({ operation: 'UNION', note: SECRET })],
    );
    await t.sql(`UPDATE datasets SET superseded_by = $1 WHERE id = $2`, [ds.id, bOld.id]);
    f = {
      a: { ds, child, run, items, person },
      b: { ds: bDs, old: bOld, run: bRun, language: bLang },
      secrets: [SECRET, ...items],
      ids: [ds.id, child.id, run.id],
    };
  });

  /** Multi-role tokens of engineer B: ML_ENGINEER with every other role, one at a time and all at once. */
  const variants = async () => [
    ...(await Promise.all(
      ALL_ROLES.filter((r) => r !== Role.ML_ENGINEER).map(async (r) => ({
        roles: [Role.ML_ENGINEER, r],
        token: await token('engineer-b', [Role.ML_ENGINEER, r]),
      })),
    )),
    { roles: ALL_ROLES, token: await token('engineer-b', ALL_ROLES) },
  ];
  /**
   * What of engineer A's a response shows: names, texts and member ids anywhere; A's datasets and runs as objects (an
   * `"id"` field). A bare id inside a card, an OpenLineage input or an error message is opaque and allowed, and so are
   * lineage nodes of A's (opaqueIds), whose names the secrets catch.
   */
  const leaks = (body: unknown, opaqueIds = false) => {
    const text = JSON.stringify(body);
    return [...f.secrets, ...(opaqueIds ? [] : f.ids.map((id) => `"id":"${id}"`))].filter((s) => text.includes(s));
  };

  it('has a probe for every field that reaches a dataset, a run or a lineage graph, selecting every field of each', () => {
    expect(Object.keys(PATHS).sort()).toEqual([...pathFields].sort());
    const fieldsOf = (name: string) => Object.keys((schema.getType(name) as GraphQLObjectType).getFields()).sort();
    expect(topLevel(DATASET)).toEqual(fieldsOf('Dataset'));
    expect(topLevel(RUN)).toEqual(fieldsOf('TrainingRun'));
    expect(topLevel(LINEAGE)).toEqual(fieldsOf('LineageGraph'));
  });

  it("the probes can fail: a reader token without ML_ENGINEER sees engineer A's artifacts on every query path", async () => {
    const tool = await token(
      'tool',
      ALL_ROLES.filter((r) => r !== Role.ML_ENGINEER),
    );
    const problems: string[] = [];
    for (const [key, probe] of Object.entries(PATHS)) {
      if (probe.mutation) continue;
      const res = await t.gql(probe.query, probe.vars(), tool);
      if (res.errors?.length) problems.push(`${key}: ${JSON.stringify(res.errors)}`);
      if (leaks(res.data ?? null).length === 0) problems.push(`${key}: shows nothing of engineer A's`);
    }
    expect(problems).toEqual([]);
  });

  it("refuses engineer A's export and card to engineer B with 404, whatever B's other roles", async () => {
    const status = async (p: string, tk: string) => (await fetch(`${t.url}${p}`, { headers: { authorization: `Bearer ${tk}` } })).status;
    const tool = await token('tool', [Role.AUDITOR]);
    const paths = [f.a.ds.id, f.a.child.id].flatMap((id) => [`/datasets/${id}/export.ndjson`, `/datasets/${id}/card`]);
    for (const p of paths) expect({ p, status: await status(p, tool) }).toEqual({ p, status: 200 });
    const seen: unknown[] = [];
    for (const v of await variants()) for (const p of paths) seen.push({ p, roles: v.roles.join('+'), status: await status(p, v.token) });
    expect(seen).toEqual(seen.map((s: any) => ({ ...s, status: 404 })));
    // A signed card link made for B (whatever B's other roles) opens none of A's cards either.
    const { cardLink } = await import('../../src/modules/datasets/card-link');
    const links: unknown[] = [];
    for (const v of await variants())
      for (const id of [f.a.ds.id, f.a.child.id])
        links.push({
          id,
          roles: v.roles.join('+'),
          status: (await fetch(`${t.url}${await cardLink(t.config, id, { subject: 'engineer-b', roles: v.roles })}`)).status,
        });
    expect(links).toEqual(links.map((s: any) => ({ ...s, status: 404 })));
    // B's own card names A's parent only by its id.
    const card = await (
      await fetch(`${t.url}/datasets/${f.b.ds.id}/card`, { headers: { authorization: `Bearer ${(await variants())[0].token}` } })
    ).text();
    expect(leaks(card, true)).toEqual([]);
  });
  it("hides engineer A's datasets, members, runs and lineage names from engineer B on every path, whatever B's other roles", async () => {
    const problems: string[] = [];
    for (const v of await variants()) {
      for (const [key, probe] of Object.entries(PATHS).flatMap(
        ([k, pr]) => [[k, pr], ...(pr.foreign ? [[k, pr.foreign]] : [])] as [string, Probe][],
      )) {
        const res = await t.gql(probe.query, probe.vars(), v.token);
        const who = `${key} as ${v.roles.join('+')}`;
        const found = leaks(res, probe.opaqueIds);
        if (found.length) problems.push(`${who}: shows ${found.join(', ')}`);
        const codes = [
          ...(res.errors ?? []).map((e) => e.extensions?.code),
          ...Object.values(res.data ?? {})
            .flatMap((d: any) => d?.userErrors ?? [])
            .map((e: any) => e.code),
        ];
        if (res.data && 'own' in res.data && !res.data.own) problems.push(`${who}: B's own artifact is hidden`);
        if (key === 'Query.lineage' && !probe.notFound && !res.data?.own?.nodes.some((n: any) => n.id === f.b.ds.id && n.label))
          problems.push(`${who}: B's own node has no label`);
        if (codes.includes('INTERNAL_SERVER_ERROR')) problems.push(`${who}: ${JSON.stringify(res.errors)}`);
        if (probe.notFound && !codes.includes('NOT_FOUND') && !codes.includes('FORBIDDEN'))
          problems.push(`${who}: expected NOT_FOUND, got ${codes.join(',') || 'data'}`);
      }
    }
    expect(problems).toEqual([]);
  });
});
