import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import { decodeJwt, jwtVerify } from 'jose';
import { Client } from 'pg';
import { freshDatabaseConfig, ok, onCitus, runCli, startTestApp } from '../helpers';
import { Role } from '../../src/common/auth';

const MAIN = path.resolve(__dirname, '..', '..', 'dist', 'src', 'main.js');

let fresh: Awaited<ReturnType<typeof freshDatabaseConfig>>;
let env: NodeJS.ProcessEnv;
beforeAll(async () => {
  fresh = await freshDatabaseConfig();
  // The tests read the secret the CLI generates in DATA_DIR: an AUTH_SECRET (or NODE_ENV) from the caller's shell must
  // not change that.
  env = {
    ...process.env,
    DATA_DIR: fresh.config.dataDir,
    DATABASE_URL: fresh.config.databaseUrl ?? '',
    LOG_LEVEL: 'silent',
    AUTH_SECRET: '',
    NODE_ENV: 'development',
  };
});
afterAll(async () => fresh?.drop());

const run = (args: string[], extraEnv: NodeJS.ProcessEnv = {}) => runCli(args, { ...env, ...extraEnv });

/** Runs SQL on the CLI's database (the embedded one is only opened by the CLI itself, so use the CLI for that). */
async function sql(text: string): Promise<any[]> {
  if (!fresh.config.databaseUrl) throw new Error('sql() needs DATABASE_URL');
  const c = new Client({ connectionString: fresh.config.databaseUrl });
  await c.connect();
  try {
    return (await c.query(text)).rows;
  } finally {
    await c.end();
  }
}

