import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Role } from '../../src/common/auth';
import { createContext } from '../../src/context';
import { runAudited } from '../../src/modules/audit/audited-mutation';
import { eventHash } from '../../src/modules/audit/audit.service';
import { utcMicros } from '../../src/modules/audit';
import { factory, freshDatabaseConfig, ingest, ok, runCli, startFreshTestApp, startTestApp, TestApp, useTestApp } from '../helpers';

/**
 * Tampering by someone with full control of the database (a superuser: triggers disabled, hashes recomputed) but
 * without the audit signing key or the checkpoint files. Each scenario gets a database of its own, is checked through
 * GraphQL while the service runs, then through `aidg audit verify` (the embedded database has one writer at a time).
 */
const VERIFY = `{ auditChainVerification { valid checkedEvents firstBrokenEventId problems unboundLedgerEventIds
  checkpoint { lastEventId eventCount } eventsAfterCheckpoint } }`;
const RECORD = `mutation($i: ObjectionInput!) { objectionRecord(input: $i) { event { id } userErrors { code } } }`;

type Fresh = Awaited<ReturnType<typeof freshDatabaseConfig>>;

/** Writes a few audited mutations of every kind that touches the ledger: ingests, objections, a bulk import. */
async function activity(t: TestApp): Promise<Record<string, string>> {
  const people = Array.from({ length: 4 }, () => factory.user());
  const ids = await ingest(t, people);
  for (const p of people.slice(0, 2))
    expect(ok(await t.gql(RECORD, { i: { userId: ids[p.externalId], scope: 'ALL_AI_TRAINING' } })).objectionRecord.userErrors).toEqual([]);
  const imported = ok(
    await t.gql(`mutation($i: ObjectionsImportInput!) { objectionsImport(input: $i) { importedCount userErrors { code } } }`, {
      i: { rows: people.slice(2).map((p) => ({ externalUserId: p.externalId, scope: 'PUBLIC_CONTENT' })) },
    }),
  );
  expect(imported.objectionsImport.importedCount).toBe(2);
  return ids;
}

/** Runs SQL as a superuser would: with every user trigger of `table` off. */
async function asSuperuser(t: TestApp, table: string, ...statements: [string, unknown[]?][]): Promise<void> {
  await t.sql(`ALTER TABLE ${table} DISABLE TRIGGER USER`);
  try {
    for (const [sql, params] of statements) await t.sql(sql, params);
  } finally {
    await t.sql(`ALTER TABLE ${table} ENABLE TRIGGER USER`);
  }
}

/**
 * A database with activity, a signed checkpoint (taken with the CLI, the service stopped) and two more events after
 * it; then `tamper` runs, and the verification is read through GraphQL and through the CLI.
 */
async function scenario(tamper: (t: TestApp) => Promise<unknown>, options: { checkpointAfter?: boolean } = {}) {
  const fresh: Fresh = await freshDatabaseConfig();
  const env = { DATA_DIR: fresh.config.dataDir, DATABASE_URL: fresh.config.databaseUrl ?? '', LOG_LEVEL: 'silent' };
  try {
    let t = await startTestApp(fresh.config);
    await activity(t);
    expect(ok(await t.gql(VERIFY, {}, Role.AUDITOR)).auditChainVerification.valid).toBe(true);
    await t.close();
    const checkpoint = runCli(['audit', 'checkpoint'], env);
    expect(checkpoint.stdout).toMatch(/^audit checkpoint: signed event \d+ \(\d+ events\)/m);
    expect(checkpoint.code).toBe(0);
    t = await startTestApp(fresh.config);
    let tampered: unknown;
    let graphql: any;
    try {
      await ingest(t, [factory.user(), factory.user()]);
      expect(ok(await t.gql(VERIFY, {}, Role.AUDITOR)).auditChainVerification).toMatchObject({ valid: true, eventsAfterCheckpoint: 1 });
      tampered = await tamper(t);
      graphql = ok(await t.gql(VERIFY, {}, Role.AUDITOR)).auditChainVerification;
    } finally {
      await t.close();
    }
    const cli = runCli(['audit', 'verify'], env);
    const checkpointAfter = options.checkpointAfter ? runCli(['audit', 'checkpoint'], env) : undefined;
    return { graphql, cli, tampered, checkpointAfter };
  } finally {
    await fresh.drop();
  }
}

/** What an attacker does after changing an event: recompute that hash and every later one, so that the links hold. */
async function rehashFrom(t: TestApp, fromId: string): Promise<void> {
  const [before] = await t.sql(`SELECT hash FROM audit_events WHERE id < $1 ORDER BY id DESC LIMIT 1`, [fromId]);
  let prev: string = before.hash;
  const rows = await t.sql(`SELECT *, ${utcMicros('occurred_at')} AS occurred_at_us FROM audit_events WHERE id >= $1 ORDER BY id`, [
    fromId,
  ]);
  const statements: [string, unknown[]][] = [];
  for (const row of rows) {
    const hash = eventHash(prev, row);
    statements.push([`UPDATE audit_events SET prev_hash = $2, hash = $3 WHERE id = $1`, [row.id, prev, hash]]);
    prev = hash;
  }
  // Hashes are unique: move every row out of the way first.
  await asSuperuser(t, 'audit_events', [`UPDATE audit_events SET hash = 'x' || id WHERE id >= $1`, [fromId]], ...statements);
}

