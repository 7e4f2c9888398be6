import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { Client } from 'pg';
import { Role } from '../../src/common/auth';
import { factory, ingest, ok, startTestApp, TestApp, uniq, notOnCitus } from '../helpers';

const STANDBY_PORT = 5433;
const SCRIPT = path.join(__dirname, '..', 'support', 'standby.sh');
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
      const made = await t.gql(
        `mutation { datasetRequest(input: { name: "${uniq('replica')}", filters: { languages: ["zzq"] } }) { dataset { id } userErrors { code } } }`,
        {},
        Role.ML_ENGINEER,
      );
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
    const history = await t.gql(
      `query($u: ID!) { consentHistory(userId: $u) { id } }`,
      { u: '00000000-0000-0000-0000-000000000000' },
      Role.AUDITOR,
    );
    expect(history.errors).toBeUndefined();
  });

  it('hands out content text and PII only from the primary: an objection or an erasure recorded while the standby lags holds at once', async () => {
    const author = factory.user();
    const item = factory.item(author.externalId);
    const ids = await ingest(t, [author], [item]);
    const [userId, itemId] = [ids[author.externalId], ids[item.externalId]];
    for (let i = 0; i < 100; i++) {
      if ((await standby.query(`SELECT count(*)::int AS n FROM content_items WHERE id = $1`, [itemId])).rows[0].n) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const TEXT = `query($a: ID!) { eligibleContent(filter: { authorId: $a }, first: 10) { edges { node { id text } } } }`;
    expect(ok(await t.gql(TEXT, { a: userId }, Role.ML_ENGINEER)).eligibleContent.edges).toEqual([
      { node: { id: itemId, text: item.text } },
    ]);
    const PII = `query($a: ID!) { subjectFootprint(userId: $a) { contentCount } eligibility(itemIds: ["${itemId}"]) { eligible item { text author { email handle birthDate } } } }`;
    await standby.query(`SELECT pg_wal_replay_pause()`);
    try {
      ok(
        await t.gql(`mutation($i: ObjectionInput!) { objectionRecord(input: $i) { event { id } } }`, {
          i: { userId, scope: 'ALL_AI_TRAINING' },
        }),
      );
      expect(ok(await t.gql(TEXT, { a: userId }, Role.ML_ENGINEER)).eligibleContent.edges).toEqual([]);
      ok(
        await t.gql(`mutation($u: ID!) { erasureRequest(input: { userId: $u, reason: "replica test" }) { userErrors { code } } }`, {
          u: userId,
        }),
      );
      const after = ok(await t.gql(PII, { a: userId }, Role.PRIVACY_OFFICER));
      expect(after.eligibility).toEqual([
        { eligible: false, item: { text: null, author: { email: null, handle: null, birthDate: null } } },
      ]);
      // A read without text or PII still goes to the standby, which has not seen the objection yet.
      const lagging = ok(
        await t.gql(
          `query($a: ID!) { eligibleContent(filter: { authorId: $a }, first: 10) { edges { node { id } } } }`,
          { a: userId },
          Role.ML_ENGINEER,
        ),
      );
      expect(lagging.eligibleContent.edges).toEqual([{ node: { id: itemId } }]);
    } finally {
      await standby.query(`SELECT pg_wal_replay_resume()`);
    }
  });

  it('exports text from the primary: a version the standby has not replayed yet exports whole for an ML engineer', async () => {
    const author = factory.user();
    const at = new Date(Date.UTC(2010, 0, 1) + Math.floor(Math.random() * 3e11)); // an instant no other item of the database has
    const item = factory.item(author.externalId, { createdAt: at.toISOString() });
    const ids = await ingest(t, [author], [item]);
    await standby.query(`SELECT pg_wal_replay_pause()`);
    try {
      const made = ok(
        await t.gql(
          `mutation($i: DatasetRequestInput!) { datasetRequest(input: $i) { dataset { id memberCount } } }`,
          {
            i: {
              name: uniq('replica-export'),
              filters: { createdFrom: at.toISOString(), createdTo: new Date(at.getTime() + 1).toISOString() },
            },
          },
          Role.ML_ENGINEER,
        ),
      );
      expect(made.datasetRequest.dataset.memberCount).toBe(1);
      const res = await fetch(`${t.url}/datasets/${made.datasetRequest.dataset.id}/export.ndjson`, {
        headers: { authorization: `Bearer ${t.tokens[Role.ML_ENGINEER]}` },
      });
      expect(res.status).toBe(200);
      const lines = (await res.text())
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      expect(lines.map((l) => [l.itemId ?? l.item_id ?? l.id, l.text])).toEqual([[ids[item.externalId], item.text]]);
    } finally {
      await standby.query(`SELECT pg_wal_replay_resume()`);
    }
  });
});
