import fs from 'node:fs';
import path from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { Role } from '../../src/common/auth';
import { ok, uniq, useTestApp } from '../helpers';
import { codeOf, tampered, walk } from '../support/pages';
import { LineageDocument } from '../generated/graphql';
import { World } from '../world';

const SPEC_DIR = path.resolve(__dirname, '..', '..', 'vendor', 'openlineage');

/** Every official schema registered, so that facets resolve the core by its $id. */
function validator() {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  const core = JSON.parse(fs.readFileSync(path.join(SPEC_DIR, 'OpenLineage.json'), 'utf8'));
  ajv.addSchema(core);
  const facets = new Map<string, string>();
  for (const file of fs.readdirSync(path.join(SPEC_DIR, 'facets'))) {
    const schema = JSON.parse(fs.readFileSync(path.join(SPEC_DIR, 'facets', file), 'utf8'));
    ajv.addSchema(schema);
    facets.set(schema.$id, file);
  }
  const runEvent = ajv.getSchema(`${core.$id}#/$defs/RunEvent`)!;
  /** Validates the event, then each facet against the schema its _schemaURL names. */
  return (event: any): string[] => {
    const errors: string[] = [];
    if (!runEvent(event)) errors.push(...(runEvent.errors ?? []).map((e) => `event ${e.instancePath} ${e.message}`));
    const check = (where: string, name: string, f: any) => {
      const [id] = String(f._schemaURL).split('#');
      if (!facets.has(id)) return errors.push(`${where}.${name}: unknown facet schema ${id}`);
      const validate = ajv.getSchema(id)!;
      if (!validate({ [name]: f })) errors.push(...(validate.errors ?? []).map((e) => `${where}.${name} ${e.instancePath} ${e.message}`));
      if (!Object.keys(JSON.parse(fs.readFileSync(path.join(SPEC_DIR, 'facets', facets.get(id)!), 'utf8')).properties ?? {}).includes(name))
        errors.push(`${where}: facet key ${name} is not the one ${id} defines`);
    };
    for (const [name, f] of Object.entries(event.run?.facets ?? {})) check('run', name, f);
    for (const [name, f] of Object.entries(event.job?.facets ?? {})) check('job', name, f);
    for (const d of [...(event.inputs ?? []), ...(event.outputs ?? [])]) {
      for (const [name, f] of Object.entries(d.facets ?? {})) check(d.name, name, f);
      for (const [name, f] of Object.entries(d.outputFacets ?? {})) check(d.name, name, f);
    }
    return errors;
  };
}

describe('OpenLineage export', () => {
  // A database of its own: the counts below must not see items of earlier runs on the same DATABASE_URL.
  const t = useTestApp({ fresh: true });

  it('emits RunEvents for builds, derivations, remediations and training runs that validate against the official schemas', async () => {
    const validate = validator();
    expect(validate({ eventType: 'COMPLETE' }).length).toBeGreaterThan(0);
    const w = new World(t);
    const u = await w.user();
    const language = 'olx';
    for (let i = 0; i < 3; i++) await w.item(u, { language, text: `ol ${i}` });
    const req = ok(
      await t.gql(
        `mutation($i: DatasetRequestInput!) { datasetRequest(input: $i) { dataset { id } } }`,
        { i: { name: uniq('ol'), filters: { languages: [language] } } },
        Role.ML_ENGINEER,
      ),
    );
    const parent = req.datasetRequest.dataset.id;
    const derived = ok(
      await t.gql(
        `mutation($i: DatasetDeriveInput!) { datasetDerive(input: $i) { dataset { id } } }`,
        { i: { name: uniq('old'), operation: 'UNION', parentIds: [parent] } },
        Role.ML_ENGINEER,
      ),
    ).datasetDerive.dataset.id;
    const run = ok(
      await t.gql(
        `mutation($i: TrainingRunRecordInput!) { trainingRunRecord(input: $i) { trainingRun { id } } }`,
        { i: { modelName: uniq('llm'), modelVersion: '3.1', datasetIds: [parent, derived] } },
        Role.ML_ENGINEER,
      ),
    ).trainingRunRecord.trainingRun.id;
    const res = ok(
      await t.gql(
        `query($a: ID!, $b: ID!, $r: ID!) { a: dataset(id: $a) { openLineageEvents } b: dataset(id: $b) { openLineageEvents } r: trainingRun(id: $r) { openLineageEvents } }`,
        { a: parent, b: derived, r: run },
        Role.LINEAGE_READER,
      ),
    );
    const events = [...res.a.openLineageEvents, ...res.b.openLineageEvents, ...res.r.openLineageEvents];
    expect(events).toHaveLength(3);
    for (const e of events) expect(validate(e)).toEqual([]);
    expect(res.b.openLineageEvents[0].inputs.map((i: any) => i.facets.version.datasetVersion)).toEqual(['1']);
    expect(res.r.openLineageEvents[0].inputs).toHaveLength(2);
    expect(res.a.openLineageEvents[0].outputs[0].outputFacets.outputStatistics.rowCount).toBe(3);
  });
});

