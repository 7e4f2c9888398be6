import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import { jwtVerify } from 'jose';
import { Client } from 'pg';
import { freshDatabaseConfig, ok, onCitus, startTestApp } from './helpers';
import { Role } from '../src/common/auth';

const CLI = path.resolve(__dirname, '..', 'dist', 'src', 'cli', 'index.js');
const MAIN = path.resolve(__dirname, '..', 'dist', 'src', 'main.js');

let fresh: Awaited<ReturnType<typeof freshDatabaseConfig>>;
let env: NodeJS.ProcessEnv;
beforeAll(async () => {
  fresh = await freshDatabaseConfig();
  env = { ...process.env, DATA_DIR: fresh.config.dataDir, DATABASE_URL: fresh.config.databaseUrl ?? '', LOG_LEVEL: 'silent' };
});
afterAll(async () => fresh?.drop());

const run = (args: string[], extraEnv: NodeJS.ProcessEnv = {}) => {
  const r = spawnSync(process.execPath, [CLI, ...args], { env: { ...env, ...extraEnv }, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
};

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
    for (const cmd of [[], ['token'], ['seed'], ['objections'], ['objections', 'import'], ['dataset'], ['dataset', 'export'], ['audit'], ['audit', 'verify'], ['db'], ['db', 'migrate'], ['db', 'citus-check']]) {
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
    for (let i = 1; i <= 30; i++) lines.push(`cli-u${i},${['ALL_AI_TRAINING', 'PUBLIC_CONTENT', 'AI_INTERACTIONS'][i % 3]},2025-0${1 + (i % 9)}-01T00:00:00Z,OBJECTION_FORM,paper form ${i}`);
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
    if (fresh.config.databaseUrl) expect((await sql(`SELECT count(*)::int AS n FROM consent_events WHERE channel = 'OBJECTION_FORM' AND reason LIKE 'paper form%'`))[0].n).toBe(0);

    const imported = run(['objections', 'import', good]);
    expect(imported.stderr).toMatch(/objections import: \d+\/\d+ bytes \(100%\)/);
    expect(imported).toMatchObject({ code: 0 });
    expect(imported.stdout).toMatch(/^objections import: imported 30 objections/m);
    if (fresh.config.databaseUrl) expect((await sql(`SELECT count(*)::int AS n FROM consent_events WHERE reason LIKE 'paper form%'`))[0].n).toBe(30);

    const verified = countEvents();
    expect(verified.code).toBe(0);
    expect(verified.stdout).toMatch(/^audit verify: valid, 2 events checked$/m);
  });

  it('exports a dataset to a file whose digest matches the manifest', async () => {
    // Build a dataset through the service on the same database (the CLI process has exited, so even the embedded
    // database is free), then export it with the CLI.
    const app = await startTestApp({ databaseUrl: fresh.config.databaseUrl, dataDir: fresh.config.dataDir });
    let dataset: any;
    try {
      dataset = ok(await app.gql(`mutation { datasetRequest(input: { name: "cli-export" }) { dataset { id memberCount manifestDigest } } }`, {}, Role.ML_ENGINEER)).datasetRequest.dataset;
    } finally {
      await app.close();
    }
    expect(dataset.memberCount).toBeGreaterThan(0);
    const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'aidg-export-')), 'ds.ndjson');
    const r = run(['dataset', 'export', dataset.id, '--out', out]);
    expect(r.stdout).toMatch(new RegExp(`^dataset export: ${dataset.memberCount} members of cli-export v1 to .*; digest ${dataset.manifestDigest} matches the manifest$`, 'm'));
    expect(r.code).toBe(0);
    const lines = fs.readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const digest = crypto.createHash('sha256').update(lines.map((l) => `${l.id}\t${l.contentHash}\n`).join('')).digest('hex');
    expect(digest).toBe(dataset.manifestDigest);
    expect(lines[0].text).toEqual(expect.any(String));
    const missing = run(['dataset', 'export', '00000000-0000-0000-0000-000000000000', '--out', out]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/NOT_FOUND/);
  });

  it('applies migrations and checks the schema, dataset partitions included, against the Citus layout', () => {
    const migrate = run(['db', 'migrate']);
    expect(migrate.stdout).toMatch(/^db migrate: up to date$/m);
    expect(migrate.code).toBe(0);
    for (const args of [['db', 'citus-check'], ['db', 'citus-check', '--rules-only']]) {
      const check = run(args);
      // On a Citus coordinator (without --rules-only) the actual layout is compared too.
      const laidOut = onCitus && args.length === 2;
      expect(check.stdout).toMatch(laidOut ? /^db citus-check: the tables are laid out as planned$/m : /^db citus-check: the schema can be distributed as planned$/m);
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
    const r = spawnSync(process.execPath, [MAIN], { env: { ...env, NODE_ENV: 'production', AUTH_SECRET: '' }, encoding: 'utf8', timeout: 60_000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/AUTH_SECRET is required when NODE_ENV=production/);
    const badPort = spawnSync(process.execPath, [MAIN], { env: { ...env, PORT: 'eighty' }, encoding: 'utf8', timeout: 60_000 });
    expect(badPort.status).toBe(2);
    expect(badPort.stderr).toMatch(/PORT must be an integer/);
  });
});