describe('tamper evidence against a database superuser', () => {
  it('detects the newest events deleted (the chain truncated)', async () => {
    const { graphql, cli } = await scenario(async (t) => {
      const [{ id }] = await t.sql(`SELECT max(id) - 2 AS id FROM audit_events`);
      await asSuperuser(t, 'audit_events', [`DELETE FROM audit_events WHERE id > $1`, [id]]);
    });
    expect(graphql.valid).toBe(false);
    expect(graphql.problems.join('\n')).toMatch(/checkpoint/);
    expect(cli.code).toBe(1);
    expect(cli.stdout).toMatch(/^audit verify: BROKEN/m);
  });

  it('detects one event rewritten and every later hash recomputed, and refuses to sign the rewritten chain', async () => {
    const { graphql, cli, checkpointAfter } = await scenario(
      async (t) => {
        const [victim] = await t.sql(`SELECT id FROM audit_events WHERE operation = 'objectionRecord' ORDER BY id LIMIT 1`);
        await asSuperuser(t, 'audit_events', [`UPDATE audit_events SET actor_subject = 'someone-else' WHERE id = $1`, [victim.id]]);
        await rehashFrom(t, victim.id);
        return victim.id;
      },
      { checkpointAfter: true },
    );
    expect(graphql.valid).toBe(false);
    expect(graphql.firstBrokenEventId).toEqual(graphql.checkpoint.lastEventId);
    expect(graphql.problems.join('\n')).toMatch(/checkpoint/);
    expect(cli.code).toBe(1);
    expect(cli.stdout).toMatch(/^audit verify: BROKEN/m);
    expect(checkpointAfter).toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/refusing to checkpoint: event \d+ no longer matches/),
    });
  });

  it('detects the checkpoints deleted from the database along with the newest events', async () => {
    const { graphql, cli } = await scenario(async (t) => {
      const [{ id }] = await t.sql(`SELECT max(id) - 2 AS id FROM audit_events`);
      await asSuperuser(t, 'audit_events', [`DELETE FROM audit_events WHERE id > $1`, [id]]);
      await asSuperuser(t, 'audit_checkpoints', [`DELETE FROM audit_checkpoints`]);
    });
    expect(graphql.valid).toBe(false);
    expect(graphql.problems.join('\n')).toMatch(/missing from the database/);
    expect(cli.code).toBe(1);
  });

  it("detects a consent ledger row inserted behind the service's back", async () => {
    const { graphql, cli, tampered } = await scenario(async (t) => {
      const [row] = await t.sql(
        `INSERT INTO consent_events (user_id, type, scope, effective_at, channel, actor)
         SELECT id, 'OBJECTION_WITHDRAWN', 'ALL_AI_TRAINING', now(), 'SETTINGS', 'test-privacy_officer' FROM users ORDER BY external_id LIMIT 1 RETURNING id`,
      );
      return row.id;
    });
    expect(graphql.valid).toBe(false);
    expect(graphql.unboundLedgerEventIds).toEqual([tampered]);
    expect(cli.code).toBe(1);
    expect(cli.stdout).toMatch(/^audit verify: BROKEN/m);
    expect(cli.stderr).toMatch(new RegExp(`consent event ${tampered} `));
  });

  it('detects a ledger row of a bulk import altered, and one deleted', async () => {
    const { graphql, cli } = await scenario(async (t) => {
      // (new values computed first: Citus refuses time arithmetic on a column inside an UPDATE of a reference table)
      const rows = await t.sql(
        `SELECT id, (effective_at - interval '1 day')::text AS earlier FROM consent_events WHERE scope = 'PUBLIC_CONTENT' ORDER BY id`,
      );
      await asSuperuser(
        t,
        'consent_events',
        [`UPDATE consent_events SET effective_at = $2::timestamptz WHERE id = $1`, [rows[0].id, rows[0].earlier]],
        [`DELETE FROM consent_events WHERE id = $1`, [rows[1].id]],
      );
    });
    expect(graphql.valid).toBe(false);
    expect(graphql.problems.join('\n')).toMatch(/ledger/);
    expect(cli.code).toBe(1);
  });

  it('detects a sub-millisecond change of occurred_at', async () => {
    const { graphql, cli, tampered } = await scenario(async (t) => {
      const [victim] = await t.sql(
        `SELECT id, (occurred_at + interval '1 microsecond')::text AS later FROM audit_events ORDER BY id DESC LIMIT 1`,
      );
      await asSuperuser(t, 'audit_events', [
        `UPDATE audit_events SET occurred_at = $2::timestamptz WHERE id = $1`,
        [victim.id, victim.later],
      ]);
      return victim.id;
    });
    expect(graphql).toMatchObject({ valid: false, firstBrokenEventId: tampered });
    expect(cli.code).toBe(1);
  });
});