describe('lineage', () => {
  const t = useTestApp();

  async function chain(n: number) {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const [row] = await t.sql(
        `INSERT INTO datasets (name, version, policy_id, snapshot_at, requested_by, origin, spec, member_count, candidate_count, exclusions, manifest_digest)
         SELECT $1, 1, id, now(), 'test', 'DERIVE', '{}', 0, 0, '[]', repeat('0', 64) FROM policies WHERE key = 'eu-ai-training' AND version = 1 RETURNING id`,
        [uniq('chain')],
      );
      ids.push(row.id);
      if (i > 0)
        await t.sql(`INSERT INTO lineage_edges (upstream_id, downstream_id, type) VALUES ($1, $2, 'DERIVED_FROM')`, [ids[i - 1], row.id]);
    }
    return ids;
  }

  it('walks upstream and downstream to the depth asked, and says when it was cut', async () => {
    const ids = await chain(8);
    const down = ok(await t.gql(LineageDocument, { id: ids[0], dir: 'DOWNSTREAM', depth: 3 }, Role.LINEAGE_READER)).lineage;
    expect(down.nodes.map((n: any) => [n.id, n.depth])).toEqual(ids.slice(0, 4).map((id, i) => [id, i]));
    expect(down.edges).toHaveLength(3);
    expect(down.truncated).toBe(true);
    const all = ok(await t.gql(LineageDocument, { id: ids[0], dir: 'DOWNSTREAM', depth: 7 }, Role.LINEAGE_READER)).lineage;
    expect(all.nodes).toHaveLength(8);
    expect(all.truncated).toBe(false);
    const up = ok(await t.gql(LineageDocument, { id: ids[4], dir: 'UPSTREAM' }, Role.LINEAGE_READER)).lineage;
    expect(up.nodes.map((n: any) => n.id).sort()).toEqual(ids.slice(0, 5).sort());
    expect(up.truncated).toBe(false);
    const both = ok(await t.gql(LineageDocument, { id: ids[4], dir: 'BOTH', depth: 2 }, Role.LINEAGE_READER)).lineage;
    expect(both.nodes.map((n: any) => n.id).sort()).toEqual(ids.slice(2, 7).sort());
    expect(both.truncated).toBe(true);
  });

  it('is cycle-safe and refuses depths outside 1-50', async () => {
    const ids = await chain(4);
    await t.sql(`INSERT INTO lineage_edges (upstream_id, downstream_id, type) VALUES ($1, $2, 'DERIVED_FROM')`, [ids[3], ids[0]]);
    const res = ok(await t.gql(LineageDocument, { id: ids[0], dir: 'DOWNSTREAM', depth: 50 }, Role.LINEAGE_READER)).lineage;
    expect(res.nodes).toHaveLength(4);
    expect(res.edges).toHaveLength(4);
    expect((await t.gql(LineageDocument, { id: ids[0], depth: 51 }, Role.LINEAGE_READER)).errors?.[0].extensions?.code).toBe(
      'BAD_USER_INPUT',
    );
    expect((await t.gql(LineageDocument, { id: ids[0], depth: 0 }, Role.LINEAGE_READER)).errors?.[0].extensions?.code).toBe(
      'BAD_USER_INPUT',
    );
    expect(
      (await t.gql(LineageDocument, { id: '00000000-0000-0000-0000-000000000000' }, Role.LINEAGE_READER)).errors?.[0].extensions?.code,
    ).toBe('NOT_FOUND');
  });
});