describe('cli', () => {
  it('has --help on every command', () => {
    for (const cmd of [
      [],
      ['token'],
      ['seed'],
      ['objections'],
      ['objections', 'import'],
      ['dataset'],
      ['dataset', 'export'],
      ['dataset', 'list'],
      ['dataset', 'request'],
      ['dataset', 'remediate'],
      ['audit'],
      ['audit', 'verify'],
      ['audit', 'checkpoint'],
      ['db'],
      ['db', 'migrate'],
      ['db', 'citus-check'],
    ]) {
      const r = run([...cmd, '--help']);
      expect({ cmd, code: r.code }).toEqual({ cmd, code: 0 });
      expect(r.stdout).toMatch(/Usage: aidg/);
    }
    const unknown = run(['frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown command/);
  });

  it('prints a token and nothing else on stdout', async () => {
    const r = run(['token', '--role', 'PRIVACY_OFFICER', '--subject', 'ana']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+\n$/);
    const secret = new TextEncoder().encode(fs.readFileSync(path.join(env.DATA_DIR!, 'auth-secret'), 'utf8').trim());
    const { payload } = await jwtVerify(r.stdout.trim(), secret);
    expect(payload).toMatchObject({ sub: 'ana', roles: ['PRIVACY_OFFICER'] });
    const day = run(['token', '--role', 'AUDITOR', '--subject', 'ana', '--expires', '13h']);
    expect(day.code).toBe(2);
    expect(day.stdout).toBe('');
    expect(day.stderr).toMatch(/token lifetime "13h" \(13h\) exceeds the maximum of 12h \(TOKEN_MAX_LIFETIME\)/);
    expect(run(['token', '--role', 'AUDITOR', '--subject', 'ana', '--expires', '2h'], { TOKEN_MAX_LIFETIME: '1h' }).stderr).toMatch(
      /exceeds the maximum of 1h/,
    );
    const short = run(['token', '--role', 'AUDITOR', '--subject', 'ana', '--expires', '30m'], { TOKEN_MAX_LIFETIME: '1h' });
    expect(short.code).toBe(0);
    const claims = decodeJwt(short.stdout.trim());
    expect(claims.exp! - claims.iat!).toBe(1800);
    const bad = run(['token', '--role', 'BOSS', '--subject', 'x']);
    expect(bad.code).toBe(2);
    expect(bad.stdout).toBe('');
    expect(bad.stderr).toMatch(/unknown role BOSS/);
  });

  it('seeds, imports a CSV all or nothing with errors that name the line, and verifies the audit chain', async () => {
    const seeded = run(['seed', '--users', '40', '--items', '200', '--objections', '5', '--seed', '7', '--prefix', 'cli-']);
    expect(seeded.code).toBe(0);
    expect(seeded.stdout).toMatch(/^seed: wrote 40 users, 200 items, 5 objections/m);
    // The same prefix again would give existing external ids to other authors: refused, nothing written.
    const again = run(['seed', '--users', '40', '--items', '200', '--objections', '5', '--seed', '8', '--prefix', 'cli-']);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/prefix "cli-" exist already.*\[CONFLICT\]/);

    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aidg-csv-'));
    const good = path.join(dir, 'good.csv');
    const bad = path.join(dir, 'bad.csv');
    const lines = ['external_user_id,scope,effective_at,channel,reason'];
    for (let i = 1; i <= 30; i++)
      lines.push(
        `cli-u${i},${['ALL_AI_TRAINING', 'PUBLIC_CONTENT', 'AI_INTERACTIONS'][i % 3]},2025-0${1 + (i % 9)}-01T00:00:00Z,OBJECTION_FORM,paper form ${i}`,
      );
    fs.writeFileSync(good, lines.join('\n') + '\n');
    const broken = [...lines];
    broken[4] = 'cli-u4,EVERYTHING,2025-01-01T00:00:00Z,OBJECTION_FORM,x';
    broken[9] = 'no-such-user,ALL_AI_TRAINING,2025-01-01T00:00:00Z,,x';
    fs.writeFileSync(bad, broken.join('\n') + '\n');

    const countEvents = () => run(['audit', 'verify']);
    const refused = run(['objections', 'import', bad]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/line 5, column scope/);
    expect(refused.stderr).toMatch(/line 10, column external_user_id: no user "no-such-user"/);
    expect(refused.stdout).toMatch(/^objections import: refused, 2 error\(s\) in 30 rows read; nothing was written$/m);
    if (fresh.config.databaseUrl)
      expect(
        (await sql(`SELECT count(*)::int AS n FROM consent_events WHERE channel = 'OBJECTION_FORM' AND reason LIKE 'paper form%'`))[0].n,
      ).toBe(0);

    const imported = run(['objections', 'import', good]);
    expect(imported.stderr).toMatch(/objections import: \d+\/\d+ bytes \(100%\)/);
    expect(imported).toMatchObject({ code: 0 });
    expect(imported.stdout).toMatch(/^objections import: imported 30 objections/m);
    if (fresh.config.databaseUrl)
      expect((await sql(`SELECT count(*)::int AS n FROM consent_events WHERE reason LIKE 'paper form%'`))[0].n).toBe(30);

    const verified = countEvents();
    expect(verified.code).toBe(0);
    expect(verified.stdout).toMatch(/^audit verify: valid, 2 events checked$/m);
  });

  it('recognises rows imported before, refuses a missing file with exit 2, and shows the progress of audit verify', async () => {
    // Users cli-u31..cli-u40 come from the seed of the test above.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aidg-csv-'));
    const header = 'external_user_id,scope,effective_at,channel,reason';
    const dated = [
      'cli-u31,ALL_AI_TRAINING,2025-03-01T00:00:00Z,OBJECTION_FORM,letter 31',
      'cli-u32,PUBLIC_CONTENT,2025-03-01T00:00:00Z,,letter 32',
    ];
    const undated = 'cli-u33,AI_INTERACTIONS,,OBJECTION_FORM,letter 33';
    const first = path.join(dir, 'first.csv');
    fs.writeFileSync(first, [header, ...dated, undated].join('\n') + '\n');
    const letters = async () => (await sql(`SELECT count(*)::int AS n FROM consent_events WHERE reason LIKE 'letter %'`))[0].n;

    const once = run(['objections', 'import', first]);
    expect(once.stdout).toMatch(/^objections import: imported 3 objections from .*first\.csv, 0 already in force$/m);
    expect(once.code).toBe(0);
    const twice = run(['objections', 'import', first]);
    expect(twice.stdout).toMatch(/^objections import: imported 0 objections from .*first\.csv, 3 already in force$/m);
    expect(twice.code).toBe(0);
    if (fresh.config.databaseUrl) expect(await letters()).toBe(3);

    // A dated row is the same objection in any file; an undated one means "now", so in another file it is a new one.
    const second = path.join(dir, 'second.csv');
    fs.writeFileSync(
      second,
      [header, dated[1], undated, 'cli-u34,ALL_AI_TRAINING,2025-04-01T00:00:00Z,OBJECTION_FORM,letter 34'].join('\n') + '\n',
    );
    const overlap = run(['objections', 'import', second]);
    expect(overlap.stdout).toMatch(/^objections import: imported 2 objections from .*second\.csv, 1 already in force$/m);
    if (fresh.config.databaseUrl) expect(await letters()).toBe(5);

    const missing = run(['objections', 'import', path.join(dir, 'nope.csv')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^error: cannot read .*nope\.csv: no such file$/m);
    expect(missing.stderr).not.toMatch(/ENOENT/);
    expect(missing.stdout).toBe('');

    const verified = run(['audit', 'verify']);
    expect(verified.stderr).toMatch(/^audit verify: (\d+)\/\1 events \(100%\)/m);
    expect(verified.stdout).toMatch(/^audit verify: valid, \d+ events checked$/m);
    expect(verified.code).toBe(0);
  });

  it('exports a dataset to a file whose digest matches the manifest', async () => {
    // Build a dataset through the service on the same database (the CLI process has exited, so even the embedded
    // database is free), then export it with the CLI.
    const app = await startTestApp({ databaseUrl: fresh.config.databaseUrl, dataDir: fresh.config.dataDir });
    let dataset: any;
    try {
      dataset = ok(
        await app.gql(
          `mutation { datasetRequest(input: { name: "cli-export" }) { dataset { id memberCount manifestDigest } } }`,
          {},
          Role.ML_ENGINEER,
        ),
      ).datasetRequest.dataset;
    } finally {
      await app.close();
    }
    expect(dataset.memberCount).toBeGreaterThan(0);
    const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'aidg-export-')), 'ds.ndjson');
    const r = run(['dataset', 'export', dataset.id, '--out', out]);
    expect(r.stdout).toMatch(
      new RegExp(
        `^dataset export: ${dataset.memberCount} members of cli-export v1 to .*; digest ${dataset.manifestDigest} matches the manifest$`,
        'm',
      ),
    );
    expect(r.code).toBe(0);
    const lines = fs
      .readFileSync(out, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const digest = crypto
      .createHash('sha256')
      .update(lines.map((l) => `${l.id}\t${l.contentHash}\n`).join(''))
      .digest('hex');
    expect(digest).toBe(dataset.manifestDigest);
    expect(lines[0].text).toEqual(expect.any(String));
    const missing = run(['dataset', 'export', '00000000-0000-0000-0000-000000000000', '--out', out]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/NOT_FOUND/);
  });

  it('requests, lists and remediates datasets through the same services', () => {
    const requested = run(['dataset', 'request', '--name', 'cli-req', '--purpose', 'cli test', '--actor', 'alice']);
    expect(requested.code).toBe(0);
    const m = /^dataset request: (\S+) cli-req v1, (\d+) members of \d+ candidates, digest [0-9a-f]{64}$/m.exec(requested.stdout);
    expect(m).not.toBeNull();
    const [, id, members] = m!;
    expect(Number(members)).toBeGreaterThan(0);
    // Objections now from every seeded person taint the version (after the export test, which needs members).
    const csv = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'aidg-csv-')), 'all.csv');
    fs.writeFileSync(
      csv,
      [
        'external_user_id,scope,effective_at,channel,reason',
        ...Array.from({ length: 40 }, (_, i) => `cli-u${i + 1},ALL_AI_TRAINING,,OBJECTION_FORM,all out`),
      ].join('\n') + '\n',
    );
    expect(run(['objections', 'import', csv]).code).toBe(0);

    const other = run(['dataset', 'remediate', id, '--actor', 'bob']);
    expect(other.code).toBe(1);
    expect(other.stderr).toMatch(/NOT_FOUND/);
    const remediated = run(['dataset', 'remediate', id, '--actor', 'alice']);
    expect(remediated.stdout).toMatch(
      new RegExp(`^dataset remediate: \\S+ cli-req v2, 0 members of \\d+ candidates, digest [0-9a-f]{64}; ${id} is superseded$`, 'm'),
    );
    expect(remediated.code).toBe(0);
    const again = run(['dataset', 'remediate', id, '--actor', 'alice']);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already superseded \[CONFLICT\]/);

    const list = run(['dataset', 'list', '--name', 'cli-req']);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(new RegExp(`^${id}\\s+cli-req\\s+v1\\s+SUPERSEDED\\s+${members}\\s+alice`, 'm'));
    expect(list.stdout).toMatch(/^\S+\s+cli-req\s+v2\s+ACTIVE\s+0\s+alice/m);
    expect(run(['dataset', 'request', '--name', 'bad name!']).code).toBe(1);
  });

  it('applies migrations and checks the schema, dataset partitions included, against the Citus layout', () => {
    const migrate = run(['db', 'migrate']);
    expect(migrate.stdout).toMatch(/^db migrate: up to date$/m);
    expect(migrate.code).toBe(0);
    for (const args of [
      ['db', 'citus-check'],
      ['db', 'citus-check', '--rules-only'],
    ]) {
      const check = run(args);
      // On a Citus coordinator (without --rules-only) the actual layout is compared too.
      const laidOut = onCitus && args.length === 2;
      expect(check.stdout).toMatch(
        laidOut ? /^db citus-check: the tables are laid out as planned$/m : /^db citus-check: the schema can be distributed as planned$/m,
      );
      expect(check.code).toBe(0);
    }
  });

  it('refuses a CSV with the wrong header', () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'aidg-csv-')), 'x.csv');
    fs.writeFileSync(file, 'user,scope\nu1,ALL_AI_TRAINING\n');
    const r = run(['objections', 'import', file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/line 1: the header must be external_user_id,scope,effective_at,channel,reason/);
  });

  it('refuses to start in production without AUTH_SECRET, with a clear message', () => {
    const r = spawnSync(process.execPath, [MAIN], {
      env: { ...env, NODE_ENV: 'production', AUTH_SECRET: '' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/AUTH_SECRET is required when NODE_ENV=production/);
    const badPort = spawnSync(process.execPath, [MAIN], { env: { ...env, PORT: 'eighty' }, encoding: 'utf8', timeout: 60_000 });
    expect(badPort.status).toBe(2);
    expect(badPort.stderr).toMatch(/PORT must be an integer/);
  });
});
