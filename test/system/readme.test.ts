import fs from 'node:fs';
import path from 'node:path';
import { Kind, parse, validate } from 'graphql';
import { Role } from '../../src/common/auth';
import { seedDemoIfEmpty } from '../../src/modules/seed/demo';
import { buildSchema } from '../../src/schema';
import { freshDatabaseConfig, startTestApp, TestApp } from '../helpers';

/**
 * The README's examples paste as written: each GraphQL block is one named operation whose variables the prose gives
 * (a backquoted JSON object before the block, or "same variables"), and each runs without an error on a fresh
 * database with the demo data, with the ids the README prints. The `curl` examples that send GraphQL run too.
 */
const README = fs.readFileSync(path.resolve(__dirname, '..', '..', 'README.md'), 'utf8');

interface Example {
  line: number;
  query: string;
  variables?: Record<string, unknown>;
  role: Role;
}

/** The examples of one README section, in order. */
function examples(section: string): Example[] {
  const start = README.indexOf(`## ${section}\n`);
  const end = README.indexOf('\n## ', start + 1);
  const text = README.slice(start, end === -1 ? undefined : end);
  const out: Example[] = [];
  const block = /```(graphql|sh)\n([\s\S]*?)```/g;
  let prose = 0;
  let last: Record<string, unknown> | undefined;
  for (const m of text.matchAll(block)) {
    const before = text.slice(prose, m.index);
    prose = m.index! + m[0].length;
    const line = README.slice(0, start + m.index!).split('\n').length;
    const role = /ML engineer|ML_ENGINEER token/.test(before) ? Role.ML_ENGINEER : Role.PRIVACY_OFFICER;
    if (m[1] === 'sh') {
      const body = /\bcurl\b[^]*?\s-d\s+'([^']*)'/.exec(m[2]);
      if (!body || !m[2].includes('/graphql')) continue;
      const { query, variables } = JSON.parse(body[1]);
      out.push({ line, query, variables, role });
      continue;
    }
    const given = [...before.matchAll(/`(\{"[^`]*\})`/g)].pop();
    const variables = given ? JSON.parse(given[1].replace(/\s*\n\s*/g, ' ')) : /same variables/.test(before) ? last : undefined;
    last = variables;
    out.push({ line, query: m[2], variables, role });
  }
  return out;
}

/** Every non-empty `userErrors` list in an answer. */
const userErrors = (data: unknown): unknown[] =>
  data && typeof data === 'object'
    ? Object.entries(data).flatMap(([k, v]) => (k === 'userErrors' && Array.isArray(v) ? v : userErrors(v)))
    : [];

describe('README examples', () => {
  const list = examples('Example operations');
  let t: TestApp;
  let drop: () => Promise<void>;

  beforeAll(async () => {
    const fresh = await freshDatabaseConfig();
    drop = fresh.drop;
    t = await startTestApp(fresh.config);
    await seedDemoIfEmpty(t.context());
  }, 180_000);
  afterAll(async () => {
    await t?.close();
    await drop?.();
  });

  it('has several, each one named operation that the schema validates, with the variables it declares', () => {
    expect(list.length).toBeGreaterThanOrEqual(7);
    const schema = buildSchema();
    for (const e of list) {
      const doc = parse(e.query);
      const ops = doc.definitions.filter((d) => d.kind === Kind.OPERATION_DEFINITION);
      expect({ line: e.line, operations: ops.length }).toEqual({ line: e.line, operations: 1 });
      expect({ line: e.line, errors: validate(schema, doc).map((x) => x.message) }).toEqual({ line: e.line, errors: [] });
      const declared = (ops[0] as any).variableDefinitions.map((v: any) => v.variable.name.value).sort();
      expect({ line: e.line, variables: Object.keys(e.variables ?? {}).sort() }).toEqual({ line: e.line, variables: declared });
    }
  });

  it('name ids that the demo data has', async () => {
    const section = README.slice(README.indexOf('## Example operations'), README.indexOf('## Datasets, lineage'));
    const ids = [...new Set(section.match(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g) ?? [])];
    expect(ids.length).toBeGreaterThanOrEqual(3);
    const found = await t.sql(
      `SELECT id::text FROM users WHERE id = ANY($1::uuid[]) UNION ALL SELECT id::text FROM content_items WHERE id = ANY($1::uuid[])`,
      [ids],
    );
    expect(found.map((r) => r.id).sort()).toEqual(ids.sort());
  });

  it('run as written on the demo data, without an error', async () => {
    for (const e of list) {
      const res = await t.gql(e.query, e.variables, e.role);
      expect({ line: e.line, status: res.status, errors: res.errors ?? [], userErrors: userErrors(res.data) }).toEqual({
        line: e.line,
        status: 200,
        errors: [],
        userErrors: [],
      });
    }
  });
});
