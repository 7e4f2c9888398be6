import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { Client } from 'pg';
import { Role } from '../src/common/auth';
import { startTestApp, TestApp, uniq, notOnCitus } from './helpers';

const STANDBY_PORT = 5433;
const SCRIPT = path.join(__dirname, 'support', 'standby.sh');
const onPostgres = process.env.DATABASE_URL
  ? notOnCitus('the standby script copies the single PostgreSQL on port 5432; a Citus cluster would need a standby per node').describe
  : describe.skip;

onPostgres('read replicas (a real streaming standby made with pg_basebackup -R)', () => {
  let t: TestApp;
  let standby: Client;
  let replicaUrl: string;

  beforeAll(async () => {
    // The database under test must exist before the base backup so that the standby has it.
    const primary = new URL(process.env.DATABASE_URL!);
    const base = execFileSync('bash', [SCRIPT, 'start', String(STANDBY_PORT)], { encoding: 'utf8', timeout: 180_000 }).trim();
    replicaUrl = `${base}${primary.pathname}`;
    standby = new Client({ connectionString: replicaUrl });
    await standby.connect();
    t = await startTestApp({ replicaUrls: [replicaUrl] });
  }, 240_000);

  afterAll(async () => {
    await t?.close();
    await standby?.end();
    execFileSync('bash', [SCRIPT, 'stop', String(STANDBY_PORT)], { timeout: 60_000 });
  });

  it('routes read-only work to the standby, where writes are refused, and writes to the primary', async () => {
    const replica = t.db.dataSource.createQueryRunner('slave');
    const primary = t.db.dataSource.createQueryRunner('master');
    try {
      expect((await replica.query(`SELECT pg_is_in_recovery() AS r`))[0].r).toBe(true);
      expect((await primary.query(`SELECT pg_is_in_recovery() AS r`))[0].r).toBe(false);
      await expect(replica.query(`INSERT INTO users (external_id, country) VALUES ('replica-write', 'DE')`)).rejects.toThrow(/read-only/);
      await primary.query(`INSERT INTO users (external_id, country) VALUES ($1, 'DE')`, [uniq('primary-write')]);
    } finally {
      await replica.release();
      await primary.release();
    }
  });

  it('serves a lag-tolerant GraphQL read from the standby: a dataset appears there only once replay catches up', async () => {
    await standby.query(`SELECT pg_wal_replay_pause()`);
    let id: string;
    try {
      const made = await t.gql(`mutation { datasetRequest(input: { name: "${uniq('replica')}", filters: { languages: ["zzq"] } }) { dataset { id } userErrors { code } } }`, {}, Role.ML_ENGINEER);
      id = made.data.datasetRequest.dataset.id;
      // The write is on the primary...
      expect((await t.sql(`SELECT count(*)::int AS n FROM datasets WHERE id = $1`, [id]))[0].n).toBe(1);
      // ...and a replica-routed read does not see it while replay is paused.
      const stale = await t.gql(`query($id: ID!) { dataset(id: $id) { id } }`, { id }, Role.AUDITOR);
      expect(stale.errors?.[0].extensions?.code).toBe('NOT_FOUND');
    } finally {
      await standby.query(`SELECT pg_wal_replay_resume()`);
    }
    let seen = false;
    for (let i = 0; i < 100 && !seen; i++) {
      const res = await t.gql(`query($id: ID!) { dataset(id: $id) { id } }`, { id: id! }, Role.AUDITOR);
      seen = res.data?.dataset?.id === id!;
      if (!seen) await new Promise((r) => setTimeout(r, 100));
    }
    expect(seen).toBe(true);
    // A read that must see writes (the consent ledger) stays on the primary.
    const history = await t.gql(`query($u: ID!) { consentHistory(userId: $u) { id } }`, { u: '00000000-0000-0000-0000-000000000000' }, Role.AUDITOR);
    expect(history.errors).toBeUndefined();
  });
});