describe('checkpoints', () => {
  it('are taken by the service on its interval, signed and kept in the database and the file, and stop with it', async () => {
    // The file outlives the database (closing drops an embedded database's folder).
    let rows: { id: string; n: number }[] = [];
    const auditCheckpointDir = fs.mkdtempSync(path.join(os.tmpdir(), 'aidg-checkpoints-'));
    const t = await startFreshTestApp({ auditCheckpointIntervalSeconds: 1, auditCheckpointDir });
    const file = path.join(t.config.auditCheckpointDir, 'audit-checkpoints.ndjson');
    try {
      await activity(t);
      const [{ head, n }] = await t.sql(`SELECT max(id)::text AS head, count(*)::int AS n FROM audit_events`);
      // Checkpoints may also have been signed while the activity ran; wait for one of the head.
      for (let i = 0; i < 50 && rows.at(-1)?.id !== head; i++) {
        await new Promise((r) => setTimeout(r, 200));
        rows = await t.sql(`SELECT last_event_id::text AS id, event_count::int AS n FROM audit_checkpoints ORDER BY id`);
      }
      expect(rows.at(-1)).toEqual({ id: head, n });
      expect(ok(await t.gql(VERIFY, {}, Role.AUDITOR)).auditChainVerification).toMatchObject({
        valid: true,
        checkpoint: { lastEventId: head, eventCount: n },
        eventsAfterCheckpoint: 0,
      });
    } finally {
      await t.close();
    }
    const lines = fs.readFileSync(file, 'utf8');
    expect(lines.trim().split('\n')).toHaveLength(rows.length);
    await new Promise((r) => setTimeout(r, 1500));
    expect(fs.readFileSync(file, 'utf8')).toBe(lines);
  });

  it('are refused when signed by a key that is not trusted, and trusted again through AUDIT_PREVIOUS_PUBLIC_KEYS', async () => {
    const fresh: Fresh = await freshDatabaseConfig();
    const env = { DATA_DIR: fresh.config.dataDir, DATABASE_URL: fresh.config.databaseUrl ?? '', LOG_LEVEL: 'silent' };
    try {
      const t = await startTestApp(fresh.config);
      await activity(t);
      await t.close();
      expect(runCli(['audit', 'checkpoint'], env).code).toBe(0);
      const old = crypto.createPrivateKey(fs.readFileSync(path.join(fresh.config.dataDir, 'audit-signing-key.pem'), 'utf8'));
      const rotated = {
        ...env,
        AUDIT_SIGNING_KEY: crypto.generateKeyPairSync('ed25519').privateKey.export({ format: 'der', type: 'pkcs8' }).toString('base64'),
      };
      const untrusted = runCli(['audit', 'verify'], rotated);
      expect(untrusted.code).toBe(1);
      expect(untrusted.stderr).toMatch(
        /is signed by key [0-9a-f]{16}, which is neither AUDIT_SIGNING_KEY nor one of AUDIT_PREVIOUS_PUBLIC_KEYS/,
      );
      const previous = crypto.createPublicKey(old).export({ format: 'pem', type: 'spki' }).toString();
      const trusted = runCli(['audit', 'verify'], { ...rotated, AUDIT_PREVIOUS_PUBLIC_KEYS: previous });
      expect(trusted.stdout).toMatch(/^audit verify: valid/m);
      expect(trusted.code).toBe(0);
    } finally {
      await fresh.drop();
    }
  });
});

describe('the audit writer and its verifier', () => {
  const t = useTestApp({ fresh: true });

  it('never writes an event that does not verify, whatever the actor and the input', async () => {
    const deps = { dataSource: t.db.dataSource, services: t.services(), config: t.config, log: t.app.log };
    const subjects: unknown[] = [42, '0042', 'ünïcødé 👩‍💻', '\ud800 lone', { id: 'object' }, 'x'.repeat(300)];
    const inputs: unknown[] = [
      {
        n: '007',
        nested: { a: { b: [1, { c: null, d: undefined }] } },
        big: 2 ** 53 + 1,
        huge: 1e21,
        tiny: 5e-324,
        neg0: -0,
        float: 0.1 + 0.2,
      },
      {
        when: new Date('2025-02-03T04:05:06.789Z'),
        bigint: 10n ** 20n,
        list: [undefined, NaN, Infinity],
        '': 'empty key',
        ключ: 'значение',
      },
      { unicode: 'e\u0301 \u00e9 👩‍💻 \u0000 nul \ud800 lone \udc00', text: 'redacted', deep: Array.from({ length: 60 }, (_, i) => ({ i })) },
      'a plain string',
      null,
    ];
    for (const subject of subjects) {
      for (const input of inputs) {
        const ctx = createContext(deps, { subject: subject as string, roles: [Role.PRIVACY_OFFICER] });
        await runAudited(ctx, 'awkwardInput', input, async () => ({ payload: undefined, targetIds: ['\ud800', 'a'] }));
      }
    }
    const v = ok(await t.gql(VERIFY, {}, Role.AUDITOR)).auditChainVerification;
    expect(v).toMatchObject({ valid: true, firstBrokenEventId: null, problems: [] });
    expect(v.checkedEvents).toBe(subjects.length * inputs.length);
  });
});