describe('training runs list', () => {
  const t = useTestApp();
  const q = (modelName: string) =>
    `query($after: String) { trainingRuns(modelName: "${modelName}", first: 2, after: $after) { totalCount edges { cursor node { id modelVersion } } pageInfo { hasNextPage endCursor } } }`;
  /** Runs of one model straight in SQL, recorded by `by`; every run of the model, in id order. */
  const runs = async (modelName: string, n: number, by = 'test') => {
    for (let i = 0; i < n; i++)
      await t.sql(`INSERT INTO training_runs (model_name, model_version, recorded_by) VALUES ($1, $2, $3)`, [modelName, `${by}-v${i}`, by]);
    return (await t.sql(`SELECT id FROM training_runs WHERE model_name = $1 ORDER BY id`, [modelName])).map((r: any) => r.id as string);
  };

  it('walks the runs in id order, each once, with the filtered totalCount', async () => {
    const model = uniq('walk');
    const ids = await runs(model, 7);
    expect([...ids].sort()).toEqual(ids);
    const pages = await walk(t, q(model), (d) => d.trainingRuns, Role.LINEAGE_READER);
    const seen = pages.flatMap((p) => p.edges.map((e: any) => e.node.id));
    expect(seen).toEqual(ids);
    expect(new Set(seen).size).toBe(7);
    expect(pages).toHaveLength(4);
    for (const p of pages) expect(p.totalCount).toBe(7);
  });

  it('keeps ML engineers to their own runs, in the walk and in totalCount', async () => {
    const model = uniq('own');
    await runs(model, 3, 'someone-else');
    await runs(model, 3, 'test-ml_engineer');
    const own = (
      await t.sql(`SELECT id FROM training_runs WHERE model_name = $1 AND recorded_by = 'test-ml_engineer' ORDER BY id`, [model])
    ).map((r: any) => r.id);
    expect(own).toHaveLength(3);
    const pages = await walk(t, q(model), (d) => d.trainingRuns, Role.ML_ENGINEER);
    expect(pages.flatMap((p) => p.edges.map((e: any) => e.node.id))).toEqual(own);
    for (const p of pages) expect(p.totalCount).toBe(3);
  });

  it("refuses another list's cursor and a tampered one", async () => {
    const model = uniq('refuse');
    await runs(model, 3);
    const own = ok(await t.gql(q(model), {}, Role.LINEAGE_READER)).trainingRuns.pageInfo.endCursor;
    expect(ok(await t.gql(q(model), { after: own }, Role.LINEAGE_READER)).trainingRuns.edges).toHaveLength(1);
    await t.sql(
      `INSERT INTO datasets (name, version, policy_id, snapshot_at, requested_by, origin, spec, member_count, candidate_count, exclusions, manifest_digest)
       SELECT $1, 1, id, now(), 'test', 'DERIVE', '{}', 0, 0, '[]', repeat('0', 64) FROM policies WHERE key = 'eu-ai-training' AND version = 1`,
      [uniq('other')],
    );
    const datasets = ok(await t.gql(`{ datasets(first: 1) { pageInfo { endCursor } } }`, {}, Role.AUDITOR)).datasets.pageInfo.endCursor;
    expect(datasets).toBeTruthy();
    // The datasets list's cursor (a timestamp and a uuid), and one of the audit list's shape (a bigint id).
    const auditShaped = Buffer.from(JSON.stringify(['1'])).toString('base64url');
    for (const after of [datasets, auditShaped, ...tampered(own)])
      expect(codeOf(await t.gql(q(model), { after }, Role.LINEAGE_READER))).toBe('BAD_USER_INPUT');
  });
});
