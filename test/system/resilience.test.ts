import { Client } from 'pg';
import { Role } from '../../src/common/auth';
import { factory, ingest, ok, startTestApp, useTestApp } from '../helpers';

// A database of its own: the audit chain verification below also checks the ledger, which other files write to directly.
const t = useTestApp({ fresh: true });

const RECORD = `mutation($i: ObjectionInput!) { objectionRecord(input: $i) { event { id } userErrors { code } } }`;

describe('two API instances on one database', () => {
  it('share everything through the database: writes through one are read through the other, and the audit chain stays valid', async () => {
    // On the embedded database the second instance connects through the first one's socket server.
    const second = await startTestApp({ databaseUrl: t.db.url, dataDir: t.config.dataDir, authSecret: undefined });
    try {
      const people = Array.from({ length: 10 }, () => factory.user());
      const ids = await ingest(t, people);
      const results = await Promise.all(
        people.map((p, i) => (i % 2 ? t : second).gql(RECORD, { i: { userId: ids[p.externalId], scope: 'ALL_AI_TRAINING' } })),
      );
      expect(results.every((r) => !r.errors && r.data.objectionRecord.userErrors.length === 0)).toBe(true);
      for (const p of people.slice(0, 3)) {
        const state = ok(await second.gql(`query($u: ID!) { consentState(userId: $u) { objectedScopes } }`, { u: ids[p.externalId] }));
        expect(state.consentState.objectedScopes).toEqual(['ALL_AI_TRAINING']);
      }
      expect(ok(await second.gql(`{ auditChainVerification { valid } }`, {}, Role.AUDITOR)).auditChainVerification.valid).toBe(true);
    } finally {
      await second.close();
    }
  });
});

const onPostgres = process.env.DATABASE_URL ? describe : describe.skip;
onPostgres('faults (PostgreSQL server only: PGlite has no backends to terminate)', () => {
  it('fails a request whose connection is killed with a retryable error, writes nothing, and keeps serving', async () => {
    const u = factory.user();
    const ids = await ingest(t, [u]);
    const holder = new Client({ connectionString: t.config.databaseUrl });
    await holder.connect();
    const counts = async () =>
      (await t.sql(`SELECT (SELECT count(*) FROM consent_events)::int AS e, (SELECT count(*) FROM audit_events)::int AS a`))[0];
    const before = await counts();
    try {
      // Hold the person's ledger lock so that the mutation blocks inside its transaction, then kill its connection.
      await holder.query('BEGIN');
      await holder.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`consent:${ids[u.externalId]}`]);
      const pending = t.gql(RECORD, { i: { userId: ids[u.externalId], scope: 'PUBLIC_CONTENT' } });
      let victim: number | undefined;
      for (let i = 0; i < 100 && !victim; i++) {
        await new Promise((r) => setTimeout(r, 50));
        const [row] = (
          await holder.query(
            `SELECT pid FROM pg_stat_activity WHERE query LIKE '%pg_advisory_xact_lock(hashtext%' AND state = 'active' AND pid <> pg_backend_pid()`,
          )
        ).rows;
        victim = row?.pid;
      }
      expect(victim).toBeDefined();
      await holder.query('SELECT pg_terminate_backend($1::int)', [victim]); // ::int: Citus adds a bigint (global pid) overload
      const res = await pending;
      expect(res.status).toBeLessThan(600);
      expect(res.errors?.[0].extensions).toMatchObject({ code: 'SERVICE_UNAVAILABLE', retryable: true });
      expect(JSON.stringify(res)).not.toMatch(/terminat|pg_|SQL/i);
    } finally {
      await holder.query('ROLLBACK').catch(() => undefined);
      await holder.end();
    }
    expect(await counts()).toEqual(before);
    const retry = ok(await t.gql(RECORD, { i: { userId: ids[u.externalId], scope: 'PUBLIC_CONTENT' } }));
    expect(retry.objectionRecord.userErrors).toEqual([]);
    expect((await counts()).e).toBe(before.e + 1);
  });

  it('answers SERVICE_UNAVAILABLE, never INTERNAL_SERVER_ERROR, when a connection dies between two statements of a mutation', async () => {
    // A killer terminates every backend of this database that sits idle inside a transaction (between two statements
    // of a mutation, while Node works) while mutations run one after another.
    const killer = new Client({ connectionString: t.config.databaseUrl });
    await killer.connect();
    let stop = false;
    let killed = 0;
    const killing = (async () => {
      while (!stop) {
        const r = await killer.query(`SELECT pg_terminate_backend(pid::int) FROM pg_stat_activity
          WHERE datname = current_database() AND state = 'idle in transaction' AND pid <> pg_backend_pid()`);
        killed += r.rowCount ?? 0;
      }
    })();
    const codes = new Map<string, number>();
    const acknowledged: string[] = [];
    const refused: string[] = [];
    try {
      const deadline = Date.now() + 20_000;
      for (let i = 0; i < 400 && Date.now() < deadline && killed < 15; i++) {
        const people = Array.from({ length: 20 }, () => factory.user());
        const res = await t.gql(
          `mutation($input: UsersIngestInput!) { usersIngest(input: $input) { createdCount userErrors { code } } }`,
          { input: { users: people } },
          Role.INGEST_SERVICE,
        );
        const code = res.errors?.[0]?.extensions?.code ?? 'OK';
        codes.set(code, (codes.get(code) ?? 0) + 1);
        if (code !== 'OK') expect(res.errors?.[0].extensions).toMatchObject({ code: 'SERVICE_UNAVAILABLE', retryable: true });
        (code === 'OK' ? acknowledged : refused).push(...people.map((p) => p.externalId));
      }
    } finally {
      stop = true;
      await killing;
      await killer.end();
    }
    expect(killed).toBeGreaterThan(0);
    expect(codes.get('INTERNAL_SERVER_ERROR')).toBeUndefined();
    expect(codes.get('SERVICE_UNAVAILABLE')).toBeGreaterThan(0);
    // All or nothing: every acknowledged person is there, no refused one is.
    const stored = async (ids: string[]) =>
      (await t.sql(`SELECT count(*)::int AS n FROM users WHERE external_id = ANY($1::text[])`, [ids]))[0].n;
    expect(await stored(acknowledged)).toBe(acknowledged.length);
    expect(await stored(refused)).toBe(0);
    // Still serving, and every acknowledged write is in an intact audit chain.
    expect(ok(await t.gql(`{ auditChainVerification { valid } }`, {}, Role.AUDITOR)).auditChainVerification.valid).toBe(true);
  });
});
