import fs from 'node:fs';
import path from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { Role } from '../src/common/auth';
import { freshDatabaseConfig, ok, startTestApp, TestApp, uniq } from './helpers';
import { World } from './world';

const SPEC_DIR = path.resolve(__dirname, '..', 'vendor', 'openlineage');

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
      if (!Object.keys(JSON.parse(fs.readFileSync(path.join(SPEC_DIR, 'facets', facets.get(id)!), 'utf8')).properties ?? {}).includes(name)) errors.push(`${where}: facet key ${name} is not the one ${id} defines`);
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

// A database of its own: the counts below must not see items of earlier runs on the same DATABASE_URL.
let fresh: Awaited<ReturnType<typeof freshDatabaseConfig>>;
let t: TestApp;
beforeAll(async () => {
  fresh = await freshDatabaseConfig();
  t = await startTestApp({ databaseUrl: fresh.config.databaseUrl, dataDir: fresh.config.dataDir });
});
afterAll(async () => {
  await t?.close();
  await fresh?.drop();
});

describe('OpenLineage export', () => {
  it('emits RunEvents for builds, derivations, remediations and training runs that validate against the official schemas', async () => {
    const validate = validator();
    expect(validate({ eventType: 'COMPLETE' }).length).toBeGreaterThan(0);
    const w = new World(t);
    const u = await w.user();
    const language = 'olx';
    for (let i = 0; i < 3; i++) await w.item(u, { language, text: `ol ${i}` });
    const req = ok(await t.gql(`mutation($i: DatasetRequestInput!) { datasetRequest(input: $i) { dataset { id } } }`, { i: { name: uniq('ol'), filters: { languages: [language] } } }, Role.ML_ENGINEER));
    const parent = req.datasetRequest.dataset.id;
    const derived = ok(await t.gql(`mutation($i: DatasetDeriveInput!) { datasetDerive(input: $i) { dataset { id } } }`, { i: { name: uniq('old'), operation: 'UNION', parentIds: [parent] } }, Role.ML_ENGINEER)).datasetDerive.dataset.id;
    const run = ok(await t.gql(`mutation($i: TrainingRunRecordInput!) { trainingRunRecord(input: $i) { trainingRun { id } } }`, { i: { modelName: uniq('llm'), modelVersion: '3.1', datasetIds: [parent, derived] } }, Role.ML_ENGINEER)).trainingRunRecord.trainingRun.id;
    const res = ok(await t.gql(`query($a: ID!, $b: ID!, $r: ID!) { a: dataset(id: $a) { openLineageEvents } b: dataset(id: $b) { openLineageEvents } r: trainingRun(id: $r) { openLineageEvents } }`, { a: parent, b: derived, r: run }, Role.LINEAGE_READER));
    const events = [...res.a.openLineageEvents, ...res.b.openLineageEvents, ...res.r.openLineageEvents];
    expect(events).toHaveLength(3);
    for (const e of events) expect(validate(e)).toEqual([]);
    expect(res.b.openLineageEvents[0].inputs.map((i: any) => i.facets.version.datasetVersion)).toEqual(['1']);
    expect(res.r.openLineageEvents[0].inputs).toHaveLength(2);
    expect(res.a.openLineageEvents[0].outputs[0].outputFacets.outputStatistics.rowCount).toBe(3);
  });
});
